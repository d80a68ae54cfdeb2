import { systemClock } from '../src/server/clock.js';
import { composeServices } from '../src/server/services.js';
import { testConfig } from './app.js';
import type { TestDatabase } from './database.js';
import { createAccount, createCustomer, createSender, createToken } from './factories.js';
import { partKey } from './relais-process.js';
import type { TestSmsc } from './smsc.js';

// A send run for the failure tests: an account with a token, a plan of jobs with one unique
// receiver per message, real HTTP requests, and what the database and the SMSC hold at the end.

export const SENDER = 'Relais';
/** One GSM 7-bit part. */
const SHORT_TEXT = 'Relais failure test: your parcel is on its way.';
/** Two GSM 7-bit parts (161 to 306 characters). */
const LONG_TEXT = `${'Relais failure test, a message in two parts. '.repeat(5)}End.`;

export interface SendingAccount {
  id: number;
  name: string;
  token: string;
  credits: number;
}

/** A customer, an SMS account with `credits`, the sender `Relais` and an account-wide token. */
export async function seedSendingAccount(database: TestDatabase, credits: number): Promise<SendingAccount> {
  const services = composeServices({ config: testConfig(), database, clock: systemClock });
  const customer = await createCustomer(services);
  const account = await createAccount(services, { owner: customer, credits });
  await createSender(services, account, { sender: SENDER });
  const token = await createToken(services, account);
  return { id: account.id, name: account.name, token, credits };
}

export interface PlannedJob {
  /** Position in the plan. */
  index: number;
  receivers: string[];
  message: string;
  /** SMS parts of each of its messages. */
  parts: number;
}

/**
 * `bulkJobs` jobs of `bulkSize` receivers (one part) and `singles` jobs of one receiver (every
 * other one in two parts), interleaved. Every message has its own receiver `+336…`, numbered from `first`.
 */
export function planJobs(options: { bulkJobs: number; bulkSize: number; singles: number; first?: number }): PlannedJob[] {
  let next = 10_000_000 + (options.first ?? 0);
  const receivers = (n: number) => Array.from({ length: n }, () => `+336${next++}`);
  const jobs: Omit<PlannedJob, 'index'>[] = [];
  const total = options.bulkJobs + options.singles;
  let bulk = 0;
  let single = 0;
  for (let i = 0; i < total; i++) {
    // Spread the singles evenly between the bulk jobs.
    const takeSingle = single < options.singles && (bulk >= options.bulkJobs || single * options.bulkJobs <= bulk * options.singles);
    if (takeSingle) {
      const long = single % 2 === 1;
      jobs.push({ receivers: receivers(1), message: long ? LONG_TEXT : SHORT_TEXT, parts: long ? 2 : 1 });
      single++;
    } else {
      jobs.push({ receivers: receivers(options.bulkSize), message: SHORT_TEXT, parts: 1 });
      bulk++;
    }
  }
  return jobs.map((j, index) => ({ ...j, index }));
}

export interface JobAnswer {
  ids: number[];
  jobId: number;
  totalCreditsRemoved: number;
}

/** POST …/jobs; resolves with the report (throws on any answer but 200, rejects when the connection fails). */
export async function postJob(baseUrl: string, account: SendingAccount, job: PlannedJob): Promise<JobAnswer> {
  const res = await fetch(`${baseUrl}/api/v1/accounts/${account.name}/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${account.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ message: job.message, receivers: job.receivers, sender: SENDER, noStopClause: true }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST jobs answered ${res.status}: ${text}`);
  const body = JSON.parse(text) as JobAnswer & { parts: number };
  if (body.ids.length !== job.receivers.length || body.parts !== job.parts) throw new Error(`unexpected report: ${text.slice(0, 300)}`);
  return body;
}

export interface MessageRow {
  id: number;
  job_id: number | null;
  receiver: string;
  parts: number;
  credits: number;
  status: string;
  carrier_message_id: string | null;
}

/** Messages of the account by status. */
export async function statusCounts(database: TestDatabase, accountId: number): Promise<Record<string, number>> {
  const rows = await database.db
    .selectFrom('outgoing')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('account_id', '=', accountId)
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** What the run left: the account's messages, jobs, credits, queue and carrier bookkeeping, and the SMSC's submits matched to them. */
export async function inspectRun(database: TestDatabase, account: SendingAccount, smsc: TestSmsc) {
  const { db } = database;
  const messages: MessageRow[] = await db
    .selectFrom('outgoing')
    .select(['id', 'job_id', 'receiver', 'parts', 'credits', 'status', 'carrier_message_id'])
    .where('account_id', '=', account.id)
    .orderBy('id')
    .execute();
  const jobs = await db.selectFrom('jobs').select(['id', 'receivers', 'credits']).where('account_id', '=', account.id).execute();
  const { credits } = await db.selectFrom('accounts').select('credits').where('id', '=', account.id).executeTakeFirstOrThrow();
  const queue = await db.selectFrom('dispatch_queue').select('outgoing_id').where('account_id', '=', account.id).execute();
  const parts = await db.selectFrom('carrier_parts').select(['carrier_message_id', 'outgoing_id', 'part', 'status']).execute();
  const early = await db.selectFrom('early_receipts').select('carrier_message_id').execute();

  // The SMSC's view: how many times each part of each receiver reached it.
  const received = new Map<string, number>();
  for (const s of smsc.submits) received.set(partKey(s), (received.get(partKey(s)) ?? 0) + 1);
  const expected = new Set<string>();
  for (const m of messages)
    for (let p = 1; p <= m.parts; p++)
      expected.add(partKey({ destinationAddr: m.receiver.slice(1), udh: m.parts > 1 ? { ref: 0, total: m.parts, seq: p } : null }));
  const missing = [...expected].filter((k) => !received.has(k));
  const unexpected = [...received.keys()].filter((k) => !expected.has(k));
  let duplicateParts = 0;
  const duplicatedMessages = new Set<string>();
  for (const [key, n] of received) {
    if (n > 1) {
      duplicateParts += n - 1;
      duplicatedMessages.add(key.split('#')[0]);
    }
  }

  // carrier_parts: each message exactly its parts, numbered 1…parts, the first one's id on the message.
  const partsOf = new Map<number, typeof parts>();
  for (const p of parts) {
    const list = partsOf.get(p.outgoing_id) ?? [];
    list.push(p);
    partsOf.set(p.outgoing_id, list);
  }
  const badBookkeeping = messages.filter((m) => {
    const list = (partsOf.get(m.id) ?? []).sort((a, b) => a.part - b.part);
    return (
      list.length !== m.parts ||
      list.some((p, i) => p.part !== i + 1 || p.status !== m.status) ||
      list[0]?.carrier_message_id !== m.carrier_message_id
    );
  });
  const known = new Set([...parts.map((p) => p.carrier_message_id), ...early.map((e) => e.carrier_message_id)]);
  const acceptedIds = smsc.submits.flatMap((s) => (s.status === 0 && s.messageId ? [s.messageId] : []));
  const recorded = new Set(parts.map((p) => p.carrier_message_id));

  const jobCredits = new Map<number | null, { n: number; credits: number }>();
  for (const m of messages) {
    const j = jobCredits.get(m.job_id) ?? { n: 0, credits: 0 };
    j.n += 1;
    j.credits += m.credits;
    jobCredits.set(m.job_id, j);
  }
  const badJobs = jobs.filter((j) => jobCredits.get(j.id)?.n !== j.receivers || jobCredits.get(j.id)?.credits !== j.credits);

  return {
    messages,
    jobs,
    credits,
    debited: messages.reduce((a, m) => a + m.credits, 0),
    jobsDebited: jobs.reduce((a, j) => a + j.credits, 0),
    badJobs,
    queue: queue.length,
    missing,
    unexpected,
    duplicateParts,
    duplicatedMessages: duplicatedMessages.size,
    badBookkeeping,
    /** Carrier ids the SMSC gave that Relais never recorded (their receipts are parked in early_receipts). */
    unrecordedIds: acceptedIds.filter((id) => !recorded.has(id)),
    /** Carrier ids the SMSC gave that Relais knows neither as a part nor as a parked receipt. */
    unknownIds: acceptedIds.filter((id) => !known.has(id)),
    connections: new Set(smsc.submits.map((s) => s.connection)),
    submitsByConnection: smsc.submits.reduce<Record<number, number>>((acc, s) => {
      acc[s.connection] = (acc[s.connection] ?? 0) + 1;
      return acc;
    }, {}),
  };
}
