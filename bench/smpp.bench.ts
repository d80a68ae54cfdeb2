/**
 * SMPP server benchmark (`npm run bench:smpp -- [--messages N] [--seconds S] [--binds B] [--window W] [--warmup M]`).
 *
 * The SMPP server for customers' programs on 127.0.0.1 with an embedded SQLite file (a temporary one)
 * and production argon2 parameters, the messages written on this thread (as the mail2sms benchmark does;
 * `relais serve` writes them on the dispatcher's thread). A separate process plays B transceiver binds
 * (1 by default) of one SMS user, each keeping W submit_sm awaiting their answer (64), one receiver and
 * a short GSM text each, until N are answered (20,000) or S seconds have passed (15). Prints submits
 * accepted a second and checks that every answered submit is in the database (a submit_sm_resp is
 * written once its message is committed). No goal is set for this channel: the figure is for comparison
 * with the native API's acceptance (bench:send). Never part of `npm test`.
 */
import { cpus, loadavg } from 'node:os';
import { startSmppServer } from '../src/server/modules/smpp/smpp.server.js';
import { BENCH_LOGIN, BENCH_PASSWORD, openChannelBench } from './channel-bench.js';
import { fmt, percentile, runLoadClient } from './load-client.js';

/** The load generator, run in its own process (plain JS, the `smpp` package from node_modules). */
const LOAD = `
const smpp = require('smpp');
const { port, systemId, password, binds, window, messages, seconds, offset } = JSON.parse(process.argv[1]);
let next = 0, accepted = 0, refused = 0, errors = 0, firstRefusal = null;
const latencies = [];
const deadline = Date.now() + seconds * 1000;
function bind() {
  return new Promise((resolve) => {
    const session = smpp.connect({ host: '127.0.0.1', port }, () => {
      session.bind_transceiver({ system_id: systemId, password }, (resp) => {
        if (resp.command_status !== 0) { errors++; firstRefusal ??= 'bind ' + resp.command_status; session.close(); return resolve(); }
        let outstanding = 0;
        const pump = () => {
          while (outstanding < window && Date.now() < deadline && next < messages) {
            const i = next++;
            outstanding++;
            const started = process.hrtime.bigint();
            session.submit_sm({
              source_addr: 'BENCH', dest_addr_ton: 1, destination_addr: '3361' + String((offset + i) % 10000000).padStart(7, '0'),
              short_message: 'Votre code de confirmation est ' + (100000 + (i % 900000)) + '.',
            }, (r) => {
              outstanding--;
              latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
              if (r.command_status === 0) accepted++;
              else { refused++; firstRefusal ??= 'submit ' + r.command_status; }
              if (outstanding === 0 && (Date.now() >= deadline || next >= messages)) session.unbind({}, () => { session.close(); resolve(); });
              else pump();
            });
          }
        };
        pump();
      });
    });
    session.on('error', (e) => { errors++; firstRefusal ??= String(e); resolve(); });
  });
}
const started = Date.now();
Promise.all(Array.from({ length: binds }, bind)).then(() => {
  // Exit once the whole answer is written: a pipe takes it in pieces, and exiting at once cut it.
  process.stdout.write(JSON.stringify({ accepted, refused, errors, firstRefusal, ms: Date.now() - started, latencies }), () => process.exit(0));
});
`;

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const num = (name: string, fallback: number) => (args.has(name) ? Number(args.get(name)) : fallback);
const messages = num('messages', 20_000);
const seconds = num('seconds', 15);
const binds = num('binds', 1);
const window = num('window', 64);
const warmup = num('warmup', 1_000);

const bench = await openChannelBench('smpp', 'sms-sb12345-1');
const { file } = bench;
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const server = await startSmppServer({ services: bench.app.services, log: silent, port: 0, host: '127.0.0.1' });
try {
  const password = BENCH_PASSWORD;
  const account = bench.account;
  const load = { port: server.port, systemId: `${account.name}:${BENCH_LOGIN}`, password, binds, window, seconds };

  console.log(
    `SMPP server benchmark: SQLite ${file}, ${binds} transceiver bind(s), window ${window}, one receiver a submit_sm (${process.platform}, Node ${process.version}, ${cpus().length} cores)`,
  );
  if (warmup > 0) {
    const w = await runLoadClient(LOAD, { ...load, messages: warmup, offset: 0 });
    console.log(
      `  warm-up: ${fmt(w.accepted)} accepted${w.refused || w.errors ? `, ${w.refused} refused, ${w.errors} errors (${w.firstRefusal})` : ''}`,
    );
  }
  const countRows = () => bench.countRows('smpp');
  const rowsBefore = countRows();
  const r = await runLoadClient(LOAD, { ...load, messages, offset: warmup });
  const rowsWritten = countRows() - rowsBefore;
  const rate = (r.accepted / r.ms) * 1000;
  console.log(
    `  ${fmt(r.accepted)} submits accepted in ${(r.ms / 1000).toFixed(2)} s${r.refused || r.errors ? `, ${r.refused} refused, ${r.errors} errors (first: ${r.firstRefusal})` : ''}`,
  );
  const cpuPer = (r.serverCpuMs * 1000) / Math.max(1, r.accepted);
  console.log(
    `  server CPU ${(r.serverCpuMs / 1000).toFixed(2)} s = ${cpuPer.toFixed(0)} µs a submit; load average ${loadavg()[0].toFixed(2)} on ${cpus().length} cores`,
  );
  console.log(
    `  latency (submit_sm to its resp) p50 ${percentile(r.latencies, 0.5).toFixed(1)} ms, p99 ${percentile(r.latencies, 0.99).toFixed(1)} ms`,
  );
  console.log(
    `  rows written: ${fmt(rowsWritten)} (${rowsWritten === r.accepted ? 'every answered submit is durable' : 'MISMATCH with accepted'})`,
  );
  console.log(`  => ${fmt(rate)} submit_sm/s (no goal; compare bench:send's single-receiver acceptance)`);
} finally {
  await server.close();
  await bench.close();
}
