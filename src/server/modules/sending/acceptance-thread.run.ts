/**
 * Inside the acceptance thread (acceptance-thread.ts): its own connection to the SQLite file, and the
 * same repository code as the serving thread's (`acceptBatch`), one batch at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../../db/database.js';
import { SAFETY_NET_PAGES } from '../../db/sqlite-checkpointer.js';
import { AppError } from '../../errors.js';
import type { AcceptRequest, AcceptResponse } from './acceptance-thread.js';
import { createSendingRepository } from './sending.repository.js';

const port = parentPort!;
const { file } = workerData as { file: string };
const database = openDatabase(`sqlite:${file}`);
// The server's checkpointing thread copies the WAL back: this connection's commits never do it themselves.
database.sqlite!.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
const repository = createSendingRepository(database);

/** One message at a time, in order (a close waits for the batches sent before it). */
let chain: Promise<void> = Promise.resolve();
port.on('message', (m: AcceptRequest | { close: true }) => {
  chain = chain.then(() => handle(m));
});

async function handle(m: AcceptRequest | { close: true }): Promise<void> {
  if ('close' in m) {
    await database.close();
    port.close();
    return;
  }
  let answer: AcceptResponse;
  try {
    const results = await repository.acceptBatch(m.jobs);
    answer = {
      seq: m.seq,
      results: results.map((r) => (r.ok ? r : { ok: false as const, error: { code: r.error.code, message: r.error.message } })),
    };
  } catch (error) {
    answer = {
      seq: m.seq,
      error:
        error instanceof AppError
          ? { code: error.code, message: error.message, app: true }
          : { code: (error as { code?: string }).code, message: String((error as Error).message ?? error), app: false },
    };
  }
  port.postMessage(answer);
}
