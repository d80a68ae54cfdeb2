import { type Kysely, type RawBuilder, sql, type Transaction } from 'kysely';
import { getTimeFormatter } from '../../../shared/account-time.js';
import type { Outgoing } from '../../../shared/outgoing.js';
import { deliveryReceiptOf, descriptionDlrOf, pttOf } from '../../../shared/ovh-codes.js';
import type { OutgoingStatus } from '../../../shared/status.js';
import type { Database } from '../../db/database.js';
import type { DB } from '../../db/schema.js';
import type { Receipt } from '../carriers/carrier.js';
import { COLUMNS, toOutgoing } from '../history/outgoing.repository.js';
import { queueSmppReceipts } from '../smpp/smpp-receipts.repository.js';

/** A due message claimed by a dispatcher: what the carrier needs, plus the queue's attempt count. */
export interface ClaimedMessage {
  id: number;
  sender: string;
  receiver: string;
  /** The text to send: the history's, or the job's copy when the account does not store texts. '' when erased. */
  text: string;
  encoding: 'gsm7' | 'ucs2';
  messageClass: 0 | 1 | 2 | 3 | null;
  validUntil: number | null;
  /** Submits already tried and answered "retry later". */
  attempts: number;
  status: OutgoingStatus;
}

/** What became of one claimed message. Recorded only while the claim is still the caller's (see `settle`). */
export type DispatchOutcome =
  /** Accepted by the carrier: one id per part, in order. */
  | { kind: 'sent'; id: number; carrierMessageIds: string[] }
  /** Refused for good: the carrier's code (SMPP status name, or OVH ptt) and reason. */
  | { kind: 'failed'; id: number; code: string; reason: string }
  /** Its validity period ended before it could be sent. */
  | { kind: 'expired'; id: number }
  /** Back to the queue, due again at `retryAt` (temporary carrier error, or a dispatcher stopping). */
  | { kind: 'released'; id: number; retryAt: number; attempts: number };

export interface SettleResult {
  /** Per outcome, in order: whether it was recorded (false: the claim was lost, or the message left `pending`). */
  recorded: boolean[];
  /** Per receipt, in order: whether its carrier id was unknown, so it was parked in early_receipts. */
  parked: boolean[];
  /** With `withMessages`, per receipt: the message after it, undefined when parked or the message is gone. Else empty. */
  messages: (Outgoing | undefined)[];
  /** Callback outbox rows queued. */
  callbacks: number;
}

/** Queue priorities, most urgent first (sending.service: high 0 … veryLow 3). */
const PRIORITIES = [0, 1, 2, 3] as const;
const CHUNK = 500;
const EARLY_RECEIPT_TTL_MS = 24 * 3_600_000;
/** The first key of the advisory locks on carrier ids (PostgreSQL), apart from any other use of advisory locks. */
const CARRIER_ID_LOCKS = 0x52_4c_53;
/** The text recorded on a message that expired before it was sent. */
export const EXPIRED_BEFORE_SENDING = 'validity period over before sending';
/** The text recorded on a sent message whose delivery receipt never came (see `expireUnconfirmed`). */
export const EXPIRED_WITHOUT_RECEIPT = 'no delivery receipt within the validity period';
/** How long after its validity ends a sent message still waits for its receipt. */
export const RECEIPT_GRACE_MS = 6 * 3_600_000;

type Trx = Transaction<DB>;

/** One status change of a message, as a callback reports it. */
interface StatusEvent {
  id: number;
  status: OutgoingStatus;
  at: number;
  errorCode: string | null;
  errorText: string | null;
}

/** Whose a message is, read by the UPDATE that changes its status (RETURNING): its callback URL and timezone come from them. */
interface CallbackTarget {
  id: number;
  tag: string;
  account_id: number;
  user_id: number | null;
  /** Read for the SMPP server's receipts (queueSmppReceipts). */
  channel: string;
  job_id: number | null;
}

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** `case id when … then cast(… as type) … end`: one value per row in one UPDATE, on both dialects. */
function byId(ids: readonly number[], values: readonly (string | number | null)[], type: 'text' | 'bigint'): RawBuilder<never> {
  const whens = ids.map((id, i) => sql`when ${id} then cast(${values[i]} as ${sql.raw(type)})`);
  return sql<never>`case id ${sql.join(whens, sql` `)} end`;
}

/**
 * RETURNING of a status UPDATE on outgoing: what its callback needs. The URLs and timezone are read
 * once per batch (`queueCallbacks`), not by scalar subqueries for every row.
 */
function returningTarget() {
  return ['outgoing.id', 'outgoing.tag', 'outgoing.account_id', 'outgoing.user_id', 'outgoing.channel', 'outgoing.job_id'] as const;
}

/** OVH callback parameters (OVH-COMPAT §5) for a status change, plus Relais' `status` and `tag`. */
export function callbackParams(event: StatusEvent, tag: string, timeZone: string): Record<string, string> {
  const o = { status: event.status, errorCode: event.errorCode, errorText: event.errorText };
  return {
    id: String(event.id),
    ptt: String(pttOf(o)),
    date: getTimeFormatter(timeZone).iso(event.at),
    description: String(deliveryReceiptOf(o)),
    descriptionDlr: descriptionDlrOf(o),
    status: event.status,
    tag,
  };
}

/**
 * The dispatch queue's storage: claims with leases, records what the carrier answered, applies
 * receipts, and queues callbacks in the same transaction as each status change.
 *
 * Claims: a queue entry is claimable when due (`due_at ≤ now`) and not leased (`lease_until < now`).
 * A claim writes `lease_owner`/`lease_until`; outcomes are recorded only while the entry is still
 * the owner's (or unowned), so a dispatcher whose lease ran out and was taken over cannot overwrite
 * the newer state, and a message that left `pending` (deleted, canceled) is never resurrected.
 */
export function createDispatchRepository(database: Database) {
  const { db, dialect } = database;

  /**
   * PostgreSQL: per carrier id, the transaction recording a part and one parking a receipt for it as
   * unknown wait for each other (transaction advisory locks, taken in one statement in one order).
   * Else each could miss the other's uncommitted row, and the receipt would stay parked after its
   * part was recorded (until a sweep). SQLite has one writer at a time.
   */
  async function lockCarrierIds(trx: Trx, ids: readonly string[]): Promise<void> {
    if (dialect !== 'postgres' || ids.length === 0) return;
    const keys = sql`select distinct hashtext(x) as k from unnest(${[...new Set(ids)]}::text[]) as x order by k`;
    await sql`select pg_advisory_xact_lock(${CARRIER_ID_LOCKS}, k) from (${keys}) as s`.execute(trx);
  }

  async function claimPriority(trx: Trx, owner: string, now: number, limit: number, leaseMs: number, priority: number) {
    return trx
      .updateTable('dispatch_queue')
      .set({ lease_owner: owner, lease_until: now + leaseMs })
      .where('outgoing_id', 'in', (eb) =>
        eb
          .selectFrom('dispatch_queue')
          .select('outgoing_id')
          .where('priority', '=', priority)
          .where('due_at', '<=', now)
          .where('lease_until', '<', now)
          // due_at alone: the (priority, due_at) index gives that order, so the scan stops at `limit`.
          .orderBy('due_at')
          .limit(limit)
          .$if(dialect === 'postgres', (qb) => qb.forUpdate().skipLocked()),
      )
      .returning(['outgoing_id', 'attempts', 'due_at'])
      .execute();
  }

  /**
   * SQLite (one writer, no row locks): every priority in one statement: each priority's oldest due
   * entries (in index order, so each scan stops at `limit`), then the most urgent `limit` of them.
   * A partial claim (the common case while the dispatcher keeps up) costs one statement, not four.
   */
  async function claimEveryPriority(trx: Trx, owner: string, now: number, limit: number, leaseMs: number) {
    const arms = PRIORITIES.map(
      (priority) =>
        sql`select * from (select outgoing_id, priority, due_at from dispatch_queue where priority = ${priority} and due_at <= ${now} and lease_until < ${now} order by due_at limit ${limit})`,
    );
    const due = sql<number>`(select outgoing_id from (${sql.join(arms, sql` union all `)}) order by priority, due_at, outgoing_id limit ${limit})`;
    const rows = await trx
      .updateTable('dispatch_queue')
      .set({ lease_owner: owner, lease_until: now + leaseMs })
      .where('outgoing_id', 'in', due)
      .returning(['outgoing_id', 'attempts', 'due_at', 'priority'])
      .execute();
    return rows.sort((a, b) => a.priority - b.priority || a.due_at - b.due_at || a.outgoing_id - b.outgoing_id);
  }

  /**
   * Applies receipts in order inside `trx`. A part's first final receipt counts (later ones and
   * intermediate `sent` ones change nothing); a message moves from `sent` only: to failed as soon as
   * a part failed, to expired as soon as one expired, to delivered once every part is. Unknown ids
   * are parked in early_receipts when `park`. Returns each receipt's message id (undefined: unknown).
   */
  async function applyReceiptsIn(
    trx: Trx,
    receipts: readonly Receipt[],
    now: number,
    park: boolean,
    events: (StatusEvent & { target: CallbackTarget })[],
  ): Promise<(number | undefined)[]> {
    if (receipts.length === 0) return [];
    const cids = [...new Set(receipts.map((r) => r.carrierMessageId))];
    // A receipt about to be parked waits for a transaction recording its carrier id, and the other way round.
    if (park) await lockCarrierIds(trx, cids);
    // Which parts are known: read once, before any change, so that a part recorded by another
    // process meanwhile is either seen here and changed below, or parked — never seen and left.
    const messageOf = new Map<string, number>();
    for (const c of chunks(cids)) {
      const rows = await trx
        .selectFrom('carrier_parts')
        .select(['carrier_message_id', 'outgoing_id'])
        .where('carrier_message_id', 'in', c)
        .execute();
      for (const row of rows) messageOf.set(row.carrier_message_id, row.outgoing_id);
    }
    if (dialect === 'postgres') {
      // Lock the messages (in id order): receipts for two parts of one message, applied by two
      // processes at once, then see each other's part (else neither would see "all delivered").
      for (const c of chunks([...new Set(messageOf.values())].sort((a, b) => a - b))) {
        await trx.selectFrom('outgoing').select('id').where('id', 'in', c).orderBy('id').forUpdate().execute();
      }
    }

    // Each part's first final receipt of the batch; the part changes only if it is still `sent`.
    const first = new Map<string, Receipt>();
    for (const r of receipts) {
      if (r.status !== 'sent' && messageOf.has(r.carrierMessageId) && !first.has(r.carrierMessageId)) first.set(r.carrierMessageId, r);
    }
    const changed: { receipt: Receipt; outgoingId: number }[] = [];
    for (const status of ['failed', 'expired', 'delivered'] as const) {
      const ids = [...first.values()].filter((r) => r.status === status).map((r) => r.carrierMessageId);
      for (const c of chunks(ids)) {
        const rows = await trx
          .updateTable('carrier_parts')
          .set({ status })
          .where('carrier_message_id', 'in', c)
          .where('status', '=', 'sent')
          .returning(['carrier_message_id', 'outgoing_id'])
          .execute();
        for (const row of rows) changed.push({ receipt: first.get(row.carrier_message_id)!, outgoingId: row.outgoing_id });
      }
    }
    const unknown = receipts.filter((r) => !messageOf.has(r.carrierMessageId));
    if (park && unknown.length > 0) {
      for (const rows of chunks(unknown)) {
        await trx
          .insertInto('early_receipts')
          .values(rows.map((r) => ({ carrier_message_id: r.carrierMessageId, receipt: JSON.stringify(r), received_at: now })))
          .execute();
      }
    }

    // The messages: failed first (it wins), then expired, then delivered when no part is left undelivered.
    // The receipt that decides: the first failed or expired one, the last delivered one.
    const deciding = new Map<string, Map<number, Receipt>>([
      ['failed', new Map()],
      ['expired', new Map()],
      ['delivered', new Map()],
    ]);
    for (const { receipt, outgoingId } of changed) {
      const byMessage = deciding.get(receipt.status)!;
      if (receipt.status === 'delivered' || !byMessage.has(outgoingId)) byMessage.set(outgoingId, receipt);
    }
    for (const status of ['failed', 'expired', 'delivered'] as const) {
      const decided = [...deciding.get(status)!];
      for (const c of chunks(decided)) {
        const ids = c.map(([id]) => id);
        // Never before the message was recorded sent: a receipt can come before the carrier's answer to the
        // submit (parked, then applied once `sent` is recorded, later than the receipt's own time).
        const reported = byId(
          ids,
          c.map(([, r]) => r.at),
          'bigint',
        );
        const sentAt = sql.ref('outgoing.sent_at');
        const at = sql<number>`case when ${reported} < ${sentAt} then ${sentAt} else ${reported} end`;
        const keepError = status !== 'delivered';
        const updated = await trx
          .updateTable('outgoing')
          .set({
            status,
            ...(status === 'delivered' ? { delivered_at: at } : status === 'failed' ? { failed_at: at } : { expired_at: at }),
            error_code: keepError
              ? byId(
                  ids,
                  c.map(([, r]) => r.errorCode),
                  'text',
                )
              : null,
            error_text: keepError
              ? byId(
                  ids,
                  c.map(([, r]) => r.errorText),
                  'text',
                )
              : null,
          })
          .where('id', 'in', ids)
          .where('status', '=', 'sent')
          .$if(status === 'delivered', (qb) =>
            qb.where(({ not, exists, selectFrom }) =>
              not(
                exists(
                  selectFrom('carrier_parts')
                    .select('carrier_parts.part')
                    .whereRef('carrier_parts.outgoing_id', '=', 'outgoing.id')
                    .where('carrier_parts.status', '!=', 'delivered'),
                ),
              ),
            ),
          )
          .returning([...returningTarget(), 'outgoing.sent_at'])
          .execute();
        const done = new Map(updated.map((u) => [u.id, u]));
        for (const [id, r] of c) {
          const found = done.get(id);
          if (!found) continue;
          const { sent_at, ...target } = found;
          events.push({
            id,
            status,
            at: sent_at !== null && r.at < Number(sent_at) ? Number(sent_at) : r.at,
            errorCode: keepError ? r.errorCode : null,
            errorText: keepError ? r.errorText : null,
            target,
          });
        }
      }
    }
    return receipts.map((r) => messageOf.get(r.carrierMessageId));
  }

  /**
   * Queues a callback outbox row for each event whose message has a callback URL (the SMS user's, else
   * the account's), and the SMPP receipts owed.
   */
  async function queueCallbacks(trx: Trx, events: readonly (StatusEvent & { target: CallbackTarget })[], now: number): Promise<number> {
    if (events.length === 0) return 0;
    const accounts = new Map<number, { timezone: string; callback_url: string | null }>();
    for (const c of chunks([...new Set(events.map((e) => e.target.account_id))])) {
      const found = await trx.selectFrom('accounts').select(['id', 'timezone', 'callback_url']).where('id', 'in', c).execute();
      for (const a of found) accounts.set(a.id, a);
    }
    const userUrls = new Map<number, string | null>();
    for (const c of chunks([...new Set(events.flatMap((e) => (e.target.user_id === null ? [] : [e.target.user_id])))])) {
      const found = await trx.selectFrom('sms_users').select(['id', 'callback_url']).where('id', 'in', c).execute();
      for (const u of found) userUrls.set(u.id, u.callback_url);
    }
    const rows = events.flatMap((e) => {
      const account = accounts.get(e.target.account_id);
      const url = (e.target.user_id === null ? null : userUrls.get(e.target.user_id)) || account?.callback_url;
      if (!url) return [];
      return [
        {
          outgoing_id: e.id,
          url,
          params: JSON.stringify(callbackParams(e, e.target.tag, account?.timezone ?? 'UTC')),
          created_at: now,
          next_attempt_at: now,
          attempts: 0,
          last_error: null,
          lease_owner: null,
          lease_until: 0,
        },
      ];
    });
    for (const c of chunks(rows)) await trx.insertInto('callback_outbox').values(c).execute();
    // The receipts owed to programs that submitted over SMPP, in the same transaction.
    await queueSmppReceipts(trx, events, now);
    return rows.length;
  }

  async function messagesById(trx: Kysely<DB>, ids: readonly number[]): Promise<Map<number, Outgoing>> {
    const out = new Map<number, Outgoing>();
    for (const c of chunks([...new Set(ids)])) {
      for (const row of await trx.selectFrom('outgoing').select(COLUMNS).where('id', 'in', c).execute()) out.set(row.id, toOutgoing(row));
    }
    return out;
  }

  async function settleIn(
    trx: Trx,
    owner: string,
    outcomes: readonly DispatchOutcome[],
    receipts: readonly Receipt[],
    now: number,
    withMessages: boolean,
  ): Promise<SettleResult> {
    const recorded = outcomes.map(() => false);
    const events: (StatusEvent & { target: CallbackTarget })[] = [];

    // Temporary failures: back to the queue, if the claim is still ours.
    for (const [i, o] of outcomes.entries()) {
      if (o.kind !== 'released') continue;
      const r = await trx
        .updateTable('dispatch_queue')
        .set({ lease_owner: null, lease_until: 0, due_at: o.retryAt, attempts: o.attempts })
        .where('outgoing_id', '=', o.id)
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      recorded[i] = Number(r.numUpdatedRows) > 0;
    }

    // Final outcomes: the queue entry goes (only ours, or one nobody holds), then the message changes (only from pending).
    const finals = outcomes.flatMap((o, i) => (o.kind === 'released' ? [] : [{ o, i }]));
    const owned = new Set<number>();
    for (const c of chunks(finals)) {
      const deleted = await trx
        .deleteFrom('dispatch_queue')
        .where(
          'outgoing_id',
          'in',
          c.map((f) => f.o.id),
        )
        .where((eb) => eb.or([eb('lease_owner', '=', owner), eb('lease_owner', 'is', null)]))
        .returning('outgoing_id')
        .execute();
      for (const d of deleted) owned.add(d.outgoing_id);
    }
    const mine = finals.filter((f) => owned.has(f.o.id));
    const sentIds: string[] = [];

    const sent = mine.flatMap((f) => (f.o.kind === 'sent' ? [{ o: f.o, i: f.i }] : []));
    for (const c of chunks(sent)) {
      const ids = c.map((s) => s.o.id);
      const updated = await trx
        .updateTable('outgoing')
        .set({
          status: 'sent',
          sent_at: now,
          carrier_message_id: byId(
            ids,
            c.map((s) => s.o.carrierMessageIds[0] ?? null),
            'text',
          ),
        })
        .where('id', 'in', ids)
        .where('status', '=', 'pending')
        .returning(returningTarget)
        .execute();
      const done = new Map(updated.map((u) => [u.id, u]));
      // By carrier id: an SMSC that gives two parts the same id (or none) must not make the insert
      // below touch a row twice (PostgreSQL refuses it, and the result would never be recorded); the
      // last part given an id keeps it, an empty id names nothing.
      const parts = new Map<string, { carrier_message_id: string; outgoing_id: number; part: number; status: string }>();
      for (const s of c) {
        if (!done.has(s.o.id)) continue;
        recorded[s.i] = true;
        events.push({ id: s.o.id, status: 'sent', at: now, errorCode: null, errorText: null, target: done.get(s.o.id)! });
        s.o.carrierMessageIds.forEach((cid, part) => {
          if (cid === '') return;
          parts.delete(cid);
          parts.set(cid, { carrier_message_id: cid, outgoing_id: s.o.id, part: part + 1, status: 'sent' });
        });
      }
      sentIds.push(...parts.keys());
      for (const p of chunks([...parts.values()])) {
        // A carrier id seen before (an SMSC that restarted its counter) now names this part.
        await trx
          .insertInto('carrier_parts')
          .values(p)
          .onConflict((oc) =>
            oc.column('carrier_message_id').doUpdateSet((eb) => ({
              outgoing_id: eb.ref('excluded.outgoing_id'),
              part: eb.ref('excluded.part'),
              status: eb.ref('excluded.status'),
            })),
          )
          .execute();
      }
    }

    const failed = mine.flatMap((f) => (f.o.kind === 'failed' ? [{ o: f.o, i: f.i }] : []));
    for (const c of chunks(failed)) {
      const ids = c.map((s) => s.o.id);
      const updated = await trx
        .updateTable('outgoing')
        .set({
          status: 'failed',
          failed_at: now,
          error_code: byId(
            ids,
            c.map((s) => s.o.code),
            'text',
          ),
          error_text: byId(
            ids,
            c.map((s) => s.o.reason),
            'text',
          ),
        })
        .where('id', 'in', ids)
        .where('status', '=', 'pending')
        .returning(returningTarget)
        .execute();
      const done = new Map(updated.map((u) => [u.id, u]));
      for (const s of c) {
        if (!done.has(s.o.id)) continue;
        recorded[s.i] = true;
        events.push({ id: s.o.id, status: 'failed', at: now, errorCode: s.o.code, errorText: s.o.reason, target: done.get(s.o.id)! });
      }
    }

    const expired = mine.filter((f) => f.o.kind === 'expired');
    for (const c of chunks(expired)) {
      const updated = await trx
        .updateTable('outgoing')
        .set({ status: 'expired', expired_at: now, error_text: EXPIRED_BEFORE_SENDING })
        .where(
          'id',
          'in',
          c.map((s) => s.o.id),
        )
        .where('status', '=', 'pending')
        .returning(returningTarget)
        .execute();
      const done = new Map(updated.map((u) => [u.id, u]));
      for (const s of c) {
        if (!done.has(s.o.id)) continue;
        recorded[s.i] = true;
        events.push({
          id: s.o.id,
          status: 'expired',
          at: now,
          errorCode: null,
          errorText: EXPIRED_BEFORE_SENDING,
          target: done.get(s.o.id)!,
        });
      }
    }

    // Receipts that came before these carrier ids were recorded, then the new receipts, in order.
    await lockCarrierIds(trx, sentIds);
    const early: Receipt[] = [];
    for (const c of chunks(sentIds)) {
      const rows = await trx.deleteFrom('early_receipts').where('carrier_message_id', 'in', c).returning(['id', 'receipt']).execute();
      early.push(...rows.sort((a, b) => a.id - b.id).map((r) => JSON.parse(r.receipt) as Receipt));
    }
    await applyReceiptsIn(trx, early, now, false, events);
    const receiptIds = await applyReceiptsIn(trx, receipts, now, true, events);

    const callbacks = await queueCallbacks(trx, events, now);
    const known = receiptIds.filter((id): id is number => id !== undefined);
    const messages = withMessages ? await messagesById(trx, known) : new Map<number, Outgoing>();
    return {
      recorded,
      parked: receiptIds.map((id) => id === undefined),
      messages: withMessages ? receiptIds.map((id) => (id === undefined ? undefined : messages.get(id))) : [],
      callbacks,
    };
  }

  /**
   * One batch of the expiry sweep: up to `batch` messages still `sent` whose validity ended before the
   * grace period, read through the partial index of the `sent` messages by validity (migration 0013;
   * the status is written as a literal so that SQLite sees the index's condition). `found` counts the
   * candidates read (a batch of `batch` means more may be left), `expired` those this call changed.
   */
  async function expireUnconfirmedBatch(now: number, batch: number): Promise<{ found: number; expired: number }> {
    return db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('outgoing')
        .select('id')
        .where(sql.ref('status'), '=', sql.lit('sent'))
        .where('valid_until', '<', now - RECEIPT_GRACE_MS)
        .orderBy('valid_until')
        .limit(batch)
        .execute();
      const ids = rows.map((r) => r.id);
      const events: (StatusEvent & { target: CallbackTarget })[] = [];
      for (const c of chunks(ids)) {
        const updated = await trx
          .updateTable('outgoing')
          .set({ status: 'expired', expired_at: now, error_text: EXPIRED_WITHOUT_RECEIPT })
          .where('id', 'in', c)
          .where('status', '=', 'sent')
          .returning(returningTarget)
          .execute();
        for (const u of updated) {
          events.push({ id: u.id, status: 'expired', at: now, errorCode: null, errorText: EXPIRED_WITHOUT_RECEIPT, target: u });
        }
        await trx.deleteFrom('carrier_parts').where('outgoing_id', 'in', c).execute();
      }
      await queueCallbacks(trx, events, now);
      return { found: ids.length, expired: events.length };
    });
  }

  const repository = {
    /**
     * Claims up to `limit` due entries for `owner` until `now + leaseMs`, most urgent priority first,
     * then oldest due. PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent dispatchers never claim the
     * same entry; SQLite has one writer. Entries whose message is no longer pending (deleted,
     * canceled) are dropped from the queue instead of returned.
     */
    async claim(owner: string, now: number, limit: number, leaseMs: number): Promise<ClaimedMessage[]> {
      if (limit <= 0) return [];
      return db.transaction().execute(async (trx) => {
        const claimed: { outgoing_id: number; attempts: number; due_at: number; priority: number }[] = [];
        if (dialect === 'sqlite') {
          claimed.push(...(await claimEveryPriority(trx, owner, now, limit, leaseMs)));
        } else {
          for (const priority of PRIORITIES) {
            const left = limit - claimed.length;
            if (left <= 0) break;
            const rows = await claimPriority(trx, owner, now, left, leaseMs, priority);
            rows.sort((a, b) => a.due_at - b.due_at || a.outgoing_id - b.outgoing_id);
            claimed.push(...rows.map((r) => ({ ...r, priority })));
          }
        }
        if (claimed.length === 0) return [];
        const ids = claimed.map((c) => c.outgoing_id);
        const rows = new Map<
          number,
          {
            sender: string;
            receiver: string;
            message: string;
            redacted_at: number | null;
            encoding: string;
            valid_until: number | null;
            status: string;
            options: string | null;
          }
        >();
        for (const c of chunks(ids)) {
          const found = await trx
            .selectFrom('outgoing')
            .leftJoin('jobs', 'jobs.id', 'outgoing.job_id')
            .select([
              'outgoing.id',
              'outgoing.sender',
              'outgoing.receiver',
              'outgoing.message',
              'outgoing.redacted_at',
              'outgoing.encoding',
              'outgoing.valid_until',
              'outgoing.status',
              'jobs.options',
            ])
            .where('outgoing.id', 'in', c)
            .execute();
          for (const r of found) rows.set(r.id, r);
        }
        const gone = ids.filter((id) => rows.get(id)?.status !== 'pending');
        for (const c of chunks(gone)) {
          await trx.deleteFrom('dispatch_queue').where('outgoing_id', 'in', c).where('lease_owner', '=', owner).execute();
        }
        const options = new Map<string, { text?: unknown; class?: unknown }>();
        const parse = (json: string | null) => {
          if (json === null) return {};
          let o = options.get(json);
          if (!o) {
            try {
              o = JSON.parse(json) as { text?: unknown; class?: unknown };
            } catch {
              o = {};
            }
            options.set(json, o);
          }
          return o;
        };
        return claimed.flatMap((c): ClaimedMessage[] => {
          const r = rows.get(c.outgoing_id);
          if (r?.status !== 'pending') return [];
          const o = parse(r.options);
          const text = r.redacted_at === null ? r.message : typeof o.text === 'string' ? o.text : r.message;
          const cls = o.class;
          return [
            {
              id: c.outgoing_id,
              sender: r.sender,
              receiver: r.receiver,
              text,
              encoding: r.encoding === 'ucs2' ? 'ucs2' : 'gsm7',
              messageClass: cls === 0 || cls === 1 || cls === 2 || cls === 3 ? cls : null,
              validUntil: r.valid_until,
              attempts: c.attempts,
              status: 'pending',
            },
          ];
        });
      });
    },

    /** Keeps `owner`'s claims on these entries until `until` (a dispatcher renews what it still holds). */
    async extendLeases(owner: string, ids: readonly number[], until: number): Promise<number> {
      let n = 0;
      for (const c of chunks(ids)) {
        const r = await db
          .updateTable('dispatch_queue')
          .set({ lease_until: until })
          .where('lease_owner', '=', owner)
          .where('outgoing_id', 'in', c)
          .executeTakeFirst();
        n += Number(r.numUpdatedRows);
      }
      return n;
    },

    /**
     * Records outcomes and applies receipts in ONE transaction (group commit), queueing a callback
     * for every status change in the same transaction. Outcomes first, then receipts parked earlier
     * for the carrier ids just recorded, then `receipts` in order (unknown ids are parked).
     */
    async settle(
      owner: string,
      batch: { outcomes?: readonly DispatchOutcome[]; receipts?: readonly Receipt[]; withMessages?: boolean },
      now: number,
    ): Promise<SettleResult> {
      return db
        .transaction()
        .execute((trx) => settleIn(trx, owner, batch.outcomes ?? [], batch.receipts ?? [], now, batch.withMessages ?? false));
    },

    /** The carrier accepted the message: `sent`, its parts' ids recorded, its queue entry gone. False when the claim was lost or the message left `pending`. */
    async markSent(owner: string, id: number, carrierMessageIds: string[], now: number): Promise<boolean> {
      return (await repository.settle(owner, { outcomes: [{ kind: 'sent', id, carrierMessageIds }] }, now)).recorded[0];
    },

    /** The carrier refused it for good: `failed` with the carrier's code and reason. */
    async markFailed(owner: string, id: number, code: string, reason: string, now: number): Promise<boolean> {
      return (await repository.settle(owner, { outcomes: [{ kind: 'failed', id, code, reason }] }, now)).recorded[0];
    },

    /** Its validity ended before sending: `expired`, never submitted. */
    async markExpired(owner: string, id: number, now: number): Promise<boolean> {
      return (await repository.settle(owner, { outcomes: [{ kind: 'expired', id }] }, now)).recorded[0];
    },

    /** Back to the queue, due at `retryAt` with `attempts` (temporary carrier error). */
    async release(owner: string, id: number, retryAt: number, attempts: number): Promise<boolean> {
      return (await repository.settle(owner, { outcomes: [{ kind: 'released', id, retryAt, attempts }] }, retryAt)).recorded[0];
    },

    /**
     * Applies one delivery receipt: the part's status, then the message's (delivered when every part
     * is, failed as soon as one failed, expired as soon as one expired; only from `sent`), with its
     * timestamp and error, and a callback. Returns the message, or undefined when the carrier id is
     * unknown — then the receipt is parked in early_receipts and applied when `markSent` records it.
     */
    async applyReceipt(receipt: Receipt, now: number): Promise<Outgoing | undefined> {
      return (await repository.settle('', { receipts: [receipt], withMessages: true }, now)).messages[0];
    },

    /**
     * Housekeeping: applies parked receipts whose carrier id is now known (recorded by another
     * process after the receipt was parked), then drops those older than 24 hours. Returns counts.
     */
    async sweepEarlyReceipts(now: number, limit = 1000): Promise<{ applied: number; dropped: number }> {
      const applied = await db.transaction().execute(async (trx) => {
        const rows = await trx
          .deleteFrom('early_receipts')
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('early_receipts as e')
              .innerJoin('carrier_parts as p', 'p.carrier_message_id', 'e.carrier_message_id')
              .select('e.id')
              .orderBy('e.id')
              .limit(limit),
          )
          .returning(['id', 'receipt'])
          .execute();
        const events: (StatusEvent & { target: CallbackTarget })[] = [];
        await applyReceiptsIn(
          trx,
          rows.sort((a, b) => a.id - b.id).map((r) => JSON.parse(r.receipt) as Receipt),
          now,
          false,
          events,
        );
        await queueCallbacks(trx, events, now);
        return rows.length;
      });
      const dropped = await db
        .deleteFrom('early_receipts')
        .where('received_at', '<', now - EARLY_RECEIPT_TTL_MS)
        .executeTakeFirst();
      return { applied, dropped: Number(dropped.numDeletedRows) };
    },

    /**
     * Housekeeping: a message `sent` whose validity ended more than `RECEIPT_GRACE_MS` ago will get
     * no receipt any more (the carrier gives up at the end of the validity, and says so with an
     * EXPIRED receipt when it says anything): it becomes `expired`, with a callback like any other
     * status change, and its carrier ids are forgotten. Then the carrier ids of messages that no
     * longer wait for a receipt (final, or deleted) go. Each in transactions of `batch` messages,
     * repeated until none is left: a sweep keeps up with any sending rate (one batch a minute did not,
     * past 1,000 messages a minute, and the carrier ids of delivered messages piled up for ever).
     */
    async expireUnconfirmed(now: number, batch = 1000): Promise<{ expired: number; partsDropped: number }> {
      let expired = 0;
      for (;;) {
        const n = await expireUnconfirmedBatch(now, batch);
        expired += n.expired;
        if (n.found < batch) break;
      }
      let partsDropped = 0;
      for (;;) {
        const dropped = await db
          .deleteFrom('carrier_parts')
          .where('carrier_message_id', 'in', (eb) =>
            eb
              .selectFrom('carrier_parts as p')
              .leftJoin('outgoing as o', 'o.id', 'p.outgoing_id')
              .select('p.carrier_message_id')
              .where((w) => w.or([w('o.id', 'is', null), w('o.status', '!=', 'sent')]))
              .limit(batch),
          )
          .executeTakeFirst();
        const n = Number(dropped.numDeletedRows);
        partsDropped += n;
        if (n < batch) break;
      }
      return { expired, partsDropped };
    },
  };
  return repository;
}

export type DispatchRepository = ReturnType<typeof createDispatchRepository>;
