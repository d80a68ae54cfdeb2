/**
 * A lean HTTP/1.1 load generator for the channel and sending benchmarks: C keep-alive connections on raw
 * sockets, each sending its next request as soon as the previous answer is complete (no pipelining).
 *
 * Why not node:http's client: on this 2-core machine it spent 137 µs of CPU a request — more than a bare
 * Fastify route answering from memory (88 µs) — so the load generator, not the server, used most of the
 * machine the systems under test share with it. This one writes a prepared request string and reads the
 * status line and `Content-Length` of the answer (chunked answers are read too), a few µs a request.
 */
import net from 'node:net';

export interface KeepAliveLoadSpec {
  host: string;
  port: number;
  clients: number;
  /** Requests to answer. */
  count: number;
  /** The whole request `i` (request line, headers, blank line, body), written as UTF-8: Content-Length in bytes. */
  request: (i: number) => string;
  /** Whether an answer counts as accepted. */
  accepted: (status: number, body: string) => boolean;
  /** Gives up at this wall-clock time (epoch ms). */
  deadline: number;
}

export interface KeepAliveLoadResult {
  accepted: number;
  refused: number;
  errors: number;
  firstRefusal: string | null;
  /** Wall clock (epoch ms) of the first request sent and the last answer received. */
  startedAt: number;
  endedAt: number;
  /** Each answer's latency in ms. */
  latencies: number[];
}

/** One parsed answer, or null when `data` does not hold a whole one yet. */
function parseAnswer(data: string): { status: number; body: string; length: number } | null {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const status = Number(data.slice(9, 12));
  const head = data.slice(0, headEnd).toLowerCase();
  const lengthAt = head.indexOf('\r\ncontent-length:');
  if (lengthAt >= 0) {
    const length = Number.parseInt(head.slice(lengthAt + 17, head.indexOf('\r\n', lengthAt + 2) >>> 0 || undefined), 10);
    if (data.length < headEnd + 4 + length) return null;
    return { status, body: data.slice(headEnd + 4, headEnd + 4 + length), length: headEnd + 4 + length };
  }
  if (head.includes('\r\ntransfer-encoding: chunked')) {
    let at = headEnd + 4;
    let body = '';
    for (;;) {
      const lineEnd = data.indexOf('\r\n', at);
      if (lineEnd < 0) return null;
      const size = Number.parseInt(data.slice(at, lineEnd), 16);
      if (data.length < lineEnd + 2 + size + 2) return null;
      if (size === 0) return { status, body, length: lineEnd + 4 };
      body += data.slice(lineEnd + 2, lineEnd + 2 + size);
      at = lineEnd + 2 + size + 2;
    }
  }
  throw new Error(`an answer with neither Content-Length nor chunked body: ${data.slice(0, 200)}`);
}

export function runKeepAliveLoad(spec: KeepAliveLoadSpec): Promise<KeepAliveLoadResult> {
  let next = 0;
  const result: KeepAliveLoadResult = {
    accepted: 0,
    refused: 0,
    errors: 0,
    firstRefusal: null,
    startedAt: Date.now(),
    endedAt: 0,
    latencies: [],
  };
  return new Promise((resolve) => {
    let open = spec.clients;
    const done = () => {
      if (--open > 0) return;
      result.endedAt = Date.now();
      resolve(result);
    };
    for (let c = 0; c < spec.clients; c++) {
      const socket = net.connect({ host: spec.host, port: spec.port, noDelay: true });
      socket.setEncoding('latin1'); // one character a byte: Content-Length counts characters
      let data = '';
      let started = 0;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        socket.destroy();
        done();
      };
      const send = () => {
        if (next >= spec.count || Date.now() > spec.deadline) return finish();
        const i = next++;
        started = performance.now();
        socket.write(spec.request(i));
      };
      socket.on('connect', send);
      socket.on('data', (chunk: string) => {
        data += chunk;
        let answer: ReturnType<typeof parseAnswer>;
        try {
          answer = parseAnswer(data);
        } catch (error) {
          result.errors++;
          result.firstRefusal ??= String(error);
          return finish();
        }
        if (!answer) return;
        data = data.slice(answer.length);
        result.latencies.push(performance.now() - started);
        if (spec.accepted(answer.status, answer.body)) result.accepted++;
        else {
          result.refused++;
          result.firstRefusal ??= `${answer.status} ${answer.body.slice(0, 300)}`;
        }
        send();
      });
      socket.on('error', (error) => {
        result.errors++;
        result.firstRefusal ??= String(error);
        finish();
      });
      socket.on('close', finish);
    }
  });
}
