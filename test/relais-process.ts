import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RecordedSubmit, TestSmsc } from './smsc.js';

// Real `relais serve` processes for the failure tests (kill -9, several servers on one database),
// and the SMSC side those tests need: receipts for every accepted submit, sent on whatever
// connection is bound, like an SMSC that keeps receipts for its client until it binds again.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const children = new Set<ChildProcess>();

// A test runner that dies must not leave servers behind.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Awaits `probe` every `everyMs` until it returns a truthy value (returned), or throws after `timeoutMs`. */
export async function waitUntil<T>(
  probe: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  what: string,
  timeoutMs: number,
  everyMs = 50,
  /** What to add to the timeout error: the state that would explain it. */
  explain?: () => Promise<string> | string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${explain ? `: ${await explain()}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface RelaisProcess {
  /** `http://127.0.0.1:PORT`. */
  baseUrl: string;
  pid: number;
  /** Everything it printed (stdout and stderr), for failure messages and log checks. */
  output(): string;
  /** Parsed pino lines of at least `warn` level. */
  warnings(): Array<{ level: number; msg: string } & Record<string, unknown>>;
  /** SIGKILL, resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful close), resolves once it is gone (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * Starts `node bin/relais.js serve` with the HTTP API and the dispatcher only, on a free port of
 * 127.0.0.1, and resolves once it printed its banner (the dispatcher is started by then).
 */
export async function startRelaisProcess(options: {
  databaseUrl: string;
  carrier: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}): Promise<RelaisProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['bin/relais.js', 'serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_NO_WARNINGS: '1',
      RELAIS_DATABASE_URL: options.databaseUrl,
      RELAIS_HTTP_PORT: String(port),
      RELAIS_HOST: '127.0.0.1',
      RELAIS_SERVICES: 'http,dispatcher',
      RELAIS_CARRIER: options.carrier,
      RELAIS_LOG_LEVEL: 'warn',
      RELAIS_ARGON2_TEST_FAST: '1',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  }).then(() => {
    children.delete(child);
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  const kill = async () => {
    if (!gone) child.kill('SIGKILL');
    await exited;
  };
  try {
    await waitUntil(
      () => {
        if (gone) throw new Error(`relais serve exited before it was ready:\n${out.slice(-4000)}`);
        return out.includes('Relais is running');
      },
      'relais serve to start',
      options.timeoutMs ?? 90_000,
      20,
    );
  } catch (error) {
    await kill();
    throw error;
  }
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    output: () => out,
    warnings: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as { level: number; msg: string } & Record<string, unknown>];
          } catch {
            return [];
          }
        })
        .filter((l) => l.level >= 40),
    kill,
    async stop(timeoutMs = 15_000) {
      if (gone) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** SIGKILLs every server this module started that is still running. */
export async function killAllRelaisProcesses(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  children.clear();
}

/** `destinationAddr` and part number of a recorded submit: one key per part of one message. */
export function partKey(s: Pick<RecordedSubmit, 'destinationAddr' | 'udh'>): string {
  return `${s.destinationAddr}#${s.udh?.seq ?? 1}`;
}

export interface ReceiptPump {
  /** Receipts answered ESME_ROK by Relais. */
  readonly acknowledged: number;
  /** Accepted submits still waiting for their receipt to be acknowledged. */
  readonly waiting: number;
  stop(): void;
}

/**
 * Plays the SMSC's receipts: a DELIVRD receipt for every submit the test SMSC accepted, sent on
 * whichever receiving connection is bound (not necessarily the one the submit came on), and sent
 * again until Relais acknowledges it with ESME_ROK — while no client is bound, or when one died
 * before answering, the receipt waits, as an SMSC keeps receipts for a client that reconnects.
 */
export function startReceiptPump(smsc: TestSmsc, options: { concurrency?: number; answerTimeoutMs?: number } = {}): ReceiptPump {
  const concurrency = options.concurrency ?? 64;
  const answerTimeoutMs = options.answerTimeoutMs ?? 15_000;
  let scanned = 0;
  const unanswered: RecordedSubmit[] = [];
  const due: string[] = [];
  let outstanding = 0;
  let acknowledged = 0;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();

  /** Sends one receipt; false when no receiving connection is bound (nothing sent). */
  const sendOne = (messageId: string): boolean => {
    let answer: Promise<number>;
    try {
      answer = smsc.sendReceipt({ messageId, stat: 'DELIVRD' });
    } catch {
      return false;
    }
    outstanding += 1;
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      timers.delete(timer);
      outstanding -= 1;
      if (ok) acknowledged += 1;
      else if (!stopped) due.push(messageId);
    };
    // A client killed before answering never will: send it again later.
    const timer = setTimeout(() => done(false), answerTimeoutMs);
    timers.add(timer);
    answer.then(
      (status) => done(status === 0),
      () => done(false),
    );
    return true;
  };

  const timer = setInterval(() => {
    while (scanned < smsc.submits.length) unanswered.push(smsc.submits[scanned++]);
    // A submit is answered (status set) after it was recorded; one never answered (its client died) gets no receipt.
    for (let i = unanswered.length - 1; i >= 0; i--) {
      const s = unanswered[i];
      if (s.status === null) continue;
      unanswered.splice(i, 1);
      if (s.status === 0 && s.messageId) due.push(s.messageId);
    }
    while (due.length > 0 && outstanding < concurrency && !stopped) {
      if (!sendOne(due[0])) break;
      due.shift();
    }
  }, 10);

  return {
    get acknowledged() {
      return acknowledged;
    },
    get waiting() {
      return due.length + outstanding;
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      for (const t of timers) clearTimeout(t);
    },
  };
}
