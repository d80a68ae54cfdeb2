/**
 * Spot check of a few history pages on the benchmark data (`node bin/run-ts.js bench/history-spot.bench.ts
 * --dialect sqlite|postgres --messages N [--cases 'sort=message&q=x|sort=-channel']`): p95 of 10 requests
 * each, printed next to the goal; `--cases` replaces the built-in list with these query strings (limit 50 unless
 * a case sets its own); a case starting with `/` is another path of the account: `/stats?user=x`.
 */
import { buildApp } from '../src/server/app.js';
import { loadConfig } from '../src/server/config.js';
import type { Dialect } from '../src/server/db/database.js';
import { openDatabase } from '../src/server/db/database.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import { openHistoryData } from './history-data.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const dialect = (args.get('dialect') ?? 'sqlite') as Dialect;
const messages = Number(args.get('messages') ?? 10_000_000);
const data = await openHistoryData({ dialect, messages });
await data.close();
const database = openDatabase(data.url);
const app = await buildApp({ config: Object.freeze({ ...loadConfig({}), databaseUrl: data.url }), database });
const { bearer } = await app.services.apiTokens.create(SYSTEM_ACTOR, data.accountName, { name: 'spot' });
const headers = { authorization: `Bearer ${bearer}` };
const base = `/api/v1/accounts/${data.accountName}/outgoing`;
const builtIn = [
  'sort=date',
  'sort=-sender',
  'sort=-sender&from=2026-10-26&to=2026-11-25',
  'sort=receiver&from=2026-10-26&to=2026-11-25',
  'sort=date&receiver=%2B33612*',
  'sort=%2Bdate&receiver=%2B33612*',
  'sort=status&user=apiuser',
  'sort=-channel&status=failed',
  'sort=date&q=Xq9z',
  'sort=date&q=rendez-vous',
  'sort=-sender&q=rendez-vous',
  'sort=date&q=livr%C3%A9',
  'sort=receiver&q=Chlo%C3%A9',
  'sort=message&q=rendez-vous',
];
const cases = args.get('cases')?.split('|') ?? builtIn;
console.log(`${dialect}, ${messages.toLocaleString('en')} messages, 2 cores (machine shared)`);
for (const qs of cases) {
  const times: number[] = [];
  for (let i = 0; i < 12; i++) {
    const t = performance.now();
    const res = await app.inject({
      method: 'GET',
      url: qs.startsWith('/') ? `/api/v1/accounts/${data.accountName}${qs}` : `${base}?${qs}${/(^|&)limit=/.test(qs) ? '' : '&limit=50'}`,
      headers,
    });
    if (res.statusCode !== 200) throw new Error(res.body);
    if (i >= 2) times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const p95 = times[Math.ceil(times.length * 0.95) - 1];
  console.log(`${qs.padEnd(48)} p95 ${p95.toFixed(1).padStart(7)} ms  (goal ≤ ${qs.includes('q=') ? 100 : 20} ms)`);
}
await app.close();
await database.close();
