import { rmSync } from 'node:fs';
import { type Kysely, Migrator, sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../../../../test/database.js';
import { buildOutgoing, insertOutgoing } from '../../../../test/outgoing-factory.js';
import { type Database, openDatabase } from '../database.js';
import { migrateToLatest } from '../migrate.js';
import { DAY_MS } from '../schema.js';
import { indexPendingText, purgeLeftDeletedText } from '../sqlite-text-index.js';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-sending.js';

const DAY_ONE = Date.UTC(2025, 2, 1);

/** A database as a release before migration 0003 left it. */
async function migrateBefore0003(database: Database): Promise<void> {
  const ctx = { dialect: database.dialect };
  const migrator = new Migrator({
    db: database.db,
    ...(database.schema ? { migrationTableSchema: database.schema } : {}),
    provider: {
      getMigrations: async () => ({
        '0001-initial': { up: (db: Kysely<unknown>) => m0001.up(db, ctx) },
        '0002-sending': { up: (db: Kysely<unknown>) => m0002.up(db, ctx) },
      }),
    },
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

describeEachDialect('migration 0003 on an existing database', (ctx) => {
  let database: Database;
  const word = 'zanzibar';
  let ids: number[];

  beforeAll(async () => {
    // The test database is migrated already: a second schema (PostgreSQL) or file (SQLite) starts from 0002.
    const url = ctx.dialect === 'sqlite' ? `${ctx.database.url}-0003` : ctx.database.url.replace(/schema=([^&]+)/, 'schema=$1_0003');
    if (ctx.dialect === 'postgres') await sql`create schema ${sql.id(`${ctx.database.schema}_0003`)}`.execute(ctx.database.db);
    database = openDatabase(url);
    await migrateBefore0003(database);
    ids = await insertOutgoing(
      database,
      // Over 3 days, the newest rows first: ids do not follow dates.
      Array.from({ length: 300 }, (_, i) =>
        buildOutgoing({
          account_id: 1,
          message: i % 3 === 0 ? `Livraison à ${word} n°${i}` : `Rappel ${i}`,
          created_at: DAY_ONE + (2 - Math.floor(i / 100)) * DAY_MS + (i % 100) * 1000,
        }),
      ),
    );
    // Analysed before, as a demo load leaves it (0007 then analyses its new index too).
    await sql`analyze`.execute(database.db);
    // 0003 and every later migration, in order.
    const applied = await migrateToLatest(database);
    expect(applied.slice(0, 5)).toEqual([
      '0003-text-search-deletes',
      '0004-outgoing-days',
      '0005-deferred-text-index',
      '0006-text-index-deletes',
      '0007-message-index-receiver',
    ]);
    expect(applied).toEqual([...applied].sort());
  });

  afterAll(async () => {
    await database?.close();
    if (ctx.dialect === 'sqlite') {
      const file = `${ctx.database.url.slice('sqlite:'.length)}-0003`;
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    }
    if (ctx.dialect === 'postgres')
      await sql`drop schema if exists ${sql.id(`${ctx.database.schema}_0003`)} cascade`.execute(ctx.database.db);
  });

  const found = async (): Promise<number[]> => {
    if (database.dialect === 'postgres') {
      const { rows } = await sql<{ id: number }>`select id from outgoing where message ilike ${`%${word}%`} order by id`.execute(
        database.db,
      );
      return rows.map((r) => Number(r.id));
    }
    const { rows } = await sql<{
      id: number;
    }>`select rowid as id from outgoing_fts where outgoing_fts match ${'"zan" AND "anz" AND "nzi" AND "zib" AND "iba" AND "bar"'} order by rowid`.execute(
      database.db,
    );
    return rows.map((r) => Number(r.id));
  };

  it('keeps every existing row searchable, and the index follows inserts, text changes and deletes', async () => {
    const expected = ids.filter((_, i) => i % 3 === 0);
    expect(await found()).toEqual(expected);
    const [added] = await insertOutgoing(database, [buildOutgoing({ account_id: 1, message: `Nouveau : ${word}` })]);
    await database.db.updateTable('outgoing').set({ message: 'Texte effacé' }).where('id', '=', expected[0]).execute();
    await database.db
      .updateTable('outgoing')
      .set({ message: `Maintenant ${word}` })
      .where('id', '=', ids[1])
      .execute();
    await database.db.deleteFrom('outgoing').where('id', 'in', expected.slice(1, 11)).execute();
    const after = [ids[1], ...expected.slice(11)];
    if (database.dialect === 'sqlite') {
      // (0006) The plain DELETE left its rows noted, in the index until the indexer's next batch.
      expect(await database.db.transaction().execute((trx) => purgeLeftDeletedText(trx, 1000))).toBe(10);
      // (0005) The row inserted after the migration waits for the next batch; the indexed rows followed their changes.
      expect(await found()).toEqual(after);
      expect(await database.db.transaction().execute((trx) => indexPendingText(trx, null))).toBe(1);
    }
    expect(await found()).toEqual([...after, added].sort((a, b) => a - b));
    if (database.dialect === 'sqlite') {
      await sql`insert into outgoing_fts(outgoing_fts) values('integrity-check')`.execute(database.db);
      const { rows } = await sql<{ sql: string }>`select sql from sqlite_master where name = 'outgoing_fts'`.execute(database.db);
      expect(rows[0].sql).toContain('contentless_delete=1');
    }
  });

  it('(0004) bounds the ids of each day of the existing rows, and of the rows inserted afterwards', async () => {
    const days = async () =>
      (await database.db.selectFrom('outgoing_days').selectAll().where('account_id', '=', 1).orderBy('day').execute()).map((d) => ({
        day: Number(d.day),
        min: Number(d.min_id),
        max: Number(d.max_id),
      }));
    const first = DAY_ONE / DAY_MS;
    // Rows 200–299 on day one, 100–199 on day two, 0–99 on day three (a few may be deleted since: bounds stay).
    expect((await days()).filter((d) => d.day >= first && d.day <= first + 2)).toEqual([
      { day: first, min: ids[200], max: ids[299] },
      { day: first + 1, min: ids[100], max: ids[199] },
      { day: first + 2, min: ids[0], max: ids[99] },
    ]);
    const [late] = await insertOutgoing(database, [buildOutgoing({ account_id: 1, created_at: DAY_ONE + 1000 })]);
    expect((await days()).find((d) => d.day === first)).toEqual({ day: first, min: ids[200], max: late });
  });

  it('(0007, 0012) sorts messages by their first 200 characters, receiver test on the index entry (SQLite)', async () => {
    if (database.dialect === 'postgres') {
      const { rows } = await sql<{
        indexdef: string;
      }>`select indexdef from pg_indexes where indexname = 'outgoing_message' and schemaname = current_schema()`.execute(database.db);
      expect(rows.map((r) => r.indexdef.replace(/^.* USING btree /, ''))).toEqual(['(account_id, substr(message, 1, 200), id)']);
      return;
    }
    const { rows } = await sql<{ name: string }>`select name from pragma_index_info('outgoing_message') order by seqno`.execute(
      database.db,
    );
    // The second column is an expression (no name): the text's first 200 characters.
    expect(rows.map((r) => r.name)).toEqual(['account_id', null, 'id', 'receiver']);
    const { rows: made } = await sql<{ sql: string }>`select sql from sqlite_master where name = 'outgoing_message'`.execute(database.db);
    expect(made[0].sql).toMatch(/\(account_id, substr\(message, 1, 200\), id, receiver\)/);
    // The planner has its statistics, as it has the other indexes' (without them it took this index for any receiver filter).
    const stats = await sql<{
      idx: string;
    }>`select idx from sqlite_stat1 where tbl = 'outgoing' and idx in ('outgoing_message', 'outgoing_user')`.execute(database.db);
    expect(stats.rows.map((r) => r.idx).sort()).toEqual(['outgoing_message', 'outgoing_user']);
    const { rows: plan } = await sql<{
      detail: string;
    }>`explain query plan select id from outgoing where account_id = 1 and +receiver >= '+336' and +receiver < '+337' order by substr(outgoing.message, 1, 200) desc, id desc limit 5`.execute(
      database.db,
    );
    // Walks the index in the sort's order: no sort step (a temp B-tree) was needed.
    expect(plan.map((p) => p.detail).join('\n')).toMatch(/USING (COVERING )?INDEX outgoing_message/);
    expect(plan.map((p) => p.detail).join('\n')).not.toMatch(/TEMP B-TREE/);
  });
});
