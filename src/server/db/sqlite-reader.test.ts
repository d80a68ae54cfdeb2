import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { abandonedWith, type SqliteReader, startSqliteReader } from './sqlite-reader.js';

/** A read that keeps the thread busy for a while (tenths of a second). */
const LONG = 'with recursive c(i) as (select 1 union all select i + 1 from c where i < 2000000) select count(*) as n from c';

describe('the SQLite reading thread', () => {
  let file: string;
  let reader: SqliteReader;
  beforeEach(async () => {
    file = join(tmpdir(), `relais-reader-${process.pid}-${Date.now()}.db`);
    const database = openDatabase(`sqlite:${file}`);
    await database.close();
    reader = startSqliteReader(file);
  });
  afterEach(async () => {
    await reader.close();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  });

  it('runs reads one at a time, in order', async () => {
    const answers = await Promise.all([1, 2, 3].map((n) => reader.all('select ? as n', [n])));
    expect(answers).toEqual([[{ n: 1 }], [{ n: 2 }], [{ n: 3 }]]);
  });

  it('gives up a read when its signal aborts, waiting or running, and goes on with the next ones', async () => {
    const running = new AbortController();
    const waiting = new AbortController();
    const long = reader.all(LONG, [], running.signal);
    const queued = reader.all('select 1 as n', [], waiting.signal);
    const after = reader.all('select 2 as n', []);
    waiting.abort();
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    running.abort();
    // Answered before the statement ends: the next read still waits for it.
    const settled = await Promise.race([
      long.then(
        () => 'rows',
        () => 'abandoned',
      ),
      after.then(() => 'next read'),
    ]);
    expect(settled).toBe('abandoned');
    expect(await after).toEqual([{ n: 2 }]);
    expect(await reader.all('select 3 as n', [])).toEqual([{ n: 3 }]);
  });

  it('takes the signal of abandonedWith when none is given, and refuses one already aborted', async () => {
    const controller = new AbortController();
    const long = abandonedWith(controller.signal, () => reader.all(LONG, []));
    controller.abort();
    await expect(long).rejects.toMatchObject({ name: 'AbortError' });
    await expect(abandonedWith(controller.signal, () => reader.all('select 1', []))).rejects.toMatchObject({ name: 'AbortError' });
    expect(await abandonedWith(new AbortController().signal, () => reader.all('select 4 as n', []))).toEqual([{ n: 4 }]);
  });

  it('fails the reads it still holds when closed', async () => {
    const long = expect(reader.all(LONG, [])).rejects.toThrow(/closed/);
    await reader.close();
    await long;
    await expect(reader.all('select 1', [])).rejects.toThrow(/closed/);
  });
});
