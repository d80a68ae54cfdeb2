import SqliteDatabase from 'better-sqlite3';
import type { KyselyPlugin, RawNode } from 'kysely';
import { expect, it } from 'vitest';
import { describeWithDatabase, type TestDatabase } from '../../../test/database.js';
import { buildOutgoing, insertOutgoing } from '../../../test/outgoing-factory.js';
import { startStatisticsKeeper } from './sqlite-statistics.js';

/** Rows the planner's statistics say the history had (0: none). */
function analysedRows(database: TestDatabase): number {
  const sqlite = database.sqlite!;
  if (sqlite.prepare("select 1 from sqlite_master where name = 'sqlite_stat1'").get() === undefined) return 0;
  const stat = sqlite.prepare("select stat from sqlite_stat1 where tbl = 'outgoing' and idx = 'outgoing_date'").pluck().get() as
    | string
    | undefined;
  return stat ? Number.parseInt(stat, 10) : 0;
}

const rows = (n: number) => Array.from({ length: n }, () => buildOutgoing({ account_id: 1 }));

describeWithDatabase('sqlite', 'the planner statistics keeper (SQLite)', (ctx) => {
  it('analyses the history once it is large enough, again when it doubled, and not in between', async () => {
    const analysed: number[] = [];
    const keeper = startStatisticsKeeper(ctx.database, { intervalMs: 60_000, minRows: 40, onAnalyzed: (n) => analysed.push(n) });
    try {
      await insertOutgoing(ctx.database, rows(30));
      expect(await keeper.check()).toBe(false);
      expect(analysedRows(ctx.database)).toBe(0);

      await insertOutgoing(ctx.database, rows(20));
      expect(await keeper.check()).toBe(true);
      expect(analysedRows(ctx.database)).toBe(50);
      expect(await keeper.check()).toBe(false);

      await insertOutgoing(ctx.database, rows(40));
      expect(await keeper.check()).toBe(false); // 90 rows: less than twice 50
      await insertOutgoing(ctx.database, rows(10));
      expect(await keeper.check()).toBe(true);
      expect(analysedRows(ctx.database)).toBe(100);
      expect(analysed).toEqual([50, 100]);
    } finally {
      await keeper.close();
    }
  });

  it('waits for another connection writing meanwhile, then analyses and reads the statistics again', async () => {
    const other = new SqliteDatabase(ctx.database.sqliteFile!);
    other.pragma('busy_timeout = 5000');
    const keeper = startStatisticsKeeper(ctx.database, { intervalMs: 60_000, minRows: 40 });
    try {
      await insertOutgoing(ctx.database, rows(100)); // 200 rows: twice the last analysis
      other.exec('begin immediate');
      const checking = keeper.check();
      await new Promise((r) => setTimeout(r, 50));
      other.exec('commit');
      expect(await checking).toBe(true);
      expect(analysedRows(ctx.database)).toBe(200);
    } finally {
      other.close();
      await keeper.close();
    }
  });

  it("analyses statistics left from a much smaller history (a first start's demo), at its first look", async () => {
    // As the demo leaves them: statistics of a history 30 times smaller.
    ctx.database.sqlite!.exec(
      "update sqlite_stat1 set stat = '4' || substr(stat, instr(stat, ' ')) where tbl = 'outgoing' and idx = 'outgoing_date'",
    );
    expect(analysedRows(ctx.database)).toBe(4);
    const analysed: number[] = [];
    const keeper = startStatisticsKeeper(ctx.database, { intervalMs: 60_000, minRows: 40, onAnalyzed: (n) => analysed.push(n) });
    try {
      for (let tries = 0; analysed.length === 0 && tries < 2_000; tries++) await new Promise((r) => setTimeout(r, 5));
      expect(analysed).toEqual([200]);
      expect(analysedRows(ctx.database)).toBe(200);
    } finally {
      await keeper.close();
    }
  });

  it('reads the statistics again at the next look when reading them failed (the write lock was held too long)', async () => {
    // The serving connection's `analyze sqlite_schema` refused once, as after LOCK_WAIT_MS of another writer.
    let reads = 0;
    const failing: KyselyPlugin = {
      transformQuery({ node }) {
        if (node.kind === 'RawNode' && (node as RawNode).sqlFragments.join('?').includes('analyze sqlite_schema') && reads++ === 0) {
          throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
        }
        return node;
      },
      transformResult: async ({ result }) => result,
    };
    const keeper = startStatisticsKeeper({ ...ctx.database, db: ctx.database.db.withPlugin(failing) }, { intervalMs: 60_000, minRows: 40 });
    try {
      const before = Math.max(analysedRows(ctx.database), 40);
      await insertOutgoing(ctx.database, rows(before)); // at least twice the last analysis
      await expect(keeper.check()).rejects.toThrow('database is locked');
      expect(reads).toBe(1);
      expect(analysedRows(ctx.database)).toBeGreaterThanOrEqual(2 * before); // analysed on its thread, not read here yet
      // The next look reads them first; nothing to analyse after that.
      expect(await keeper.check()).toBe(false);
      expect(reads).toBe(2);
      expect(await keeper.check()).toBe(false);
      expect(reads).toBe(2);
    } finally {
      await keeper.close();
    }
  });
});

describeWithDatabase('postgres', 'the planner statistics keeper on PostgreSQL', (ctx) => {
  it('leaves PostgreSQL to its autovacuum', async () => {
    const keeper = startStatisticsKeeper(ctx.database, { minRows: 1 });
    try {
      await insertOutgoing(ctx.database, rows(5));
      expect(await keeper.check()).toBe(false);
    } finally {
      await keeper.close();
    }
  });
});
