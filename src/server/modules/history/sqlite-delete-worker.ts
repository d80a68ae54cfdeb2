import { SQLITE_PRAGMAS } from '../../db/sqlite-pragmas.js';
import { sqliteWorkerSource, startSqliteThread } from '../../db/sqlite-worker-source.js';

/**
 * The batches of SQLite delete jobs, run on their own thread and connection. better-sqlite3 works
 * synchronously: in the serving thread, each batch (its deletes from the table, its ten indexes and
 * the text index, its commit and the WAL checkpoints that follow) would hold back every request that
 * arrives meanwhile. On this thread it holds back nothing but other writers, for one batch at most;
 * readers go on reading the last committed state (WAL).
 *
 * Plain JavaScript (no TypeScript loader exists in a worker thread). A batch does what
 * `deleteJobBatch` does on the serving connection, in the same single transaction: delete (ids of
 * the scope only), cancel pending messages and give their credits back as `cancelQueued` and `refundCredits` do, and count the
 * progress.
 */
const WORKER_SOURCE = sqliteWorkerSource(`
const remove = {
  all: db.prepare('delete from outgoing where account_id = ? and id in (select value from json_each(?)) returning id, status, credits, user_id'),
  user: db.prepare(
    'delete from outgoing where account_id = ? and id in (select value from json_each(?)) and user_login = ? returning id, status, credits, user_id'
  ),
};
const unqueue = db.prepare('delete from dispatch_queue where outgoing_id = ? and (lease_owner is null or lease_until < ?)');
const queued = db.prepare('select 1 from dispatch_queue where outgoing_id = ?').pluck();
const refundAccount = db.prepare('update accounts set credits = credits + ? where id = ?');
const refundUser = db.prepare('update sms_users set quota = quota + ? where id = ? and account_id = ? and quota is not null');
const progress = db.prepare('update delete_jobs set deleted = deleted + ?, updated_at = ? where id = ?');
const batch = db.transaction((m) => {
  const gone = m.userLogin === null ? remove.all.all(m.accountId, m.ids) : remove.user.all(m.accountId, m.ids, m.userLogin);
  let refunded = 0;
  const perUser = new Map();
  for (const r of gone) {
    if (r.status !== 'pending') continue;
    // Canceled unless a dispatcher holds it right now (then it goes on, as in cancelQueued).
    if (unqueue.run(r.id, m.now).changes === 0 && queued.get(r.id) !== undefined) continue;
    refunded += r.credits;
    if (r.user_id !== null) perUser.set(r.user_id, (perUser.get(r.user_id) || 0) + r.credits);
  }
  if (refunded > 0) {
    refundAccount.run(refunded, m.accountId);
    for (const [userId, credits] of perUser) refundUser.run(credits, userId, m.accountId);
  }
  progress.run(gone.length, m.now, m.jobId);
  return { deleted: gone.length, refunded };
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
  ids: readonly number[];
  now: number;
}

export interface SqliteDeleteWorker {
  run(batch: SqliteDeleteBatch): Promise<{ deleted: number; refunded: number }>;
  close(): Promise<void>;
}

/** Starts the thread that runs delete-job batches on the SQLite database `file`. */
export function startSqliteDeleteWorker(file: string): SqliteDeleteWorker {
  const thread = startSqliteThread(WORKER_SOURCE, { file, pragmas: DELETE_PRAGMAS }, 'SQLite delete worker');
  return {
    async run(batch) {
      const { result } = await thread.call<{ result: { deleted: number; refunded: number } }>({ ...batch, ids: JSON.stringify(batch.ids) });
      return result;
    },
    close: () => thread.close(),
  };
}
