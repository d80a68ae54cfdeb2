import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { SQLITE_PRAGMAS } from '../../db/sqlite-pragmas.js';
import { sqliteWorkerSource } from '../../db/sqlite-worker-source.js';

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
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, pragmas: DELETE_PRAGMAS } });
  // An idle worker does not keep the process alive; `close` stops it.
  worker.unref();
  const waiting = new Map<number, { resolve: (r: { deleted: number; refunded: number }) => void; reject: (e: Error) => void }>();
  let seq = 0;
  let stopped: Error | undefined;
  const failAll = (error: Error) => {
    stopped ??= error;
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
  };
  worker.on('message', (m: { seq: number; result?: { deleted: number; refunded: number }; error?: { message: string } }) => {
    const w = waiting.get(m.seq);
    if (!w) return;
    waiting.delete(m.seq);
    if (m.error !== undefined) w.reject(new Error(m.error.message));
    else w.resolve(m.result!);
    if (waiting.size === 0) worker.unref();
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`SQLite delete worker stopped (exit code ${code})`)));
  return {
    run(batch) {
      if (stopped) return Promise.reject(stopped);
      return new Promise((resolve, reject) => {
        seq += 1;
        waiting.set(seq, { resolve, reject });
        // Referenced while a batch is in flight: the process waits for its answer.
        worker.ref();
        worker.postMessage({ ...batch, seq, ids: JSON.stringify(batch.ids) });
      });
    },
    async close() {
      if (stopped) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      // Referenced until it has exited: the process must not end halfway through closing.
      worker.ref();
      worker.postMessage({ close: true });
      await exited;
    },
  };
}
