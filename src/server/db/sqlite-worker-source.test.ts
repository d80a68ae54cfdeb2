import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteWorkerSource, startSqliteThread } from './sqlite-worker-source.js';

const SOURCE = sqliteWorkerSource(`
serve((m) => {
  if (m.exit) process.exit(7);
  if (m.bytes) {
    const bytes = Buffer.from(m.bytes);
    const own = Uint8Array.prototype.slice.call(bytes);
    return { bytes: own, transfer: [own.buffer] };
  }
  return { rows: db.prepare(m.sql).all(...(m.parameters || [])) };
});
`);

describe('SQLite threads (sqliteWorkerSource + startSqliteThread)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relais-thread-'));
  const file = join(dir, 'thread.db');
  const setup = new Database(file);
  setup.exec('create table t (n integer); insert into t values (1), (2), (3)');
  setup.close();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers each call with its own result, several in flight, on the pragmas given', async () => {
    const thread = startSqliteThread(SOURCE, { file, pragmas: ['query_only = ON'], open: { readonly: true } }, 'test thread');
    const calls = [1, 2, 3].map((n) =>
      thread.call<{ rows: { n: number }[] }>({ sql: 'select n from t where n >= ? order by n', parameters: [n] }),
    );
    expect(thread.pending).toBe(3);
    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.rows.map((r) => r.n))).toEqual([[1, 2, 3], [2, 3], [3]]);
    expect(thread.pending).toBe(0);
    const pragma = await thread.call<{ rows: { query_only: number }[] }>({ sql: 'pragma query_only' });
    expect(pragma.rows[0].query_only).toBe(1);
    const { bytes } = await thread.call<{ bytes: Uint8Array }>({ bytes: 'héllo' });
    expect(Buffer.from(bytes).toString()).toBe('héllo');
    await thread.close();
  });

  it("rejects a call that fails in the thread with SQLite's message and code, and goes on serving", async () => {
    const thread = startSqliteThread(SOURCE, { file, pragmas: [], open: { readonly: true } }, 'test thread');
    await expect(thread.call({ sql: 'select * from missing' })).rejects.toMatchObject({
      message: 'no such table: missing',
      code: 'SQLITE_ERROR',
    });
    await expect(thread.call({ sql: 'insert into t values (4) returning n' })).rejects.toMatchObject({ code: 'SQLITE_READONLY' });
    expect((await thread.call<{ rows: unknown[] }>({ sql: 'select * from t' })).rows).toHaveLength(3);
    await thread.close();
  });

  it('rejects the calls in flight and every later one when the thread stops, naming it', async () => {
    const thread = startSqliteThread(SOURCE, { file, pragmas: [] }, 'test thread');
    const dying = thread.call({ exit: true });
    await expect(dying).rejects.toThrow('test thread stopped (exit code 7)');
    await expect(thread.call({ sql: 'select 1' })).rejects.toThrow('test thread stopped (exit code 7)');
    await thread.close();
  });
});
