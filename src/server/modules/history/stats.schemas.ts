import { Type } from '@sinclair/typebox';
import { OUTGOING_STATUSES } from '../../../shared/status.js';

const Day = Type.String({ description: 'a calendar day in the account timezone, YYYY-MM-DD', pattern: '^\\d{4}-\\d{2}-\\d{2}$' });

/** One day: its date and how many messages of each status were created on it. */
export const DailyCountsSchema = Type.Object(
  {
    day: Day,
    ...Object.fromEntries(OUTGOING_STATUSES.map((s) => [s, Type.Integer({ minimum: 0, description: `messages now ${s}` })])),
  },
  { $id: 'DailyCounts' },
);

/** `StatsResponse` of src/shared/stats.ts. */
export const StatsSchema = Type.Object({
  timeZone: Type.String({ description: "the account's IANA timezone; days are calendar days there" }),
  from: Day,
  to: Day,
  days: Type.Array(DailyCountsSchema, { description: 'every day of the period, oldest first, days without messages with zeros' }),
});
