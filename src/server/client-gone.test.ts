import { rmSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilClientLeaves } from './client-gone.js';
import { openDatabase } from './db/database.js';
import { type SqliteReader, startSqliteReader } from './db/sqlite-reader.js';

/** Keeps the reading thread busy for a while (tenths of a second), so that the next read waits. */
const LONG = 'with recursive c(i) as (select 1 union all select i + 1 from c where i < 5000000) select count(*) as n from c';

describe('untilClientLeaves, over a real socket', () => {
  const file = join(tmpdir(), `relais-client-gone-${process.pid}-${Date.now()}.db`);
  let reader: SqliteReader;
  const app = Fastify();
  let port: number;
  let started: () => void = () => undefined;
  let outcome: Promise<string> = Promise.resolve('none');
  beforeAll(async () => {
    await openDatabase(`sqlite:${file}`).close();
    reader = startSqliteReader(file);
    app.get('/read', async (_request, reply) => {
      const work = untilClientLeaves(reply, () => reader.all('select 2 as n', []));
      outcome = work.then(
        () => 'answered',
        (error: Error) => error.name,
      );
      started();
      return work;
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await app.close();
    await reader.close();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  });

  it('gives up the reads of a request whose client went away, and answers the others', async () => {
    const busy = reader.all(LONG, []);
    const handling = new Promise<void>((resolve) => {
      started = resolve;
    });
    const gone = request({ host: '127.0.0.1', port, path: '/read' });
    gone.on('error', () => undefined);
    gone.end();
    await handling; // the read waits behind the long one
    gone.destroy();
    expect(await outcome).toBe('AbortError');

    const body = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/read' }, (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    expect(JSON.parse(body)).toEqual([{ n: 2 }]);
    expect(await outcome).toBe('answered');
    expect(await busy).toEqual([{ n: 5000000 }]);
  });
});
