import { SAFETY_NET_PAGES } from '../../db/sqlite-checkpointer.js';
import { SQLITE_PRAGMAS } from '../../db/sqlite-pragmas.js';
import { PURGE_DELETED_TEXT_SQL } from '../../db/sqlite-text-index.js';
import { sqliteWorkerSource, startSqliteThread } from '../../db/sqlite-worker-source.js';

/**
 * The batches of SQLite delete jobs, run on their own thread and connection. better-sqlite3 works
 * synchronously: in the serving thread, each batch (its deletes from the table, its ten indexes and
 * the text index, its commit and the WAL checkpoints that follow) would hold back every request that
 * arrives meanwhile. On this thread it holds back nothing but other writers, for one batch at most;
 * readers go on reading the last committed state (WAL).
 *
 * Plain JavaScript (no TypeScript loader exists in a worker thread). A batch does what
 * `deleteJobBatch` does on the serving connection, in the same single transaction: find its ids when
 * given the query that answers them (the history's filter: so the serving thread only sends the query),
 * delete (ids of the scope only) — with a lease, only while the job is still its owner's (renewed first:
 * `deleteJobBatch`) —, cancel pending messages and give their credits back as `cancelQueued`
 * and `refundCredits` do (to the quota only what it paid, by the rule written at `refundCredits`),
 * remove the rows from the text index (`PURGE_DELETED_TEXT_SQL`), and count the progress.
 */
const WORKER_SOURCE = sqliteWorkerSource(`
const remove = {
  all: db.prepare(
    'delete from outgoing where account_id = ? and id in (select value from json_each(?)) returning id, status, credits, user_id, job_id'
  ),
  user: db.prepare(
    'delete from outgoing where account_id = ? and id in (select value from json_each(?)) and user_login = ? returning id, status, credits, user_id, job_id'
  ),
};
const unqueue = db.prepare('delete from dispatch_queue where outgoing_id = ? and (lease_owner is null or lease_until < ?)');
const refundAccount = db.prepare('update accounts set credits = credits + ? where id = ?');
const refundUser = db.prepare('update sms_users set quota = quota + ? where id = ? and account_id = ? and quota is not null');
const refundUserQuota = db.prepare(
  'update sms_users set quota = quota + ? where id = ? and account_id = ? and quota is not null and quota_epoch = ?'
);
// Which quota paid each job (refundCredits' rule: 0 none, n the quota of epoch n - 1, null unknown).
const quotaPaid = db.prepare('select id, quota_paid from jobs where id in (select value from json_each(?))');
const progress = db.prepare('update delete_jobs set deleted = deleted + ?, updated_at = ? where id = ?');
const renew = db.prepare("update delete_jobs set lease_until = ? where id = ? and status = 'running' and lease_owner = ?");
const purgeText = ${JSON.stringify(PURGE_DELETED_TEXT_SQL)}.map((text) => db.prepare(text));
const selects = new Map();
/** The batch's ids, in order: those given, or those its query answers now. */
function idsOf(m) {
  if (!m.select) return m.ids;
  let statement = selects.get(m.select.sql);
  if (!statement) {
    if (selects.size > 50) selects.clear();
    statement = db.prepare(m.select.sql).pluck();
    selects.set(m.select.sql, statement);
  }
  return statement.all(...m.select.parameters).sort((a, b) => a - b);
}
const batch = db.transaction((m) => {
  // Only while the job is still its lease owner's: renewed first, in the batch's transaction.
  if (m.lease && renew.run(m.lease.until, m.jobId, m.lease.owner).changes === 0) return { deleted: 0, refunded: 0, found: 0, lost: true };
  const ids = idsOf(m);
  if (ids.length === 0) return { deleted: 0, refunded: 0, found: 0 };
  const json = JSON.stringify(ids);
  const gone = m.userLogin === null ? remove.all.all(m.accountId, json) : remove.user.all(m.accountId, json, m.userLogin);
  let refunded = 0;
  const ofUsers = [];
  for (const r of gone) {
    if (r.status !== 'pending') continue;
    // Canceled when its queue entry goes: not when a dispatcher holds it right now (then it goes on), nor
    // when it has none (demo rows, never charged), as in cancelQueued.
    if (unqueue.run(r.id, m.now).changes === 0) continue;
    refunded += r.credits;
    if (r.user_id !== null) ofUsers.push(r);
  }
  if (refunded > 0) {
    refundAccount.run(refunded, m.accountId);
    const jobIds = [...new Set(ofUsers.filter((r) => r.job_id !== null).map((r) => r.job_id))];
    const paid = new Map(jobIds.length > 0 ? quotaPaid.all(JSON.stringify(jobIds)).map((j) => [j.id, j.quota_paid]) : []);
    const perQuota = new Map();
    for (const r of ofUsers) {
      const q = r.job_id === null ? null : (paid.get(r.job_id) ?? null);
      if (q === 0) continue;
      const key = r.user_id + ' ' + q;
      const entry = perQuota.get(key) || { userId: r.user_id, epoch: q === null ? null : q - 1, credits: 0 };
      entry.credits += r.credits;
      perQuota.set(key, entry);
    }
    for (const { userId, epoch, credits } of perQuota.values()) {
      if (epoch === null) refundUser.run(credits, userId, m.accountId);
      else refundUserQuota.run(credits, userId, m.accountId, epoch);
    }
  }
  for (const statement of purgeText) statement.run(json);
  progress.run(gone.length, m.now, m.jobId);
  return { deleted: gone.length, refunded, found: ids.length };
});
serve((m) => ({ result: batch.immediate(m) }));
`);

/** The shared settings, and a page cache sized for deleting from ten indexes at once. */
const DELETE_PRAGMAS = [...SQLITE_PRAGMAS, 'synchronous = NORMAL', 'foreign_keys = ON', 'cache_size = -131072'];

export interface SqliteDeleteBatch {
  jobId: number;
  accountId: number;
  /** Only this SMS user's messages, or null for the whole account. */
  userLogin: string | null;
  /** The ids to delete, or a query answering them (one `id` column), run in the batch's transaction. */
  ids?: readonly number[];
  select?: { sql: string; parameters: readonly unknown[] };
  now: number;
  /** Run only while the job is still `owner`'s, its lease renewed to `until` (else `lost`). */
  lease?: { owner: string; until: number };
}

export interface SqliteDeleteResult {
  deleted: number;
  refunded: number;
  found: number;
  lost?: true;
}

export interface SqliteDeleteWorker {
  run(batch: SqliteDeleteBatch): Promise<SqliteDeleteResult>;
  close(): Promise<void>;
}

/**
 * Starts the thread that runs delete-job batches on the SQLite database `file`. `backgroundCheckpoints`:
 * the server's checkpointing thread runs (sqlite-checkpointer.ts), so this connection leaves WAL
 * checkpoints to it, as the serving connection does: SQLite's default, a checkpoint inside every commit
 * that crosses 1,000 WAL pages, made this thread wait for the disk at almost every batch (1,000,000 rows
 * of 10,000,000: 128 s → 67 s, 26 → 19 kB written a row).
 */
export function startSqliteDeleteWorker(file: string, options: { backgroundCheckpoints?: boolean } = {}): SqliteDeleteWorker {
  const pragmas = options.backgroundCheckpoints ? [...DELETE_PRAGMAS, `wal_autocheckpoint = ${SAFETY_NET_PAGES}`] : DELETE_PRAGMAS;
  const thread = startSqliteThread(WORKER_SOURCE, { file, pragmas }, 'SQLite delete worker');
  return {
    async run(batch) {
      const { result } = await thread.call<{ result: SqliteDeleteResult }>({ ...batch });
      return result;
    },
    close: () => thread.close(),
  };
}
