/**
 * mail2sms benchmark (`npm run bench:mail2sms -- [--mails N] [--seconds S] [--sessions C] [--warmup W]`).
 *
 * A real mail2sms SMTP server on 127.0.0.1 with an embedded SQLite file (a temporary one) and production
 * argon2 parameters (the SMS user's password check is cached after the first mail). A separate process
 * plays C SMTP sessions (16 by default) that each send mails one after another, as an MTA does (EHLO
 * once, then MAIL FROM/RCPT TO/DATA pipelined, the message, wait for the reply), until N mails are
 * answered (5,000) or S seconds have passed (15). Each mail is a small plain-text mail to one receiver
 * in the positional subject form. Prints mails accepted a second next to the goal (≥ 300/s) and checks
 * that every accepted mail is in the database (a 250 is sent once its job is committed). Never part of
 * `npm test`. `benchMail2Sms()` is exported for a combined channels benchmark.
 */
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startMail2Sms } from '../src/server/modules/mail2sms/mail2sms.server.js';
import { BENCH_LOGIN, BENCH_PASSWORD, BENCH_SENDER, openChannelBench } from './channel-bench.js';
import { fmt, percentile, runLoadClient } from './load-client.js';

/** mails/s the issue asks for over 16 sessions. */
export const MAIL2SMS_GOAL = 300;

/** The load generator, run in its own process (plain JS): C sessions over raw sockets. */
const LOAD = `
const net = require('node:net');
const { port, subjectBase, sessions, mails, seconds, offset } = JSON.parse(process.argv[1]);
let next = 0, accepted = 0, refused = 0, errors = 0, firstRefusal = null;
const latencies = [];
const deadline = Date.now() + seconds * 1000;
function session() {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    let buf = '';
    const waiters = [];
    socket.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\\r\\n')) !== -1) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (/^\\d{3} /.test(line)) waiters.shift()?.(line);
      }
    });
    socket.on('error', (e) => { errors++; firstRefusal ??= String(e); while (waiters.length) waiters.shift()('000 ' + e); });
    const reply = () => new Promise((r) => waiters.push(r));
    const send = (text, replies) => { const all = Array.from({ length: replies }, reply); socket.write(text); return Promise.all(all); };
    (async () => {
      const greeting = reply();
      await greeting;
      await send('EHLO bench.example\\r\\n', 1);
      while (Date.now() < deadline) {
        const i = next++;
        if (i >= mails) break;
        const to = '+3361' + String((offset + i) % 10000000).padStart(7, '0');
        const started = process.hrtime.bigint();
        const [mail, rcpt, data] = await send('MAIL FROM:<app@bench.example>\\r\\nRCPT TO:<email2sms@relais.test>\\r\\nDATA\\r\\n', 3);
        if (!data.startsWith('354')) { refused++; firstRefusal ??= mail + ' / ' + rcpt + ' / ' + data; continue; }
        const message = 'From: app@bench.example\\r\\nTo: email2sms@relais.test\\r\\nSubject: ' + subjectBase.replace('{to}', to) +
          '\\r\\nMIME-Version: 1.0\\r\\nContent-Type: text/plain; charset=utf-8\\r\\nContent-Transfer-Encoding: 8bit\\r\\n\\r\\n' +
          'Votre commande ' + i + ' est prête.\\r\\nÀ bientôt !\\r\\n\\r\\n-- \\r\\nACME\\r\\n.\\r\\n';
        const [answer] = await send(message, 1);
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
        if (answer.startsWith('250')) accepted++;
        else { refused++; firstRefusal ??= answer; }
      }
      await send('QUIT\\r\\n', 1);
      socket.end();
      resolve();
    })().catch((e) => { errors++; firstRefusal ??= String(e); socket.destroy(); resolve(); });
  });
}
const started = Date.now();
Promise.all(Array.from({ length: sessions }, session)).then(() => {
  process.stdout.write(JSON.stringify({ accepted, refused, errors, firstRefusal, ms: Date.now() - started, latencies }));
});
`;

function runLoad(args: { port: number; subjectBase: string; sessions: number; mails: number; seconds: number; offset: number }) {
  return runLoadClient(LOAD, args);
}

export interface Mail2SmsBenchResult {
  /** Mails accepted (250) a second. */
  rate: number;
  accepted: number;
  refused: number;
  errors: number;
  /** Accepted mails whose message row is in the database (should equal `accepted`). */
  rowsWritten: number;
  p50Ms: number;
  p99Ms: number;
}

/** Runs the benchmark and prints its report; returns the figures. */
export async function benchMail2Sms(
  options: { mails?: number; seconds?: number; sessions?: number; warmup?: number } = {},
): Promise<Mail2SmsBenchResult> {
  const mails = options.mails ?? 5_000;
  const seconds = options.seconds ?? 15;
  const sessions = options.sessions ?? 16;
  const warmup = options.warmup ?? 300;
  const bench = await openChannelBench('mail2sms', 'sms-mb12345-1');
  const { file, account } = bench;
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const smtp = await startMail2Sms({ services: bench.app.services, config: bench.config, log: silent, port: 0, host: '127.0.0.1' });
  try {
    const subjectBase = `${account.name}:${BENCH_LOGIN}:${BENCH_PASSWORD}:${BENCH_SENDER}:{to}::::1`;

    console.log(
      `mail2sms benchmark: SQLite ${file}, ${sessions} SMTP sessions, one receiver a mail (${process.platform}, Node ${process.version})`,
    );
    if (warmup > 0) {
      const w = await runLoad({ port: smtp.port, subjectBase, sessions, mails: warmup, seconds, offset: 0 });
      console.log(
        `  warm-up: ${fmt(w.accepted)} accepted${w.refused || w.errors ? `, ${w.refused} refused, ${w.errors} errors (${w.firstRefusal})` : ''}`,
      );
    }
    const countRows = () => bench.countRows('mail2sms');
    const rowsBefore = countRows();
    const r = await runLoad({ port: smtp.port, subjectBase, sessions, mails, seconds, offset: warmup });
    const rowsWritten = countRows() - rowsBefore;
    const rate = (r.accepted / r.ms) * 1000;
    console.log(
      `  ${fmt(r.accepted)} mails accepted in ${(r.ms / 1000).toFixed(2)} s${r.refused || r.errors ? `, ${r.refused} refused, ${r.errors} errors (first: ${r.firstRefusal})` : ''}`,
    );
    const cpuPerMail = (r.serverCpuMs * 1000) / Math.max(1, r.accepted);
    console.log(
      `  server CPU ${(r.serverCpuMs / 1000).toFixed(2)} s = ${cpuPerMail.toFixed(0)} µs a mail (≈ ${fmt(1e6 / cpuPerMail)}/s on one free core); load average ${loadavg()[0].toFixed(2)} on ${cpus().length} cores`,
    );
    const p50Ms = percentile(r.latencies, 0.5);
    const p99Ms = percentile(r.latencies, 0.99);
    console.log(`  latency (MAIL FROM to the DATA reply) p50 ${p50Ms.toFixed(1)} ms, p99 ${p99Ms.toFixed(1)} ms`);
    console.log(
      `  rows written: ${fmt(rowsWritten)} (${rowsWritten === r.accepted ? 'every accepted mail is durable' : 'MISMATCH with accepted'})`,
    );
    console.log(`  => ${fmt(rate)} mails/s — goal ≥ ${fmt(MAIL2SMS_GOAL)}/s (${rate >= MAIL2SMS_GOAL ? 'met' : 'NOT met'})`);
    return { rate, accepted: r.accepted, refused: r.refused, errors: r.errors, rowsWritten, p50Ms, p99Ms };
  } finally {
    await smtp.close();
    await bench.close();
  }
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const args = new Map<string, string>();
  for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
  const num = (name: string) => (args.has(name) ? Number(args.get(name)) : undefined);
  await benchMail2Sms({ mails: num('mails'), seconds: num('seconds'), sessions: num('sessions'), warmup: num('warmup') });
}
