/**
 * The text of a history export in chunks, each with the number of rows it holds (for a progress
 * count): what the CSV and JSON-lines routes send and `relais history export` writes.
 */

/** A piece of an export: its text (or bytes, when the database made the lines) and the rows in it (0 for a header). */
export interface ExportChunk {
  rows: number;
  data: string | Uint8Array;
}

/** How the rows of an export become text. */
export interface RowFormat<T> {
  header: string;
  row(o: T): string;
}

/**
 * Up to about this many UTF-16 code units per chunk of an export: a chunk (at most 64 KB of two-byte
 * text, plus one row) stays below V8's large-object size, so it dies young instead of piling up in the
 * old generation until a full collection (one chunk per 1,000-row batch left 20–30 MB of them per 1M rows).
 */
export const CHUNK_CHARS = 32_768;

/**
 * The header, then the rows, CHUNK_CHARS at a time. Each batch becomes text in `batchText`, so no batch
 * stays referenced from here while the chunks wait for the socket or the repository's stream gives the
 * event loop a turn. The first chunk is yielded only once the first batch is read: a consumer that
 * awaits it (the routes, before answering) sees a failing query as an error, not a broken download.
 */
export async function* formattedChunks<T>(batches: AsyncGenerator<T[]>, format: RowFormat<T>): AsyncGenerator<ExportChunk> {
  const chunks: ExportChunk[] = [{ rows: 0, data: format.header }];
  while (await batchText(batches, format, chunks)) {
    while (chunks.length > 1) yield chunks.shift() as ExportChunk;
  }
  if (chunks[0].data) yield chunks[0];
}

/** Appends the next batch to `chunks` (the last one is unfinished); false when there is none. */
async function batchText<T>(batches: AsyncGenerator<T[]>, format: RowFormat<T>, chunks: ExportChunk[]): Promise<boolean> {
  const next = await batches.next();
  if (next.done) return false;
  const last = chunks.pop() as ExportChunk;
  let text = last.data as string;
  let rows = last.rows;
  for (const o of next.value) {
    text += format.row(o);
    rows++;
    if (text.length >= CHUNK_CHARS) {
      chunks.push({ rows, data: text });
      text = '';
      rows = 0;
    }
  }
  chunks.push({ rows, data: text });
  return true;
}

/** `header`, then parts made by the database (bytes and their row counts). */
export async function* madeChunks(header: string, parts: AsyncIterable<{ rows: number; lines: Uint8Array }>): AsyncGenerator<ExportChunk> {
  yield { rows: 0, data: header };
  for await (const part of parts) yield { rows: part.rows, data: part.lines };
}
