import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Builds SQLite's text search index for a bulk load on another thread, into a scratch database file,
 * while the loading thread inserts the rows and builds the other indexes. The loading thread then
 * copies the finished index's tables into the real database (see `openSqliteBulkLoad`).
 *
 * The worker runs plain JavaScript (no TypeScript loader exists in a worker thread): it creates the
 * search table from the same CREATE statement as the real one, indexes the texts it is sent with
 * merging off (one merge at the end is cheaper than merging as it grows), then merges everything into
 * one segment (what a long-lived index converges to) and commits.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let db;
try {
  db = new Database(workerData.file);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  db.pragma('temp_store = MEMORY');
  db.exec(workerData.createSql);
  db.prepare("insert into " + workerData.table + "(" + workerData.table + ", rank) values ('automerge', 0)").run();
  db.exec('begin');
} catch (error) {
  parentPort.postMessage({ error: String(error && error.message || error) });
  throw error;
}
const insert = db.prepare('insert into ' + workerData.table + '(rowid, ' + workerData.column + ') values (?, ?)');
parentPort.on('message', (message) => {
  try {
    if (message.texts) {
      // One statement run per row: FTS5 indexes a multi-row VALUES (or json_each) no faster.
      const texts = message.texts;
      for (let i = 0; i < texts.length; i++) insert.run(message.firstId + i, texts[i]);
      parentPort.postMessage({ indexed: texts.length });
      return;
    }
    db.prepare("insert into " + workerData.table + "(" + workerData.table + ") values ('optimize')").run();
    db.exec('commit');
    db.close();
    parentPort.postMessage({ done: true });
    parentPort.close();
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
    try { db.close(); } catch {}
    parentPort.close();
  }
});
`;

/** Batches of texts the loading thread may get ahead of the worker (bounds the memory of a long load). */
const MAX_PENDING_BATCHES = 16;

export interface FtsBuildWorker {
  /** Sends the texts of rows `firstId`, `firstId + 1`, …; waits while the worker is far behind. */
  index(firstId: number, texts: string[]): Promise<void>;
  /** Merges and commits the scratch index; resolves once the file is complete and closed. */
  finish(): Promise<void>;
  /** Stops the worker and removes the scratch file. */
  dispose(): Promise<void>;
  readonly file: string;
}

/**
 * Starts a worker building `table` (an FTS5 table of one indexed `column`, created by `createSql`) in
 * the scratch database `file`, which it creates (and which `dispose` removes).
 */
export function startFtsBuildWorker(options: { file: string; createSql: string; table: string; column: string }): FtsBuildWorker {
  const { file } = options;
  for (const f of [file, `${file}-journal`, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ...options, driver } });
  let failure: Error | undefined;
  let finished = false;
  let pending = 0;
  let wake: (() => void) | undefined;
  let done: { resolve: () => void; reject: (error: Error) => void } | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    wake?.();
    done?.reject(failure);
  };
  worker.on('message', (message: { indexed?: number; done?: boolean; error?: string }) => {
    if (message.error) fail(new Error(`text search index worker: ${message.error}`));
    else if (message.indexed !== undefined) {
      pending--;
      wake?.();
    } else if (message.done) {
      finished = true;
      done?.resolve();
    }
  });
  worker.on('error', fail);
  worker.on('exit', (code) => {
    if (!finished) fail(new Error(`text search index worker stopped (exit code ${code})`));
  });
  return {
    file,
    async index(firstId, texts) {
      if (failure) throw failure;
      while (pending >= MAX_PENDING_BATCHES && !failure) await new Promise<void>((resolve) => (wake = resolve));
      if (failure) throw failure;
      pending++;
      worker.postMessage({ firstId, texts });
    },
    finish() {
      return new Promise<void>((resolve, reject) => {
        if (failure) return reject(failure);
        if (finished) return resolve();
        done = { resolve, reject };
        worker.postMessage({ finish: true });
      });
    },
    async dispose() {
      await worker.terminate();
      for (const f of [file, `${file}-journal`, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    },
  };
}
