/**
 * The child processes of `bench/send.bench.ts`, one role each (`node bin/run-ts.js bench/send-peers.ts <role> '<json>'`),
 * so none of them steals the event loop of the systems measured:
 *
 * - `smsc`: a minimal SMPP 3.4 SMSC on 127.0.0.1 written on raw sockets (header + the few fields it needs,
 *   so it costs far less CPU than the systems it serves). Accepts any bind, answers each submit_sm at
 *   once with a decimal message_id, answers enquire_link and unbind, and — while receipts are on — sends a
 *   DELIVRD receipt (text and TLVs) right after the submit_sm_resp of each submit that asked for one.
 *   Counts per bind system_id: `bind:<id>`, `submit:<id>`, `receipt:<id>` (sent), `receipt-resp:<id>`
 *   (deliver_sm_resp, which an ESME sends once it has handled the receipt).
 * - `sink`: the loopback HTTP listener that plays the callback URLs: `GET /<system>?…` counts
 *   `cb:<system>` and `cb:<system>:<kind>` (Relais' `status`, Kannel's `type` from `%d`), answers 200.
 * - `load`: C keep-alive connections (keepalive-load.ts: raw sockets, far lighter than node:http's client) sending single- or multi-receiver requests to Relais'
 *   `POST /api/v1/accounts/{account}/jobs` (or its `GET /cgi-bin/sms/http2sms.cgi`) or Kannel's `GET /cgi-bin/sendsms` until `count` are answered;
 *   prints a JSON report on stdout.
 *
 * `smsc` and `sink` talk to the parent over IPC: `{ type: 'ready', port }` once listening; they answer
 * `{ type: 'stats', req }` with `{ type: 'stats', req, counters }` and `{ type: 'watch', req, counter, target }`
 * with `{ type: 'reached', req, at }` (epoch ms) once the counter reaches the target; `{ type: 'receipts', on }`
 * turns the SMSC's receipts on or off.
 */
import http from 'node:http';
import net from 'node:net';
import { ovhSignature } from '../src/server/modules/ovh-api/ovh-signature.js';
import { type KeepAliveLoadResult, runKeepAliveLoad } from './keepalive-load.js';

type Counter = { count: number; firstAt: number; lastAt: number };

/** Named counters with the time each reached a watched value. */
function createCounters() {
  const counters = new Map<string, Counter>();
  const watches = new Map<string, { target: number; req: number }[]>();
  function reached(name: string, c: Counter): void {
    const list = watches.get(name);
    if (!list) return;
    for (const w of [...list]) {
      if (c.count >= w.target) {
        list.splice(list.indexOf(w), 1);
        process.send?.({ type: 'reached', req: w.req, at: c.lastAt, count: c.count });
      }
    }
  }
  return {
    add(name: string, n = 1): void {
      const now = Date.now();
      let c = counters.get(name);
      if (!c) {
        c = { count: 0, firstAt: now, lastAt: now };
        counters.set(name, c);
      }
      c.count += n;
      c.lastAt = now;
      reached(name, c);
    },
    /** Handles the parent's `stats` and `watch` messages; true when it was one of them. */
    handle(m: { type: string; req?: number; counter?: string; target?: number }): boolean {
      if (m.type === 'stats') {
        process.send?.({ type: 'stats', req: m.req, counters: Object.fromEntries(counters) });
        return true;
      }
      if (m.type === 'watch' && m.counter && m.target !== undefined && m.req !== undefined) {
        const list = watches.get(m.counter) ?? [];
        list.push({ target: m.target, req: m.req });
        watches.set(m.counter, list);
        const c = counters.get(m.counter);
        if (c) reached(m.counter, c);
        return true;
      }
      return false;
    },
  };
}

// ---- smsc ----------------------------------------------------------------------------------------

const BIND_RECEIVER = 0x00000001;
const BIND_TRANSMITTER = 0x00000002;
const SUBMIT_SM = 0x00000004;
const DELIVER_SM = 0x00000005;
const UNBIND = 0x00000006;
const BIND_TRANSCEIVER = 0x00000009;
const ENQUIRE_LINK = 0x00000015;
const GENERIC_NACK = 0x80000000;
const RESP = 0x80000000;
/** The response id of a command, as an unsigned 32-bit value (`|` gives a signed one). */
const resp = (id: number) => (id | RESP) >>> 0;
const ESME_RINVCMDID = 0x00000003;

function pdu(commandId: number, status: number, sequence: number, body: Buffer | null): Buffer {
  const length = 16 + (body?.length ?? 0);
  const b = Buffer.allocUnsafe(length);
  b.writeUInt32BE(length, 0);
  b.writeUInt32BE(commandId >>> 0, 4);
  b.writeUInt32BE(status, 8);
  b.writeUInt32BE(sequence, 12);
  body?.copy(b, 16);
  return b;
}

/** A C-octet string at `at`: [value, offset after its NUL]. */
function cString(b: Buffer, at: number, end: number): [string, number] {
  let i = at;
  while (i < end && b[i] !== 0) i++;
  return [b.toString('latin1', at, i), i + 1];
}

function smppDate(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCFullYear() % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}`;
}

/** A DELIVRD receipt for `messageId`: esm_class 0x04, the usual text, receipted_message_id and message_state TLVs. */
function receiptBody(
  messageId: string,
  source: { ton: number; npi: number; addr: string },
  dest: { ton: number; npi: number; addr: string },
) {
  const now = smppDate(new Date());
  const text = Buffer.from(`id:${messageId} sub:001 dlvrd:001 submit date:${now} done date:${now} stat:DELIVRD err:000 text:`, 'latin1');
  const id = Buffer.from(`${messageId}\0`, 'latin1');
  const parts = [
    Buffer.from([0]), // service_type
    Buffer.from([dest.ton, dest.npi]),
    Buffer.from(`${dest.addr}\0`, 'latin1'), // source_addr: the receiver of the original message
    Buffer.from([source.ton, source.npi]),
    Buffer.from(`${source.addr}\0`, 'latin1'), // destination_addr: its sender
    Buffer.from([0x04, 0, 0, 0, 0, 0, 0, 0, 0, text.length]), // esm_class … sm_default_msg_id, sm_length
    text,
    Buffer.from([0x00, 0x1e, 0, id.length]),
    id,
    Buffer.from([0x04, 0x27, 0, 1, 2]), // message_state DELIVERED
  ];
  return Buffer.concat(parts);
}

function runSmsc(): void {
  const counters = createCounters();
  let receipts = false;
  let nextId = 1;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let pending: Buffer | null = null;
    let systemId = '?';
    let sequence = 1;
    let out: Buffer[] = [];
    let flushing = false;
    const send = (b: Buffer) => {
      out.push(b);
      if (!flushing) {
        flushing = true;
        setImmediate(() => {
          flushing = false;
          const chunk = out.length === 1 ? out[0] : Buffer.concat(out);
          out = [];
          if (!socket.destroyed) socket.write(chunk);
        });
      }
    };
    const handle = (b: Buffer, at: number, end: number) => {
      const id = b.readUInt32BE(at + 4);
      const seq = b.readUInt32BE(at + 12);
      const body = at + 16;
      switch (id) {
        case SUBMIT_SM: {
          const messageId = String(nextId++);
          send(pdu(resp(SUBMIT_SM), 0, seq, Buffer.from(`${messageId}\0`, 'latin1')));
          counters.add(`submit:${systemId}`);
          if (!receipts) return;
          let p = cString(b, body, end)[1]; // service_type
          const source = { ton: b[p], npi: b[p + 1], addr: '' };
          [source.addr, p] = cString(b, p + 2, end);
          const dest = { ton: b[p], npi: b[p + 1], addr: '' };
          [dest.addr, p] = cString(b, p + 2, end);
          p += 3; // esm_class, protocol_id, priority_flag
          p = cString(b, p, end)[1]; // schedule_delivery_time
          p = cString(b, p, end)[1]; // validity_period
          if ((b[p] & 0x03) === 0) return; // registered_delivery: no receipt asked
          send(pdu(DELIVER_SM, 0, sequence++, receiptBody(messageId, source, dest)));
          counters.add(`receipt:${systemId}`);
          return;
        }
        case resp(DELIVER_SM):
          counters.add(`receipt-resp:${systemId}`);
          return;
        case BIND_RECEIVER:
        case BIND_TRANSMITTER:
        case BIND_TRANSCEIVER:
          systemId = cString(b, body, end)[0];
          counters.add(`bind:${systemId}`);
          send(pdu(resp(id), 0, seq, Buffer.from('BENCHSMSC\0', 'latin1')));
          return;
        case ENQUIRE_LINK:
          send(pdu(resp(ENQUIRE_LINK), 0, seq, null));
          return;
        case UNBIND:
          send(pdu(resp(UNBIND), 0, seq, null));
          setTimeout(() => socket.end(), 10);
          return;
        default:
          if ((id & RESP) === 0) send(pdu(GENERIC_NACK, ESME_RINVCMDID, seq, null));
      }
    };
    socket.on('data', (chunk: Buffer) => {
      let b = pending ? Buffer.concat([pending, chunk]) : chunk;
      let at = 0;
      while (b.length - at >= 16) {
        const length = b.readUInt32BE(at);
        if (length < 16) {
          socket.destroy();
          return;
        }
        if (b.length - at < length) break;
        handle(b, at, at + length);
        at += length;
      }
      b = b.subarray(at);
      pending = b.length > 0 ? Buffer.from(b) : null;
    });
    socket.on('error', () => {});
  });
  process.on('message', (m: { type: string; on?: boolean }) => {
    if (m.type === 'receipts') receipts = m.on === true;
    else counters.handle(m);
  });
  process.on('disconnect', () => process.exit(0));
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ type: 'ready', port: (server.address() as net.AddressInfo).port });
  });
}

// ---- sink ----------------------------------------------------------------------------------------

function runSink(): void {
  const counters = createCounters();
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const system = url.slice(1, q < 0 ? undefined : q);
    const params = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    counters.add(`cb:${system}`);
    counters.add(`cb:${system}:${params.get('status') ?? params.get('type') ?? '?'}`);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    res.end('ok');
  });
  server.keepAliveTimeout = 60_000;
  process.on('message', (m: { type: string }) => counters.handle(m));
  process.on('disconnect', () => process.exit(0));
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ type: 'ready', port: (server.address() as net.AddressInfo).port });
  });
}

// ---- load ----------------------------------------------------------------------------------------

/** What the `load` role is asked to do. */
export interface LoadSpec {
  target: 'relais' | 'kannel';
  port: number;
  clients: number;
  /** Requests to answer. */
  count: number;
  /** Receivers in each request. */
  receivers: number;
  /** Receiver numbers start here (unique across phases). */
  offset: number;
  /** Relais: account name and bearer token (native API), or an SMS user's login and password (http2sms). */
  account?: string;
  token?: string;
  relaisChannel?: 'api' | 'http2sms' | 'ovh-api';
  /** Relais through OVH's REST API: the three keys (requests signed as OVH's npm client signs them). */
  ovh?: { appKey: string; appSecret: string; consumerKey: string };
  login?: string;
  password?: string;
  /** Kannel: sendsms user, and the dlr-url to ask for (with dlr-mask 9: SMSC accepted + delivered), or none. */
  kannelUser?: string;
  dlrUrl?: string | null;
  /** Gives up at this wall-clock time (epoch ms). */
  deadline: number;
}

/** What the `load` role prints. */
export interface LoadReport extends Omit<KeepAliveLoadResult, 'latencies'> {
  p50Ms: number;
  p99Ms: number;
  /** CPU seconds this load client used. */
  cpu: number;
}

function receiver(n: number): string {
  return `+3361${String(n % 10_000_000).padStart(7, '0')}`;
}

/**
 * The text of request `i`: what companies send (codes, appointments, deliveries), 70–110 characters of
 * GSM 7-bit (one part), each with its own numbers — not one short repeated text, which would make a
 * history's text index look cheaper than it is. The same text for Kannel and Relais.
 */
const TEXTS = [
  (n: number) => `Votre code de connexion est ${n % 1_000_000}. Il expire dans 10 minutes. Ne le communiquez a personne.`,
  (n: number) =>
    `Rappel : rendez-vous le ${1 + (n % 28)}/12 a ${8 + (n % 10)}h30 au cabinet, reference ${n}. Repondez ANNULER pour annuler.`,
  (n: number) => `Votre colis no ${n * 7} sera livre demain entre ${9 + (n % 8)}h et ${11 + (n % 8)}h. Suivi : relais.example/c/${n}`,
  (n: number) => `Merci pour votre achat ! Votre facture F-${n} de ${(n % 500) + 10},90 EUR est disponible dans votre espace client.`,
];
const benchText = (i: number): string => TEXTS[i % TEXTS.length](i);
const formText = (i: number): string => encodeURIComponent(benchText(i)).replaceAll('%20', '+');

async function runLoad(spec: LoadSpec): Promise<void> {
  const relaisPath = `/api/v1/accounts/${spec.account}/jobs`;
  const dlr = spec.dlrUrl ? `&dlr-mask=9&dlr-url=${encodeURIComponent(spec.dlrUrl)}` : '';
  const host = `127.0.0.1:${spec.port}`;
  const request = (i: number): string => {
    const first = spec.offset + i * spec.receivers;
    if (spec.target === 'relais' && spec.relaisChannel === 'http2sms') {
      const to = Array.from({ length: spec.receivers }, (_, k) => encodeURIComponent(receiver(first + k))).join(',');
      const path = `/cgi-bin/sms/http2sms.cgi?account=${spec.account}&login=${spec.login}&password=${spec.password}&from=BENCH&to=${to}&message=${formText(i)}&noStop=1`;
      return `GET ${path} HTTP/1.1\r\nhost: ${host}\r\n\r\n`;
    }
    if (spec.target === 'relais' && spec.relaisChannel === 'ovh-api' && spec.ovh) {
      const receivers = Array.from({ length: spec.receivers }, (_, k) => receiver(first + k));
      const body = JSON.stringify({ message: benchText(i), receivers, sender: 'BENCH', noStopClause: true });
      const path = `/1.0/sms/${spec.account}/users/${spec.login}/jobs`;
      const timestamp = String(Math.floor(Date.now() / 1000));
      const signature = ovhSignature({ ...spec.ovh, method: 'POST', url: `https://127.0.0.1${path}`, body, timestamp });
      return `POST ${path} HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\nx-ovh-application: ${spec.ovh.appKey}\r\nx-ovh-consumer: ${spec.ovh.consumerKey}\r\nx-ovh-timestamp: ${timestamp}\r\nx-ovh-signature: ${signature}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    }
    if (spec.target === 'relais') {
      const receivers = Array.from({ length: spec.receivers }, (_, k) => receiver(first + k));
      const body = JSON.stringify({ message: benchText(i), receivers, sender: 'BENCH', noStopClause: true });
      return `POST ${relaisPath} HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${spec.token}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    }
    const to = Array.from({ length: spec.receivers }, (_, k) => encodeURIComponent(receiver(first + k))).join('+');
    const path = `/cgi-bin/sendsms?username=${spec.kannelUser}&password=${spec.kannelUser}&from=BENCH&to=${to}&text=${formText(i)}${dlr}`;
    return `GET ${path} HTTP/1.1\r\nhost: ${host}\r\n\r\n`;
  };
  const run = await runKeepAliveLoad({
    host: '127.0.0.1',
    port: spec.port,
    clients: spec.clients,
    count: spec.count,
    request,
    accepted: (status, body) =>
      spec.target === 'kannel'
        ? status === 202 && body.startsWith('0:')
        : spec.relaisChannel === 'http2sms'
          ? status === 200 && body.startsWith('OK\n')
          : status === 200,
    deadline: spec.deadline,
  });
  const latencies = run.latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil(latencies.length * p) - 1))] ?? 0;
  const used = process.cpuUsage();
  const report: LoadReport = {
    accepted: run.accepted,
    refused: run.refused,
    errors: run.errors,
    firstRefusal: run.firstRefusal,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    cpu: (used.user + used.system) / 1e6,
  };
  process.stdout.write(JSON.stringify(report));
}

const [role, json] = process.argv.slice(2);
if (role === 'smsc') runSmsc();
else if (role === 'sink') runSink();
else if (role === 'load') await runLoad(JSON.parse(json) as LoadSpec);
else throw new Error(`send-peers: unknown role "${role}" (smsc, sink or load)`);
