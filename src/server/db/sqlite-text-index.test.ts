import { sql } from 'kysely';
import { beforeAll, expect, it } from 'vitest';
import { describeEachDialect, describeWithDatabase, type TestDatabase } from '../../../test/database.js';
import { buildOutgoing, insertOutgoing } from '../../../test/outgoing-factory.js';
import { createDeletionsRepository } from '../modules/history/deletions.repository.js';
import type { HistorySort } from '../modules/history/history-query.js';
import { createOutgoingRepository } from '../modules/history/outgoing.repository.js';
import { foldText } from './database.js';
import { indexPendingText, purgeLeftDeletedText, startTextIndexer } from './sqlite-text-index.js';

const ACCOUNT = 1;
const WORDS = ['rendez-vous', 'Colis', 'été', '📦', 'livré\nmerci', '100%'];

/** Texts with and without the searched words, in many rows. */
function textOf(i: number): string {
  const parts = [`Message ${i}`];
  if (i % 3 === 0) parts.push('votre rendez-vous est confirmé');
  if (i % 5 === 0) parts.push('Colis 📦 livré\nMerci');
  if (i % 7 === 0) parts.push('ÉTÉ : 100% remboursé');
  if (i % 11 === 0) parts.push('été à la plage');
  return parts.join(' — ');
}

async function indexed(database: TestDatabase): Promise<number> {
  const { rows } = await sql<{ n: number }>`select indexed_to as n from outgoing_fts_mark`.execute(database.db);
  return Number(rows[0].n);
}

/** The ids of deleted rows the text index still holds (noted by the delete trigger, migration 0006). */
async function noted(database: TestDatabase): Promise<number[]> {
  const { rows } = await sql<{ id: number }>`select id from outgoing_fts_gone order by id`.execute(database.db);
  return rows.map((r) => Number(r.id));
}

/** SQLite: the text index holds exactly the history's rows (none deleted left noted), and FTS5 finds its structure sound. */
async function expectIndexComplete(database: TestDatabase): Promise<void> {
  expect(await noted(database)).toEqual([]);
  await sql`insert into outgoing_fts(outgoing_fts) values('integrity-check')`.execute(database.db);
  const inIndex = await sql<{ n: number }>`select count(*) as n from outgoing_fts`.execute(database.db);
  const rows = await sql<{ n: number }>`select count(*) as n from outgoing`.execute(database.db);
  expect(Number(inIndex.rows[0].n)).toBe(Number(rows.rows[0].n));
}

describeEachDialect('text search, whatever part of the history the text index covers', (ctx) => {
  const index = async (maxRows: number | null) =>
    ctx.dialect === 'sqlite' ? ctx.database.db.transaction().execute((trx) => indexPendingText(trx, maxRows)) : 0;
  const sorts: HistorySort[] = [
    { key: 'date', direction: 'desc' },
    { key: 'message', direction: 'asc' },
    { key: 'receiver', direction: 'desc' },
  ];
  // Every way the repository searches: few candidates read and sorted; windows of the sort order; the index after a window.
  const ways = [{}, { ftsFew: 0 }, { ftsFew: 0, scanWindow: 3 }];

  /** Every search, every way, against the texts themselves. */
  async function expectSearchesRight(): Promise<void> {
    const all = await ctx.database.db.selectFrom('outgoing').select(['id', 'message', 'created_at', 'receiver']).execute();
    for (const word of WORDS) {
      const matching = all.filter((r) => foldText(r.message).includes(foldText(word)));
      expect(matching.length, word).toBeGreaterThan(0);
      for (const options of ways) {
        const repository = createOutgoingRepository(ctx.database, options);
        const scope = { accountId: ACCOUNT, userLogin: null };
        for (const sort of sorts) {
          const page = await repository.list({ scope, filter: { q: word }, sort, cursor: null, limit: 1000 });
          expect(new Set(page.rows.map((r) => r.id)), `${word} ${sort.key} ${JSON.stringify(options)}`).toEqual(
            new Set(matching.map((r) => r.id)),
          );
        }
        const { count } = await repository.count({ scope, filter: { q: word }, cap: 10_000 });
        expect(count, word).toBe(matching.length);
      }
    }
  }

  beforeAll(async () => {
    await insertOutgoing(
      ctx.database,
      Array.from({ length: 90 }, (_, i) => buildOutgoing({ account_id: ACCOUNT, message: textOf(i) })),
    );
  });

  it('finds the same rows before, while and after the index covers them', async () => {
    await expectSearchesRight();
    expect(await index(40)).toBe(ctx.dialect === 'sqlite' ? 40 : 0);
    await expectSearchesRight();
    expect(await index(null)).toBe(ctx.dialect === 'sqlite' ? 50 : 0);
    await expectSearchesRight();
    expect(await index(null)).toBe(0);
  });

  it('keeps finding the right rows when indexed and waiting rows change or go', async () => {
    const [waitingA, waitingB, waitingC] = await insertOutgoing(ctx.database, [
      buildOutgoing({ account_id: ACCOUNT, message: 'rendez-vous demain' }),
      buildOutgoing({ account_id: ACCOUNT, message: 'colis en route' }),
      buildOutgoing({ account_id: ACCOUNT, message: 'rien' }),
    ]);
    const { db } = ctx.database;
    const indexedRows = await db
      .selectFrom('outgoing')
      .select('id')
      .where('message', 'like', '%rendez-vous%')
      .orderBy('id')
      .limit(2)
      .execute();
    // An indexed row and a waiting row each lose their word; another of each gains one; one of each goes.
    await db.updateTable('outgoing').set({ message: 'texte effacé' }).where('id', 'in', [indexedRows[0].id, waitingA]).execute();
    await db.updateTable('outgoing').set({ message: 'Colis 📦 livré\nMerci, été' }).where('id', '=', waitingC).execute();
    // A plain DELETE (not the history's, which removes its rows from the index at once): the indexed row
    // stays in the index, noted, until the indexer's next batch; searches are right meanwhile.
    await db.deleteFrom('outgoing').where('id', 'in', [indexedRows[1].id, waitingB]).execute();
    if (ctx.dialect === 'sqlite') expect(await noted(ctx.database)).toEqual([indexedRows[1].id]);
    await expectSearchesRight();
    // Two of the three waiting rows are left to index (one went).
    expect(await index(null)).toBe(ctx.dialect === 'sqlite' ? 2 : 0);
    await expectSearchesRight();
    if (ctx.dialect === 'sqlite') {
      expect(await ctx.database.db.transaction().execute((trx) => purgeLeftDeletedText(trx, 100))).toBe(1);
      await expectSearchesRight();
      await expectIndexComplete(ctx.database);
    }
  });
});

describeWithDatabase('sqlite', 'the text indexer (SQLite)', (ctx) => {
  it('indexes in batches of at most the rows asked, moving its mark past each batch', async () => {
    const ids = await insertOutgoing(
      ctx.database,
      Array.from({ length: 25 }, (_, i) => buildOutgoing({ account_id: ACCOUNT, message: textOf(i) })),
    );
    const before = await indexed(ctx.database);
    const counts: number[] = [];
    for (;;) {
      const n = await ctx.database.db.transaction().execute((trx) => indexPendingText(trx, 10));
      if (n === 0) break;
      counts.push(n);
      expect(await indexed(ctx.database)).toBe(ids[counts.reduce((a, b) => a + b, 0) - 1]);
    }
    expect(before).toBe(0);
    expect(counts).toEqual([10, 10, 5]);
    await expectIndexComplete(ctx.database);
  });

  it('leaves nothing half done when a batch fails: the index and its mark move together or not at all', async () => {
    await insertOutgoing(ctx.database, [buildOutgoing({ account_id: ACCOUNT, message: 'après la panne' })]);
    const mark = await indexed(ctx.database);
    await expect(
      ctx.database.db.transaction().execute(async (trx) => {
        await indexPendingText(trx, null);
        throw new Error('stopped halfway');
      }),
    ).rejects.toThrow('stopped halfway');
    expect(await indexed(ctx.database)).toBe(mark);
    const inIndex = await sql<{ n: number }>`select count(*) as n from outgoing_fts`.execute(ctx.database.db);
    expect(Number(inIndex.rows[0].n)).toBe(25);
    expect(await ctx.database.db.transaction().execute((trx) => indexPendingText(trx, null))).toBe(1);
    await expectIndexComplete(ctx.database);
  });

  it("waits while this connection's own transaction is open (a bulk load's, across awaits), then indexes its rows", async () => {
    const errors: string[] = [];
    const indexer = startTextIndexer(ctx.database, { intervalMs: 1, onError: (message) => errors.push(message) });
    const sqlite = ctx.database.sqlite!;
    const before = await indexed(ctx.database);
    sqlite.exec('begin immediate');
    sqlite
      .prepare(
        "insert into outgoing (account_id, channel, sender, receiver, message, encoding, parts, credits, status, created_at) values (1, 'api', 'Relais', '+33612345678', 'pendant la transaction', 'gsm7', 1, 1, 'delivered', 0)",
      )
      .run();
    // Many of the indexer's ticks while the transaction stays open.
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 2));
    expect(sqlite.inTransaction).toBe(true);
    expect(await indexed(ctx.database)).toBe(before);
    sqlite.exec('commit');
    const last = Number(sqlite.prepare('select max(id) from outgoing').pluck().get());
    for (let tries = 0; (await indexed(ctx.database)) < last && tries < 2_000; tries++) await new Promise((r) => setTimeout(r, 5));
    await indexer.close();
    expect(await indexed(ctx.database)).toBe(last);
    expect(errors).toEqual([]);
    await expectIndexComplete(ctx.database);
  });

  it("runs on the server's timer until every row is indexed, and drains on demand", async () => {
    const indexer = startTextIndexer(ctx.database, { intervalMs: 5, batchRows: 7 });
    const ids = await insertOutgoing(
      ctx.database,
      Array.from({ length: 30 }, (_, i) => buildOutgoing({ account_id: ACCOUNT, message: textOf(i) })),
    );
    const last = ids[ids.length - 1];
    // Polled, not timed: the timer's batches get there, however slow the machine.
    for (let tries = 0; (await indexed(ctx.database)) < last && tries < 2_000; tries++) await new Promise((r) => setTimeout(r, 5));
    expect(await indexed(ctx.database)).toBe(last);
    await expectIndexComplete(ctx.database);
    await indexer.close();

    const more = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: ACCOUNT, message: 'encore un' })]);
    const drained = startTextIndexer(ctx.database, { intervalMs: 60_000 });
    await drained.drain();
    expect(await indexed(ctx.database)).toBe(more[0]);
    await drained.close();
    await expectIndexComplete(ctx.database);
  });

  it("removes the history's deleted rows from the index in the deleting transaction, however they are deleted", async () => {
    const ids = await insertOutgoing(
      ctx.database,
      Array.from({ length: 40 }, (_, i) => buildOutgoing({ account_id: ACCOUNT, message: textOf(i) })),
    );
    await ctx.database.db.transaction().execute((trx) => indexPendingText(trx, null));
    const scope = { accountId: ACCOUNT, userLogin: null };
    // One by one or by id list (the serving connection), and a delete job's batch (its thread, on a SQLite file).
    const outgoing = createOutgoingRepository(ctx.database);
    expect((await outgoing.deleteIds(scope, ids.slice(0, 5), 1)).deleted).toEqual(ids.slice(0, 5));
    await expectIndexComplete(ctx.database);
    const deletions = createDeletionsRepository(ctx.database);
    try {
      const job = await deletions.createJob({ accountId: ACCOUNT, actor: 'test', filter: {}, now: 1 });
      expect(await deletions.deleteJobBatch({ jobId: job.id, scope, ids: ids.slice(5, 15), now: 2 })).toEqual({
        deleted: 10,
        refunded: 0,
        found: 10,
      });
    } finally {
      await deletions.close();
    }
    await expectIndexComplete(ctx.database);
    // What is left is still found through the index, and only that.
    const left = (await ctx.database.db.selectFrom('outgoing').select(['id', 'message']).execute()).filter((r) =>
      r.message.includes('rendez-vous'),
    );
    const page = await outgoing.list({
      scope,
      filter: { q: 'rendez-vous' },
      sort: { key: 'date', direction: 'desc' },
      cursor: null,
      limit: 1000,
    });
    expect(page.rows.map((r) => r.id).sort((a, b) => a - b)).toEqual(left.map((r) => r.id).sort((a, b) => a - b));
  });

  it('counts a text search from its candidates, even with statistics that take an account for a few thousand rows', async () => {
    const sqlite = ctx.database.sqlite!;
    await insertOutgoing(ctx.database, [buildOutgoing({ account_id: ACCOUNT, message: 'un colis après la marque' })]);
    // As a sampled ANALYZE of 10,000,000 rows of one account leaves them (a demo load): "2001 rows an account".
    sqlite.exec('analyze');
    const indexes = sqlite.prepare<[], { name: string }>("select name from pragma_index_list('outgoing') where origin = 'c'").all();
    sqlite.exec("delete from sqlite_stat1 where tbl = 'outgoing'");
    for (const { name } of indexes) {
      const columns = sqlite.prepare(`select count(*) from pragma_index_info('${name}')`).pluck().get() as number;
      sqlite
        .prepare('insert into sqlite_stat1 (tbl, idx, stat) values (?, ?, ?)')
        .run('outgoing', name, `10000000 2001${' 1'.repeat(columns - 1)}`);
    }
    sqlite.exec('analyze sqlite_schema'); // the planner reads them again
    try {
      const seen: string[] = [];
      const outgoing = createOutgoingRepository({ ...ctx.database, onQuery: (text) => seen.push(text) });
      const scope = { accountId: ACCOUNT, userLogin: null };
      const { count } = await outgoing.count({ scope, filter: { q: 'colis' }, cap: 100 });
      const all = await ctx.database.db.selectFrom('outgoing').select('message').where('account_id', '=', ACCOUNT).execute();
      expect(count).toBe(all.filter((r) => foldText(r.message).includes('colis')).length);
      // Every row is read by its id, from the candidates and the rows after the mark: none by walking an index of the account.
      const counting = seen.find((text) => text.includes('outgoing_fts match')) as string;
      const plan = sqlite
        .prepare<unknown[], { detail: string }>(`explain query plan ${counting}`)
        .all('"col" AND "oli" AND "lis"', ACCOUNT, 'colis', 101)
        .map((r) => r.detail)
        .filter((d) => / outgoing\b/.test(d));
      expect(plan.length).toBeGreaterThan(0);
      for (const detail of plan) expect(detail).toMatch(/^SEARCH outgoing USING INTEGER PRIMARY KEY/);
    } finally {
      sqlite.exec("delete from sqlite_stat1 where tbl = 'outgoing'");
      sqlite.exec('analyze sqlite_schema');
    }
  });

  it("removes what plain deletes left noted, in the indexer's batches", async () => {
    const ids = await insertOutgoing(
      ctx.database,
      Array.from({ length: 25 }, (_, i) => buildOutgoing({ account_id: ACCOUNT, message: textOf(i) })),
    );
    await ctx.database.db.transaction().execute((trx) => indexPendingText(trx, null));
    const [other] = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: ACCOUNT, message: textOf(99) })]);
    await ctx.database.db.transaction().execute((trx) => indexPendingText(trx, null));
    // A tool's DELETE: the trigger notes the ids, the index still holds them.
    await ctx.database.db.deleteFrom('outgoing').where('id', 'in', ids).execute();
    expect(await noted(ctx.database)).toEqual(ids);
    // A history deletion meanwhile removes its own rows only: its work stays bounded by its size.
    await createOutgoingRepository(ctx.database).deleteIds({ accountId: ACCOUNT, userLogin: null }, [other], 1);
    expect(await noted(ctx.database)).toEqual(ids);
    const counts: number[] = [];
    for (;;) {
      const n = await ctx.database.db.transaction().execute((trx) => purgeLeftDeletedText(trx, 10));
      if (n === 0) break;
      counts.push(n);
    }
    expect(counts).toEqual([10, 10, 5]);
    await expectIndexComplete(ctx.database);
    // The server's indexer does the same on its own.
    const more = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: ACCOUNT, message: 'bientôt parti' })]);
    await ctx.database.db.transaction().execute((trx) => indexPendingText(trx, null));
    await ctx.database.db.deleteFrom('outgoing').where('id', '=', more[0]).execute();
    expect(await noted(ctx.database)).toEqual(more);
    const indexer = startTextIndexer(ctx.database, { intervalMs: 60_000 });
    await indexer.drain();
    await indexer.close();
    await expectIndexComplete(ctx.database);
  });
});
