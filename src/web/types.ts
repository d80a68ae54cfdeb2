import type { PublicOutgoing } from '../shared/csv.js';

/** Shapes of the /api/v1 answers the Manager reads (see the OpenAPI document at /api/docs). */
export type { PublicOutgoing };

export interface Customer {
  id: number;
  email: string;
}

/** An account as /auth/me lists it: what the frame shows on every page of it. */
export interface AccountSummary {
  name: string;
  description: string;
  /** `disable`: the operator disabled the account (`relais account update --status disable`); it sends nothing. */
  status: 'enable' | 'disable';
  credits: number;
  timezone: string;
}

export interface Me {
  customer: Customer;
  csrfToken: string;
  accounts: AccountSummary[];
  /** This Relais' HTTPS port (OVH's npm clients use only HTTPS); null when HTTPS does not run. */
  httpsPort: number | null;
  /** The STOP mention this server appends (RELAIS_STOP_CLAUSE); absent from an older server (then the default one). */
  stopClause?: string;
}

export interface Account extends AccountSummary {
  defaultCountry: string;
  /** False: new messages are kept without their text. */
  storeText: boolean;
  /** Texts older than this many days are erased (null: never). */
  redactAfterDays: number | null;
  /** Messages older than this many days are deleted (null: kept). */
  retentionDays: number | null;
  /** Called on every status change of the SMS sent with no SMS user, or whose user has no URL of its own (null: none). */
  callbackUrl: string | null;
  createdAt: string;
}

export interface SmsUser {
  login: string;
  ipRestrictions: string[];
  quota: number | null;
  callbackUrl: string | null;
  createdAt: string;
}

export interface Sender {
  sender: string;
  description: string;
  status: 'enable' | 'disable' | 'refused' | 'waitingValidation';
  type: 'alpha' | 'numeric' | 'shortcode';
  createdAt: string;
}

export interface ApiToken {
  id: number;
  name: string;
  user: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface HistoryPage {
  data: PublicOutgoing[];
  nextCursor: string | null;
  prevCursor: string | null;
  total: number;
  totalIsExact: boolean;
}

export interface DeleteJob {
  id: number;
  status: 'running' | 'done' | 'failed';
  deleted: number;
  total: number | null;
  createdAt: string;
  finishedAt: string | null;
  error: string | null;
}

export interface DeleteResult {
  deleted?: number;
  refundedCredits?: number;
  job?: DeleteJob;
}

export interface SendReport {
  ids: number[];
  validReceivers: string[];
  invalidReceivers: string[];
  totalCreditsRemoved: number;
  tag: string;
  jobId: number;
  creditsLeft: number;
  parts: number;
  encoding: string;
}

/** POST …/outgoing/redact */
export interface RedactResult {
  redacted: number;
  pending: number[];
}

/** GET …/credit-changes */
export interface CreditChange {
  id: number;
  /** ISO 8601 in the account's timezone. */
  createdAt: string;
  delta: number;
  balanceAfter: number;
  reason: string | null;
  actor: string;
}

/** One access rule of an OVH consumer key: a method and a path under /1.0 (`*` stands for anything). */
export interface OvhRule {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
}

/** How long a consumer key works once validated (seconds), or null: until revoked. */
export type OvhValidity = 3600 | 86400 | 2592000 | null;

/** GET /ovh/applications */
export interface OvhApplication {
  id: number;
  /** The application key (AK), sent as X-Ovh-Application. */
  appKey: string;
  name: string;
  description: string;
  createdAt: string;
  /** How many validated consumer keys it has. */
  credentials: number;
}

/** GET /ovh/credentials: a consumer key the customer validated (never the key itself). */
export interface OvhCredential {
  id: number;
  application: { id: number; name: string; appKey: string };
  rules: OvhRule[];
  allowedIps: string[] | null;
  createdAt: string;
  validatedAt: string | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

/** GET /ovh/credential-requests/{token}: what an application asks for, as its validation page shows it. */
export interface OvhCredentialRequest {
  application: { name: string; description: string };
  rules: OvhRule[];
  allowedIps: string[] | null;
  redirection: string | null;
  status: 'pendingValidation' | 'validated' | 'refused' | 'expired';
  createdAt: string;
}
