import { Worker } from 'node:worker_threads';
import type { ErrorCode } from '../../../shared/error-codes.js';
import { AppError } from '../../errors.js';
import type { AcceptResult, PreparedJob } from './sending.repository.js';

/**
 * Acceptance's writes to a SQLite file on a thread of their own. Writing a job's rows (ten history
 * indexes, the text search index, the queue entry) is about a third of the serving thread's work per
 * single-receiver job; here it runs on the other core while the serving thread parses, checks and
 * answers the next requests. The thread has its own connection and runs the very same `acceptBatch`
 * (sending.repository.ts); the answer to a job still comes only after its transaction committed.
 *
 * SQLite lets one connection write at a time: the serving connection's own writes (dispatching,
 * receipts, sessions…) wait for the lock on a timer, never sleeping the event loop
 * (`openDatabase(…, { nonBlockingLockWaits: true })`).
 */

/** A batch sent to the thread. */
export interface AcceptRequest {
  seq: number;
  jobs: PreparedJob[];
}

type WireError = { code?: string; message: string; app: boolean };

/** The thread's answer: one result a job (errors by code and message), or why the whole batch failed. */
export type AcceptResponse =
  | {
      seq: number;
      results: (
        | { ok: true; jobId: number; ids: number[]; creditsLeft: number }
        | { ok: false; error: { code: ErrorCode; message: string } }
      )[];
    }
  | { seq: number; error: WireError };

export interface AcceptanceThread {
  acceptBatch(jobs: PreparedJob[]): Promise<AcceptResult[]>;
  close(): Promise<void>;
}

/** The acceptance thread for the SQLite database `file`, started at its first batch. */
export function startAcceptanceThread(file: string): AcceptanceThread {
  let worker: Worker | null = null;
  const waiting = new Map<number, { resolve: (r: AcceptResult[]) => void; reject: (e: Error) => void }>();
  let seq = 0;
  let closed = false;

  function start(): Worker {
    const started = new Worker(new URL('./acceptance-thread.worker.mjs', import.meta.url), { workerData: { file } });
    // A thread that failed or stopped fails the batches it holds (their jobs were not answered as
    // accepted: a batch's transaction commits whole or not at all); the next batch starts a new thread.
    const fail = (error: Error) => {
      if (worker !== started) return;
      worker = null;
      for (const w of waiting.values()) w.reject(error);
      waiting.clear();
    };
    started.on('message', (m: AcceptResponse) => {
      const w = waiting.get(m.seq);
      if (!w) return;
      waiting.delete(m.seq);
      if (waiting.size === 0) started.unref();
      if ('error' in m) {
        const e = m.error;
        w.reject(
          e.app ? new AppError(e.code as ErrorCode, e.message) : Object.assign(new Error(e.message), e.code ? { code: e.code } : {}),
        );
        return;
      }
      w.resolve(m.results.map((r) => (r.ok ? r : { ok: false as const, error: new AppError(r.error.code, r.error.message) })));
    });
    started.on('error', (error) => fail(new Error(`the acceptance thread failed: ${error.message}`)));
    started.on('exit', (code) => fail(new Error(`the acceptance thread stopped (exit code ${code})`)));
    return started;
  }

  return {
    acceptBatch(jobs) {
      if (closed) return Promise.reject(new Error('the acceptance thread is closed'));
      return new Promise((resolve, reject) => {
        const id = ++seq;
        waiting.set(id, { resolve, reject });
        worker ??= start();
        worker.ref(); // a batch in flight keeps the process alive
        worker.postMessage({ seq: id, jobs } satisfies AcceptRequest);
      });
    },
    async close() {
      closed = true;
      const current = worker;
      if (!current) return;
      const exited = new Promise((resolve) => current.once('exit', resolve));
      current.ref();
      current.postMessage({ close: true }); // after the batches already sent: they are answered first
      await exited;
    },
  };
}
