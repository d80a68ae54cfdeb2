/** Formatting speed of the history exports: `npx tsx bench/csv-format.bench.ts`. Goal ≥ 2,000,000 rows/s. */

import { getTimeFormatter } from '../src/shared/account-time.js';
import { type CsvFormat, createCsvFormatter, jsonLine } from '../src/shared/csv.js';
import type { Outgoing } from '../src/shared/outgoing.js';
import { CHANNELS, OUTGOING_STATUSES } from '../src/shared/status.js';

const ROWS = 1_000_000;
const BATCH = 1_000;
const GOAL = 2_000_000;
const TIME_ZONE = 'Europe/Paris';
const MESSAGES = [
  'Votre code de connexion est 482913',
  'Rappel : rendez-vous demain à 14h30 chez le Dr Lefèvre. Répondez STOP pour annuler.',
  'Your parcel "XK-2291" is out for delivery 🚚',
  'Mon\nmessage',
  '-20% sur tout le magasin ce week-end !',
  null,
];

/** One page of rows as the export reads them from the database, newest first. */
function syntheticRows(first: number, count: number): Outgoing[] {
  const rows: Outgoing[] = [];
  const newest = Date.parse('2024-10-28T12:00:00Z');
  for (let i = first; i < first + count; i += 1) {
    const createdAt = newest - i * 2_700;
    const status = OUTGOING_STATUSES[i % OUTGOING_STATUSES.length];
    rows.push({
      id: ROWS - i,
      accountId: 1,
      userId: i % 3 === 0 ? null : 1 + (i % 5),
      userLogin: i % 3 === 0 ? null : `user${1 + (i % 5)}`,
      channel: CHANNELS[i % CHANNELS.length],
      sender: i % 2 === 0 ? 'RELAIS' : '+33700000000',
      receiver: `+336${String(10_000_000 + (i % 89_999_999)).padStart(8, '0')}`,
      message: MESSAGES[i % MESSAGES.length],
      encoding: 'gsm7',
      parts: 1,
      credits: 1,
      tag: i % 4 === 0 ? 'promo' : '',
      status,
      createdAt,
      sentAt: status === 'pending' || status === 'canceled' ? null : createdAt + 800,
      deliveredAt: status === 'delivered' ? createdAt + 4_000 : null,
      failedAt: status === 'failed' ? createdAt + 3_000 : null,
      expiredAt: status === 'expired' ? createdAt + 172_800_000 : null,
      canceledAt: status === 'canceled' ? createdAt + 1_000 : null,
      carrierMessageId: status === 'pending' ? null : `c${i}`,
      errorCode: status === 'failed' ? '53' : null,
      errorText: status === 'failed' ? 'Blacklisted (STOP)' : null,
      deferredUntil: null,
      validUntil: createdAt + 172_800_000,
      jobId: i >> 2,
    });
  }
  return rows;
}

/** Median rows/s of three runs over ROWS rows, after a warm-up. */
function run(name: string, format: (o: Outgoing) => string): void {
  measure(format, ROWS / 10);
  const rates = [measure(format, ROWS), measure(format, ROWS), measure(format, ROWS)].sort((a, b) => a - b);
  const verdict = rates[1] >= GOAL ? 'ok' : 'BELOW GOAL';
  console.log(
    `${name.padEnd(9)} ${rates[1].toLocaleString('en-US').padStart(10)} rows/s  (goal ≥ 2,000,000 rows/s: ${verdict}; runs ${rates.map((r) => `${(r / 1e6).toFixed(2)}M`).join(' ')})`,
  );
}

function measure(format: (o: Outgoing) => string, count: number): number {
  let chars = 0;
  let nanos = 0n;
  for (let first = 0; first < count; first += BATCH) {
    const rows = syntheticRows(first, BATCH);
    const start = process.hrtime.bigint();
    for (const o of rows) chars += format(o).length;
    nanos += process.hrtime.bigint() - start;
  }
  if (chars === 0) throw new Error('nothing formatted');
  return Math.round(count / (Number(nanos) / 1e9));
}

console.log(`${ROWS.toLocaleString('en-US')} synthetic rows in pages of ${BATCH}, ${TIME_ZONE}, median of 3 runs`);
const formats: CsvFormat[] = ['seed', 'detailed'];
for (const format of formats) run(format, createCsvFormatter(format, TIME_ZONE).row);
const fmt = getTimeFormatter(TIME_ZONE);
run('jsonl', (o) => jsonLine(o, fmt));
