import { describe, expect, it } from 'vitest';
import { CHUNK_CHARS, type ExportChunk, formattedChunks, madeChunks } from './export-chunks.js';

async function* batchesOf(batches: string[][], fail?: number): AsyncGenerator<string[]> {
  for (let i = 0; i < batches.length; i++) {
    if (i === fail) throw new Error(`batch ${i} failed`);
    yield batches[i];
  }
  if (fail === batches.length) throw new Error(`batch ${fail} failed`);
}

const format = { header: 'h;e;a;d\n', row: (o: string) => `${o}\n` };

async function all(chunks: AsyncGenerator<ExportChunk>): Promise<ExportChunk[]> {
  const out: ExportChunk[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return out;
}

describe('export chunks', () => {
  it('holds the header then every row once, in order, with the rows each chunk holds', async () => {
    const rowText = 'x'.repeat(1000);
    const batches = Array.from({ length: 7 }, (_, b) => Array.from({ length: 13 + b * 29 }, (_, i) => `${b}-${i}-${rowText}`));
    const chunks = await all(formattedChunks(batchesOf(batches), format));
    const text = chunks.map((c) => c.data).join('');
    expect(text).toBe(format.header + batches.flat().map(format.row).join(''));
    expect(chunks.reduce((n, c) => n + c.rows, 0)).toBe(batches.flat().length);
    for (const chunk of chunks) {
      expect((chunk.data as string).split('\n').length - 1 - (chunk === chunks[0] ? 1 : 0)).toBe(chunk.rows);
      // Below V8's large-object size: at most CHUNK_CHARS plus the row that crossed it.
      expect((chunk.data as string).length).toBeLessThan(CHUNK_CHARS + rowText.length + 20);
    }
    expect(chunks.length).toBeGreaterThan(5);
  });

  it('reads the first batch before the first chunk, so a failing query fails the first read', async () => {
    const chunks = formattedChunks(batchesOf([['a']], 0), format);
    await expect(chunks.next()).rejects.toThrow('batch 0 failed');
  });

  it('gives the header alone when nothing matches, and nothing without a header', async () => {
    expect(await all(formattedChunks(batchesOf([]), format))).toEqual([{ rows: 0, data: format.header }]);
    expect(await all(formattedChunks(batchesOf([[], []]), { header: '', row: format.row }))).toEqual([]);
  });

  it('passes the bytes the database made with their row counts, after the header', async () => {
    const bytes = [new Uint8Array([65, 10]), new Uint8Array([66, 10, 67, 10])];
    async function* parts() {
      yield { rows: 1, lines: bytes[0] };
      yield { rows: 2, lines: bytes[1] };
    }
    expect(await all(madeChunks('H\n', parts()))).toEqual([
      { rows: 0, data: 'H\n' },
      { rows: 1, data: bytes[0] },
      { rows: 2, data: bytes[1] },
    ]);
  });
});
