import type { Generated } from 'kysely';

/** Row shapes of every table (snake_case, epoch-millisecond times, booleans as 0/1). */

export interface CustomerRow {
  id: Generated<number>;
  email: string;
  password_hash: string;
  created_at: number;
}

export interface SessionRow {
  /** sha256 of the cookie value, hex. */
  id: string;
  customer_id: number;
  csrf_token: string;
  created_at: number;
  expires_at: number;
}

export interface AccountRow {
  id: Generated<number>;
  name: string;
  owner_id: number;
  description: string;
  status: string;
  credits: number;
  timezone: string;
  default_country: string;
  /** 0 = never store message texts (privacy). */
  store_text: number;
  /** Redact texts older than N days (null = never). */
  redact_after_days: number | null;
  /** Delete history older than N days (null = keep). */
  retention_days: number | null;
  callback_url: string | null;
  created_at: number;
}

export interface SmsUserRow {
  id: Generated<number>;
  account_id: number;
  login: string;
  password_hash: string;
  /** JSON array of addresses / CIDR ranges; empty = any. */
  ip_restrictions: string;
  /** Credits this user may still spend (null = no quota). */
  quota: number | null;
  /** Times its quota was removed (migration 0011): what a removed quota paid never goes to a later one. */
  quota_epoch: Generated<number>;
  callback_url: string | null;
  created_at: number;
}

export interface SenderRow {
  id: Generated<number>;
  account_id: number;
  sender: string;
  description: string;
  status: string;
  type: string;
  created_at: number;
}

export interface ApiTokenRow {
  id: Generated<number>;
  account_id: number;
  user_id: number | null;
  name: string;
  /** argon2id hash of the secret part. */
  secret_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface OutgoingRow {
  id: Generated<number>;
  account_id: number;
  job_id: number | null;
  user_id: number | null;
  /** '' when sent without an SMS user (Manager). */
  user_login: string;
  channel: string;
  sender: string;
  receiver: string;
  /** '' when redacted or not stored. */
  message: string;
  redacted_at: number | null;
  encoding: string;
  parts: number;
  credits: number;
  tag: string;
  status: string;
  priority: number;
  created_at: number;
  sent_at: number | null;
  delivered_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  canceled_at: number | null;
  carrier_message_id: string | null;
  error_code: string | null;
  error_text: string | null;
  deferred_until: number | null;
  valid_until: number | null;
}

export interface DeletionAuditRow {
  id: Generated<number>;
  account_id: number;
  /** Who: "customer:<email>" or "token:<id>" or "system:retention". */
  actor: string;
  kind: string;
  created_at: number;
  count: number;
  /** JSON array of ids (deletion by ids) or null. */
  ids: string | null;
  /** JSON filter (deletion by filter) or null. */
  filter: string | null;
  delete_job_id: number | null;
}

/** A change of an account's credits by the operator (migration 0009). */
export interface CreditChangeRow {
  id: Generated<number>;
  account_id: number;
  /** Who: "operator" (the command line). */
  actor: string;
  /** The credits added (negative: taken back), as applied. */
  delta: number;
  balance_after: number;
  reason: string | null;
  created_at: number;
}

export interface DeleteJobRow {
  id: Generated<number>;
  account_id: number;
  actor: string;
  filter: string;
  status: string;
  deleted: number;
  total: number;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  error: string | null;
  /** Who runs the job (a history service's id), until `lease_until` (ms); null: nobody (taken by the first to look). */
  lease_owner: string | null;
  lease_until: Generated<number>;
}

export interface JobRow {
  id: Generated<number>;
  account_id: number;
  user_id: number | null;
  channel: string;
  receivers: number;
  credits: number;
  /** JSON of the request's options (sender, tag, class, coding, deferral, validity…). */
  options: string;
  created_at: number;
  /**
   * 0: not paid from a quota (no user, or no quota then); n ≥ 1: its credits were also taken from its SMS
   * user's quota, of `quota_epoch` n - 1; null: accepted before migration 0011, unknown (see `refundCredits`).
   */
  quota_paid: number | null;
}

export interface DispatchQueueRow {
  outgoing_id: number;
  account_id: number;
  /** 0 high … 3 veryLow. */
  priority: number;
  due_at: number;
  attempts: number;
  lease_owner: string | null;
  lease_until: number;
}

export interface CarrierPartRow {
  carrier_message_id: string;
  outgoing_id: number;
  part: number;
  status: string;
}

export interface EarlyReceiptRow {
  id: Generated<number>;
  carrier_message_id: string;
  /** JSON of the carrier Receipt. */
  receipt: string;
  received_at: number;
}

export interface CallbackOutboxRow {
  id: Generated<number>;
  outgoing_id: number;
  url: string;
  /** JSON of the query parameters, as of the status change that queued it. */
  params: string;
  created_at: number;
  next_attempt_at: number;
  attempts: number;
  last_error: string | null;
  lease_owner: string | null;
  lease_until: number;
}

/** A delivery receipt owed to an SMS user's SMPP program (migration 0008). */
export interface SmppReceiptRow {
  id: Generated<number>;
  outgoing_id: number;
  account_id: number;
  user_id: number;
  /** JSON of the receipt (`SmppReceipt` in smpp-receipts.repository.ts), as of the status change that queued it. */
  params: string;
  created_at: number;
  next_attempt_at: number;
  attempts: number;
  lease_owner: string | null;
  lease_until: number;
}

/** An application of the OVH-compatible API (migration 0010). */
export interface OvhApplicationRow {
  id: Generated<number>;
  customer_id: number;
  /** The application key (AK): public, sent in `X-Ovh-Application`. */
  app_key: string;
  name: string;
  description: string;
  /** A MAC of `app_key` by the server secret that made it (secretCheck in ovh-signature.ts). */
  secret_check: string;
  created_at: number;
}

/** A consumer key (CK) of an OVH application and its access rules (migration 0010). */
export interface OvhCredentialRow {
  id: Generated<number>;
  application_id: number;
  /** The customer who validated it; null until then. */
  customer_id: number | null;
  /** The consumer key's first characters: finds its row; the rest is only in `key_hash`. */
  lookup: string;
  /** argon2id of the whole consumer key. */
  key_hash: string;
  /** SHA-256 (hex) of the validation link's token. */
  validation_hash: string;
  /** pendingValidation | validated | refused */
  status: string;
  /** JSON: [{ method, path }]. */
  rules: string;
  /** JSON: string[] of addresses and CIDR ranges; null: any. */
  allowed_ips: string | null;
  redirection: string | null;
  created_at: number;
  validated_at: number | null;
  /** null: never expires. */
  expires_at: number | null;
  last_used_at: number | null;
}

/** The failed Manager sign-ins of a client or an e-mail address, shared by every process (migration 0015). */
export interface SignInFailureRow {
  /** SHA-256 (hex) of the scope and the counted key (`client 192.0.2.1`, `email a@example.com`). */
  key: string;
  /** Failures since the window started (0 once `last_failure_at` is a window old). */
  failures: number;
  /** 0: none yet. */
  last_failure_at: number;
  /** Password checks in progress, in every process (0 once `checking_at` is a window old). */
  checking: number;
  /** When the last of them began. */
  checking_at: number;
}

/** Milliseconds in a day: `outgoing_days.day` is `created_at / DAY_MS` (UTC days since 1970). */
export const DAY_MS = 86_400_000;

/** Per account and UTC day (`created_at / DAY_MS`), the id bounds of its messages (migration 0004). */
export interface OutgoingDayRow {
  account_id: number;
  day: number;
  min_id: number;
  max_id: number;
}

export interface DB {
  customers: CustomerRow;
  sessions: SessionRow;
  accounts: AccountRow;
  sms_users: SmsUserRow;
  senders: SenderRow;
  api_tokens: ApiTokenRow;
  outgoing: OutgoingRow;
  outgoing_days: OutgoingDayRow;
  deletion_audit: DeletionAuditRow;
  credit_changes: CreditChangeRow;
  delete_jobs: DeleteJobRow;
  jobs: JobRow;
  dispatch_queue: DispatchQueueRow;
  carrier_parts: CarrierPartRow;
  early_receipts: EarlyReceiptRow;
  callback_outbox: CallbackOutboxRow;
  smpp_receipts: SmppReceiptRow;
  ovh_applications: OvhApplicationRow;
  ovh_credentials: OvhCredentialRow;
  sign_in_failures: SignInFailureRow;
}
