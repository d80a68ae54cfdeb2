import type { OutgoingStatus } from './status.js';

/** Messages of one day (in the account's timezone), counted by status. */
export type DailyCounts = { day: string } & Record<OutgoingStatus, number>;

/**
 * Answer of `GET /api/v1/accounts/{account}/stats`: messages per day by status for the filtered period
 * (the same filters as the history list). Without `from`/`to`, the last 30 days of the account's
 * calendar up to today. Every day of the period is present, days without messages with zeros.
 */
export interface StatsResponse {
  /** The account's IANA timezone; `day` values are calendar days there. */
  timeZone: string;
  /** First and last day of the period, `YYYY-MM-DD`. */
  from: string;
  to: string;
  days: DailyCounts[];
}
