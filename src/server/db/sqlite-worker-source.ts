/**
 * The source of a thread working on a SQLite database with a connection of its own (plain JavaScript:
 * no TypeScript loader exists in a worker thread). It opens `workerData.file` with `workerData.driver`
 * (better-sqlite3's path) and `workerData.open` options, sets `workerData.pragmas`, then runs `body`,
 * which defines what it does and calls `serve(handle)`: each message `{ seq, … }` is answered with
 * `{ seq, …handle(message) }` (a `transfer` list in the answer hands those ArrayBuffers over instead of
 * copying them) or `{ seq, error: { message, code } }`; `{ close: true }` closes the connection and the thread.
 */
export function sqliteWorkerSource(body: string): string {
  return `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, workerData.open || {});
for (const pragma of workerData.pragmas) db.pragma(pragma);
function serve(handle) {
  parentPort.on('message', (m) => {
    if (m.close) {
      db.close();
      parentPort.close();
      return;
    }
    try {
      const { transfer, ...answer } = handle(m);
      parentPort.postMessage({ seq: m.seq, ...answer }, transfer || []);
    } catch (error) {
      parentPort.postMessage({ seq: m.seq, error: { message: String((error && error.message) || error), code: error && error.code } });
    }
  });
}
${body}`;
}
