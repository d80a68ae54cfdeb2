import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Statement as SqliteStatement } from 'better-sqlite3';
import { type CompiledQuery, type Expression, type ExpressionBuilder, type Kysely, type Selectable, type SqlBool, sql } from 'kysely';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { getTimeFormatter } from '../../../shared/account-time.js';
import type { Outgoing } from '../../../shared/outgoing.js';
import type { Channel, Encoding, OutgoingStatus } from '../../../shared/status.js';
import { type Database, foldText } from '../../db/database.js';
import { DAY_MS, type DB, type OutgoingRow } from '../../db/schema.js';
import { purgeDeletedText, TEXT_INDEX_TAIL } from '../../db/sqlite-text-index.js';
import type { Cursor } from './cursor.js';
import {
  DEFAULT_SORT,
  type HistoryFilter,
  type HistorySort,
  MESSAGE_SORT_LENGTH,
  messageSortValue,
  SORT_COLUMNS,
} from './history-query.js';
import { seedCsvLine } from './seed-csv-sql.js';
import { type SqliteCsvThreads, startSqliteCsvThreads } from './sqlite-csv-threads.js';

/** Which messages a caller may reach: one account, and maybe only one SMS user's. */
export interface HistoryScope {
  accountId: number;
  /** Set for an SMS-user-scoped token: only that user's messages. */
  userLogin: string | null;
}

/** The columns every new history row is written with first, in this order: who sent what to whom, and its status. */
export const OUTGOING_MESSAGE_COLUMNS = [
  'account_id',
  'job_id',
  'user_id',
  'user_login',
  'channel',
  'sender',
  'receiver',
  'message',
  'redacted_at',
  'encoding',
  'parts',
  'credits',
  'tag',
  'status',
] as const;

/** What became of a message at the carrier, in this order (null until it happens). */
export const OUTGOING_OUTCOME_COLUMNS = [
  'sent_at',
  'delivered_at',
  'failed_at',
  'expired_at',
  'canceled_at',
  'carrier_message_id',
  'error_code',
  'error_text',
] as const;

/** Every column of a history row (explicit, never selectAll), in the order `toOutgoing` and the array mode read them. */
export const COLUMNS = [
  'id',
  ...OUTGOING_MESSAGE_COLUMNS,
  'created_at',
  ...OUTGOING_OUTCOME_COLUMNS,
  'deferred_until',
  'valid_until',
] as const;

type Row = Pick<Selectable<OutgoingRow>, (typeof COLUMNS)[number]>;

/** Row (snake_case) to domain (camelCase). */
export function toOutgoing(row: Row): Outgoing {
  return {
    id: row.id,
    accountId: row.account_id,
    userId: row.user_id,
    userLogin: row.user_login === '' ? null : row.user_login,
    channel: row.channel as Channel,
    sender: row.sender,
    receiver: row.receiver,
    message: row.redacted_at === null ? row.message : null,
    encoding: row.encoding as Encoding,
    parts: row.parts,
    credits: row.credits,
    tag: row.tag,
    status: row.status as OutgoingStatus,
    createdAt: row.created_at,
    sentAt: row.sent_at,
    deliveredAt: row.delivered_at,
    failedAt: row.failed_at,
    expiredAt: row.expired_at,
    canceledAt: row.canceled_at,
    carrierMessageId: row.carrier_message_id,
    errorCode: row.error_code,
    errorText: row.error_text,
    deferredUntil: row.deferred_until,
    validUntil: row.valid_until,
    jobId: row.job_id,
  };
}

/** Row as an array in COLUMNS order (drivers' array mode: much cheaper than one object per row). */
function fromArray(a: unknown[]): Outgoing {
  return {
    id: a[0] as number,
    accountId: a[1] as number,
    jobId: a[2] as number | null,
    userId: a[3] as number | null,
    userLogin: a[4] === '' ? null : (a[4] as string),
    channel: a[5] as Channel,
    sender: a[6] as string,
    receiver: a[7] as string,
    message: a[9] === null ? (a[8] as string) : null,
    encoding: a[10] as Encoding,
    parts: a[11] as number,
    credits: a[12] as number,
    tag: a[13] as string,
    status: a[14] as OutgoingStatus,
    createdAt: a[15] as number,
    sentAt: a[16] as number | null,
    deliveredAt: a[17] as number | null,
    failedAt: a[18] as number | null,
    expiredAt: a[19] as number | null,
    canceledAt: a[20] as number | null,
    carrierMessageId: a[21] as string | null,
    errorCode: a[22] as string | null,
    errorText: a[23] as string | null,
    deferredUntil: a[24] as number | null,
    validUntil: a[25] as number | null,
  };
}

/** The columns of a lean row: what the seed CSV prints, plus every sort column (for the cursor). */
const LEAN_COLUMNS = ['id', 'created_at', 'sender', 'receiver', 'message', 'redacted_at', 'status', 'user_login', 'channel'] as const;

/** A history row with only what the seed CSV and the keyset cursor need (exports read 9 columns, not 26). */
export type LeanOutgoing = Pick<Outgoing, 'id' | 'createdAt' | 'sender' | 'receiver' | 'message' | 'status' | 'userLogin' | 'channel'>;

function fromLeanArray(a: unknown[]): LeanOutgoing {
  return {
    id: a[0] as number,
    createdAt: a[1] as number,
    sender: a[2] as string,
    receiver: a[3] as string,
    message: a[5] === null ? (a[4] as string) : null,
    status: a[6] as OutgoingStatus,
    userLogin: a[7] === '' ? null : (a[7] as string),
    channel: a[8] as Channel,
  };
}

/** What `streamIds` reads of a message: its id, and what OVH's `ptt` and `differedDelivery` are derived from. */
export type OutgoingIdRow = Pick<Outgoing, 'id' | 'createdAt' | 'status' | 'errorCode' | 'errorText' | 'deferredUntil'>;

const ID_COLUMNS = ['id', 'created_at', 'status', 'error_code', 'error_text', 'deferred_until'] as const;

function fromIdArray(a: unknown[]): OutgoingIdRow {
  return {
    id: Number(a[0]),
    createdAt: Number(a[1]),
    status: a[2] as OutgoingStatus,
    errorCode: a[3] as string | null,
    errorText: a[4] as string | null,
    deferredUntil: a[5] === null ? null : Number(a[5]),
  };
}

/** Rows in a batch of `streamIds` (six small columns a row). */
const ID_BATCH = 5_000;

/**
 * SQLite text search for common words: rows are read in sort order through a window of this many
 * candidates and each text checked; when a window does not fill the page, the full-text index is used.
 */
const SCAN_WINDOW = 10_000;

/** Up to this many trigram-index candidates, SQLite text search reads them all and sorts them. */
const FTS_FEW = 2_000;

/** Sorts by a column with few distinct values: a broad date range reads them value by value (`valueSeeks`). */
const FEW_VALUES: ReadonlySet<string> = new Set(['sender', 'status', 'user', 'channel']);

/** A date or receiver range matching more rows than this is "broad" for a page in another order. */
const BROAD_RANGE = 2_000;

/**
 * Messages a slice of a seed CSV export made by the database holds at most (`dateSlices`). SQLite:
 * ~400 KB of lines (10,000 a slice made the threads 1.5× slower: larger strings to build and copy);
 * PostgreSQL: fewer, larger statements (each costs a round trip and a plan).
 */
const CSV_SLICE_ROWS_SQLITE = 2_500;
const CSV_SLICE_ROWS_POSTGRES = 10_000;

/** PostgreSQL export slices read at once over all exports, so that exports leave the pool's other connections to requests. */
const PG_EXPORT_SLICES = 3;

/** A count capped at this many runs on the serving connection (a page's `total`); a longer one on the reader. */
const LIGHT_COUNT = 1_000;

type OutgoingEB = ExpressionBuilder<DB, 'outgoing'>;

/** Up to `limit + 1` rows read in the reading way → the page in display order, and whether more follow. */
function pageOf(rows: unknown[][], limit: number, backwards: boolean): { rows: unknown[][]; more: boolean } {
  const page = rows.slice(0, limit);
  if (backwards) page.reverse();
  return { rows: page, more: rows.length > limit };
}

/** The trigrams of `text` (by code point) as an FTS5 query: every one must be present. */
function trigramQuery(folded: string): string | null {
  const chars = [...folded];
  if (chars.length < 3) return null;
  const grams = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) grams.add(chars.slice(i, i + 3).join(''));
  return [...grams].map((g) => `"${g.replaceAll('"', '""')}"`).join(' AND ');
}

function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A text search resolved for one query: how the `q` filter is written in SQL. */
/** Range filters to test without their index (see `conditions`). */
interface Broad {
  dates?: boolean;
  receiver?: boolean;
  /** The ids a date range's messages can have (`idBounds`): tested in the sort index, before reading rows. */
  ids?: { lo: number; hi: number };
}

type TextPlan =
  | { kind: 'none' }
  | { kind: 'contains'; folded: string }
  | { kind: 'fts'; match: string; folded: string }
  /** `apart`: evaluate the match on its own (pg_trgm bitmap), never by walking another index. */
  | { kind: 'ilike'; pattern: string; apart?: boolean };

interface Compiled {
  sql: string;
  parameters: readonly unknown[];
}

/** Whether `filter` (within `scope`) lets the sort column have one value only. */
function pinsSortValue(key: HistorySort['key'], filter: HistoryFilter, scope: HistoryScope): boolean {
  switch (key) {
    case 'status':
      return filter.statuses?.length === 1;
    case 'channel':
      return filter.channels?.length === 1;
    case 'user':
      return filter.user !== undefined || scope.userLogin !== null;
    case 'sender':
      return filter.sender !== undefined;
    case 'receiver':
      return filter.receiver !== undefined && 'exact' in filter.receiver;
    default:
      return false;
  }
}

/** The history's storage: reads by (account, sort column, id) with filters, deletes in batches. */
/**
 * A redacted message's receiver, masked by the database itself (SQLite and PostgreSQL alike): its first
 * four characters (`+336…`: country and network, which statistics may still want) and last two kept,
 * every character between them an `X` (`+33612345678` → `+336XXXXXX78`). Masking a masked receiver
 * changes nothing.
 */
const MASKED_RECEIVER = sql<string>`case when length(receiver) > 6
  then substr(receiver, 1, 4) || substr('XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', 1, length(receiver) - 6) || substr(receiver, length(receiver) - 1)
  else substr('XXXXXX', 1, length(receiver)) end`;

export function createOutgoingRepository(
  database: Database,
  options: { scanWindow?: number; broadRange?: number; ftsFew?: number; csvSliceRows?: number } = {},
) {
  const { db, dialect } = database;
  const csvSliceRows = options.csvSliceRows ?? (dialect === 'sqlite' ? CSV_SLICE_ROWS_SQLITE : CSV_SLICE_ROWS_POSTGRES);
  // A SQLite file: large seed-format exports are read on threads of their own (see `seedCsv`).
  const { sqliteFile } = database;
  let csvThreads: SqliteCsvThreads | undefined;
  // PostgreSQL export slices running now, over every export: each holds one of the pool's connections.
  let pgSlices = 0;
  const pgSliceWaiters: (() => void)[] = [];
  async function pgSlice<T>(work: () => Promise<T>): Promise<T> {
    while (pgSlices >= PG_EXPORT_SLICES) await new Promise<void>((resolve) => pgSliceWaiters.push(resolve));
    pgSlices += 1;
    try {
      return await work();
    } finally {
      pgSlices -= 1;
      pgSliceWaiters.shift()?.();
    }
  }
  const scanWindow = options.scanWindow ?? SCAN_WINDOW;
  const ftsFew = options.ftsFew ?? FTS_FEW;
  const broadRange = options.broadRange ?? BROAD_RANGE;

  /** How many rows the trigram index proposes for `match`, with the rows it does not cover yet, counting at most `cap + 1`. */
  async function ftsCandidates(match: string, cap: number): Promise<number> {
    const [[n]] = await selectArrays(
      sql`select count(*) from (select rowid from outgoing_fts where outgoing_fts match ${match} union all ${TEXT_INDEX_TAIL} limit ${cap + 1})`.compile(
        db,
      ),
    );
    return Number(n);
  }

  /** Whether the account has more than `broadRange` rows matching just this one filter. */
  async function wide(scope: HistoryScope, only: HistoryFilter): Promise<boolean> {
    const inner = db
      .selectFrom('outgoing')
      .select(sql.lit(1).as('one'))
      .where((eb) => eb.and(conditions(eb, scope, only, { kind: 'none' })))
      .limit(broadRange + 1);
    const [[n]] = await selectArrays(
      db
        .selectFrom(inner.as('t'))
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .compile(),
    );
    return Number(n) > broadRange;
  }

  /** How `q` is matched: pg_trgm ILIKE on PostgreSQL; on SQLite the FTS5 trigram index or a plain check. */
  function textPlan(q: string | undefined, useIndex: boolean): TextPlan {
    if (!q) return { kind: 'none' };
    if (dialect === 'postgres') return { kind: 'ilike', pattern: likePattern(q) };
    const folded = foldText(q);
    const match = trigramQuery(folded);
    return match && useIndex ? { kind: 'fts', match, folded } : { kind: 'contains', folded };
  }

  const statements = new Map<string, SqliteStatement>();
  /** Runs a compiled query in the driver's array mode (rows as arrays in select order). */
  async function selectArrays(query: Compiled): Promise<unknown[][]> {
    database.onQuery?.(query.sql, query.parameters);
    if (database.sqlite) {
      let statement = statements.get(query.sql);
      if (!statement) {
        if (statements.size > 500) statements.clear();
        statement = database.sqlite.prepare(query.sql).raw(true);
        statements.set(query.sql, statement);
      }
      return statement.all(...(query.parameters as unknown[])) as unknown[][];
    }
    const result = await database.pool!.query({ text: query.sql, values: query.parameters as unknown[], rowMode: 'array' });
    return result.rows as unknown[][];
  }

  /**
   * Runs `select count(*) as n …`. Up to `LIGHT_COUNT` rows (a page's `total`) on the serving connection;
   * a longer count (`/count`, a deletion's size) on the database's reader, off the serving thread on SQLite.
   */
  async function countRows(query: Compiled, cap: number): Promise<number> {
    if (cap <= LIGHT_COUNT) {
      const [[n]] = await selectArrays(query);
      return Number(n);
    }
    const { rows } = await database.reader.executeQuery<{ n: number | string }>(query as CompiledQuery<{ n: number | string }>);
    return Number(rows[0].n);
  }

  /**
   * `broad` marks range filters that match so many rows that walking the sort column's index is
   * cheaper than reading the range and sorting it: SQLite then gets the column as `+column`, which
   * keeps the test but not the index (its planner cannot tell a wide range from a narrow one).
   */
  function conditions(
    eb: OutgoingEB,
    scope: HistoryScope,
    filter: HistoryFilter,
    text: TextPlan,
    broad: Broad = {},
  ): Expression<SqlBool>[] {
    const date = broad.dates ? sql<number>`+${sql.ref('outgoing.created_at')}` : sql<number>`${sql.ref('outgoing.created_at')}`;
    const receiverColumn = broad.receiver ? sql<string>`+${sql.ref('outgoing.receiver')}` : sql<string>`${sql.ref('outgoing.receiver')}`;
    // Ids on SQLite: read those rows by id. `+account_id` keeps the planner off the (account, …) indexes,
    // which it would walk whole (it cannot tell how many rows one account has).
    const account =
      dialect === 'sqlite' && filter.ids ? sql<number>`+${sql.ref('outgoing.account_id')}` : sql<number>`${sql.ref('outgoing.account_id')}`;
    const c: Expression<SqlBool>[] = [eb(account, '=', scope.accountId)];
    if (scope.userLogin !== null) c.push(eb('outgoing.user_login', '=', scope.userLogin));
    if (filter.user !== undefined) c.push(eb('outgoing.user_login', '=', filter.user ?? ''));
    if (filter.channels) c.push(eb('outgoing.channel', 'in', filter.channels));
    if (filter.statuses) c.push(eb('outgoing.status', 'in', filter.statuses));
    if (filter.sender !== undefined) c.push(eb('outgoing.sender', '=', filter.sender));
    if (filter.tag !== undefined) c.push(eb('outgoing.tag', '=', filter.tag));
    if (filter.receiver && 'exact' in filter.receiver) c.push(eb('outgoing.receiver', '=', filter.receiver.exact));
    if (filter.receiver && 'prefix' in filter.receiver) {
      // Receivers hold only "+" and digits — and "X" once masked (MASKED_RECEIVER keeps the prefix) — and
      // "Y" sorts after each of them: a plain index range.
      c.push(eb(receiverColumn, '>=', filter.receiver.prefix), eb(receiverColumn, '<', `${filter.receiver.prefix}Y`));
    }
    if (filter.ids) c.push(eb('outgoing.id', 'in', filter.ids));
    if (filter.upTo !== undefined) {
      // `+id` on SQLite: tested on the index entries walked, never a walk of the rowid range.
      const id = dialect === 'sqlite' ? sql<number>`+${sql.ref('outgoing.id')}` : sql<number>`${sql.ref('outgoing.id')}`;
      c.push(eb(id, '<=', filter.upTo));
    }
    if (broad.ids) {
      // `+id` on SQLite: a test of the index entry's id, never a walk of the rowid range.
      const id = dialect === 'sqlite' ? sql<number>`+${sql.ref('outgoing.id')}` : sql<number>`${sql.ref('outgoing.id')}`;
      c.push(eb(id, '>=', broad.ids.lo), eb(id, '<=', broad.ids.hi));
    }
    if (filter.from !== undefined) c.push(eb(date, '>=', filter.from));
    if (filter.to !== undefined) c.push(eb(date, '<=', filter.to));
    c.push(...textConditions(text));
    return c;
  }

  /** The text search's part of `conditions`. */
  function textConditions(text: TextPlan): Expression<SqlBool>[] {
    const c: Expression<SqlBool>[] = [];
    if (text.kind === 'ilike' && !text.apart) c.push(sql<SqlBool>`outgoing.message ilike ${text.pattern} escape '\\'`);
    // The index's candidates and the rows it does not cover yet (a UNION ALL keeps SQLite reading them by
    // id; an OR made it walk a sort index instead: 0.2 ms became 1.2–2 s for a rare word in 10M rows).
    if (text.kind === 'fts')
      c.push(
        sql<SqlBool>`outgoing.id in (select rowid from outgoing_fts where outgoing_fts match ${text.match} union all ${TEXT_INDEX_TAIL})`,
      );
    if (text.kind === 'fts' || text.kind === 'contains') c.push(sql<SqlBool>`relais_contains(outgoing.message, ${text.folded})`);
    return c;
  }

  /**
   * A page's rows as arrays of `columns` (in display order), and whether more follow (see `list`).
   *
   * `scan` (exports, read forwards): a text search that is not rare reads the next `scanWindow` rows
   * of the order (at least `limit`) and keeps those that match; `last` is the window's last row, where
   * the next read starts even when it did not match. Each statement reads a bounded window, and a
   * whole export reads the order once; the page strategies would read every match of a common word
   * again for each batch.
   */
  async function listArrays(
    args: PageArgs,
    columns: readonly (typeof COLUMNS)[number][],
    scan = false,
  ): Promise<{ rows: unknown[][]; more: boolean; last?: unknown[] }> {
    const { scope, filter, sort, cursor, limit } = args;
    const column = SORT_COLUMNS[sort.key];
    // What the order reads: the column, or a text's first characters (as its index holds: migration 0012).
    const sortBy =
      column === 'message'
        ? sql<string>`substr(${sql.ref('outgoing.message')}, 1, ${sql.lit(MESSAGE_SORT_LENGTH)})`
        : sql<string | number>`${sql.ref(`outgoing.${column}`)}`;
    const backwards = cursor?.way === 'before';
    // Reading backwards means reading the reversed order, then turning the page around.
    const direction = backwards ? (sort.direction === 'asc' ? 'desc' : 'asc') : sort.direction;
    const broad: Broad = {};
    const broadDates =
      sort.key !== 'date' &&
      (dialect === 'sqlite' || FEW_VALUES.has(sort.key)) &&
      (filter.from !== undefined || filter.to !== undefined) &&
      (await wide(scope, { from: filter.from, to: filter.to }));
    if (broadDates && FEW_VALUES.has(sort.key) && !filter.q && !filter.ids) return valueSeeks(args, columns, direction);
    // In another order than by date, a date range is also a range of ids, tested in the sort index's
    // entries before any row is read (10M rows, 30 days by message: 420–850 ms → 12–20 ms).
    if (sort.key !== 'date' && !filter.ids && (filter.from !== undefined || filter.to !== undefined)) {
      const bounds = await idBounds(scope, filter);
      if (!bounds) return { rows: [], more: false };
      broad.ids = bounds;
    }
    if (dialect === 'sqlite') {
      broad.dates = broadDates;
      if (sort.key !== 'receiver' && filter.receiver && 'prefix' in filter.receiver)
        broad.receiver = await wide(scope, { receiver: filter.receiver });
    }
    // The keyset condition. SQLite seeks an index on a row value's first column only, then scans:
    // `(sender, id) > (v, c)` would read every row of sender v before the cursor. So on SQLite a
    // page after a cursor is read in two segments, each an exact seek: the rest of the cursor's
    // value (`equal`: column = v, id beyond c), then the values beyond it (`beyond`).
    type Segment = 'all' | 'tuple' | 'equal' | 'beyond';
    const op = direction === 'asc' ? '>' : '<';
    // Sorted by date after a cursor, the cursor bounds the dates on the reading side: the range's own
    // bound on that side goes, or SQLite may seek from it and step over every row before the cursor.
    const bounded: HistoryFilter = { ...filter };
    if (cursor && sort.key === 'date') {
      const value = Number(cursor.value);
      if (direction === 'desc' && bounded.to !== undefined && value <= bounded.to) delete bounded.to;
      if (direction === 'asc' && bounded.from !== undefined && value >= bounded.from) delete bounded.from;
    }
    const where = (eb: OutgoingEB, text: TextPlan, segment: Segment) => {
      const c = conditions(eb, scope, bounded, text, broad);
      if (cursor && segment === 'tuple') {
        c.push(sql<SqlBool>`(${sortBy}, ${sql.ref('outgoing.id')}) ${sql.raw(op)} (${cursor.value}, ${cursor.id})`);
      } else if (cursor && segment === 'equal') {
        c.push(eb(sortBy, '=', cursor.value as never), eb('outgoing.id', op, cursor.id));
      } else if (cursor && segment === 'beyond') {
        c.push(eb(sortBy, op, cursor.value as never));
      }
      return eb.and(c);
    };
    // A filter that allows one value of the sort column leaves the order by id within it: after a cursor,
    // only the rest of that value (PostgreSQL would otherwise walk the ids from the start, its row
    // comparison unused: 55 ms for row 250,000 of one status in 10M rows).
    const segments: Segment[] = !cursor
      ? ['all']
      : pinsSortValue(sort.key, filter, scope)
        ? ['equal']
        : dialect === 'sqlite'
          ? ['equal', 'beyond']
          : ['tuple'];
    // The next `size` rows of the segment in this order, without the text test.
    const windowIds = (eb: OutgoingEB, segment: Segment, size: number) =>
      eb
        .selectFrom('outgoing')
        .select('outgoing.id')
        .where((inner) => where(inner as unknown as OutgoingEB, { kind: 'none' }, segment))
        .orderBy(sortBy, direction)
        .orderBy('outgoing.id', direction)
        .limit(size);
    const page = (segment: Segment, text: TextPlan, window: number | null, want: number) =>
      (text.kind === 'ilike' && text.apart
        ? // PostgreSQL, a word too common for the windows: take every match through the trigram index
          // (OFFSET 0 keeps the subquery whole), then sort them; never walk the sort index looking for them.
          db.selectFrom(
            db
              .selectFrom('outgoing')
              .selectAll()
              .where('account_id', '=', scope.accountId)
              .where(sql<SqlBool>`message ilike ${text.pattern} escape '\\'`)
              .offset(0)
              .as('outgoing'),
          )
        : db.selectFrom('outgoing')
      )
        .select(columns.map((c) => `outgoing.${c}` as const))
        .where((eb) =>
          window === null
            ? where(eb, text, segment)
            : eb.and([eb('outgoing.id', 'in', windowIds(eb, segment, window)), ...textConditions(text)]),
        )
        .orderBy(sortBy, direction)
        .orderBy('outgoing.id', direction)
        .limit(want)
        .compile();

    const indexed = textPlan(filter.q, true);
    // With ids the rows are read by id and the text only checked: no candidates to count.
    const few = Boolean(filter.q) && !filter.ids && indexed.kind === 'fts' && (await ftsCandidates(indexed.match, ftsFew)) <= ftsFew;
    // Exports with a common word: a window of the order, the matches kept (see `scan` above).
    if (scan && filter.q && !filter.ids && !few && !backwards) {
      const size = Math.max(limit, scanWindow);
      const hit = sql<number>`case when ${sql.join(textConditions(textPlan(filter.q, false)), sql` and `)} then 1 else 0 end`;
      const window: unknown[][] = [];
      for (const segment of segments) {
        if (window.length >= size) break;
        window.push(
          ...(await selectArrays(
            db
              .selectFrom('outgoing')
              .select(columns.map((c) => `outgoing.${c}` as const))
              .select(hit.as('hit'))
              .where((eb) => where(eb, { kind: 'none' }, segment))
              .orderBy(sortBy, direction)
              .orderBy('outgoing.id', direction)
              .limit(size - window.length)
              .compile(),
          )),
        );
      }
      const hitAt = columns.length;
      const matches = window.filter((r) => Number(r[hitAt]) === 1);
      if (matches.length > limit) return { rows: matches.slice(0, limit), more: true, last: matches[limit - 1] };
      return { rows: matches, more: window.length === size, last: window[window.length - 1] };
    }

    /** Up to `want` rows of one segment, in order. */
    async function read(segment: Segment, want: number): Promise<unknown[][]> {
      // With ids the rows are read by id, and a text search only checks them.
      if (!filter.q || filter.ids) return selectArrays(page(segment, textPlan(filter.q, false), null, want));
      // Rare words: the trigram index gives few candidates to read and sort. Common ones: a window of
      // rows in sort order holds a full page (both planners otherwise sort huge candidate sets, or walk
      // the sort index for millions of rows when the first values hold no match).
      if (!few) {
        for (const size of [...new Set([Math.min(1_000, scanWindow), scanWindow])]) {
          const found = await selectArrays(page(segment, textPlan(filter.q, false), size, want));
          if (found.length >= want) return found;
          const [[inWindow]] = await selectArrays(
            db
              .selectFrom((eb) => windowIds(eb as unknown as OutgoingEB, segment, size).as('w'))
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .compile(),
          );
          if (Number(inWindow) < size) return found; // the window held every remaining row
        }
      }
      return selectArrays(page(segment, indexed.kind === 'ilike' ? { ...indexed, apart: true } : indexed, null, want));
    }

    const rows: unknown[][] = [];
    for (const segment of segments) {
      if (rows.length > limit) break;
      rows.push(...(await read(segment, limit + 1 - rows.length)));
    }
    return pageOf(rows, limit, backwards);
  }

  /**
   * The smallest and largest id that a message of the date range can have (the range's UTC days in
   * `outgoing_days`); null when no message was created on those days.
   */
  async function idBounds(scope: HistoryScope, filter: HistoryFilter): Promise<{ lo: number; hi: number } | null> {
    const days = await db
      .selectFrom('outgoing_days')
      .select((eb) => [eb.fn.min<number | null>('min_id').as('lo'), eb.fn.max<number | null>('max_id').as('hi')])
      .where('account_id', '=', scope.accountId)
      .$if(filter.from !== undefined, (q) => q.where('day', '>=', Math.floor(filter.from! / DAY_MS)))
      .$if(filter.to !== undefined, (q) => q.where('day', '<=', Math.floor(filter.to! / DAY_MS)))
      .executeTakeFirst();
    if (days?.lo == null || days.hi == null) return null;
    return { lo: Number(days.lo), hi: Number(days.hi) };
  }

  /**
   * A page sorted by a column with few values (FEW_VALUES) and filtered by a broad date range. Walking
   * the column's (account, column, id) index from its first value reads every row of the values that
   * have none in the range (a sender last used a year ago, sorted first: millions of rows, seconds). So
   * the values are visited one by one in the order — the next value is one index seek — and each
   * value's rows are read within the ids that the range's days can hold (`outgoing_days`, exact bounds
   * whatever the order of ids and dates): a seek to (account, value, first id) and a walk to the last.
   */
  async function valueSeeks(
    args: PageArgs,
    columns: readonly (typeof COLUMNS)[number][],
    direction: 'asc' | 'desc',
  ): Promise<{ rows: unknown[][]; more: boolean }> {
    const { scope, filter, sort, cursor, limit } = args;
    const column = SORT_COLUMNS[sort.key];
    const bounds = await idBounds(scope, filter);
    if (!bounds) return { rows: [], more: false };
    const { lo, hi } = bounds;
    const op = direction === 'asc' ? '>' : '<';
    // The date range is still tested on each row, without its index (SQLite would otherwise take the
    // (account, status, created_at, id) index for a status and sort its rows by id).
    const rowsOf = (value: unknown, afterId: number | undefined, want: number) =>
      db
        .selectFrom('outgoing')
        .select(columns.map((c) => `outgoing.${c}` as const))
        .where((eb) =>
          eb.and([
            ...conditions(eb, scope, filter, { kind: 'none' }, { dates: dialect === 'sqlite' }),
            eb(`outgoing.${column}`, '=', value as never),
            // One bound a side (SQLite seeks from one only: with the cursor's apart, a deep page would
            // walk from the range's first id to the cursor).
            eb('outgoing.id', '>=', afterId !== undefined && direction === 'asc' ? Math.max(lo, afterId + 1) : lo),
            eb('outgoing.id', '<=', afterId !== undefined && direction === 'desc' ? Math.min(hi, afterId - 1) : hi),
          ]),
        )
        .orderBy('outgoing.id', direction)
        .limit(want)
        .compile();
    const nextValue = async (after: unknown): Promise<unknown> => {
      const pick = direction === 'asc' ? sql`min(${sql.ref(column)})` : sql`max(${sql.ref(column)})`;
      const [[value]] = await selectArrays(
        db
          .selectFrom('outgoing')
          .select(pick.as('v'))
          .where('account_id', '=', scope.accountId)
          .$if(after !== undefined, (q) => q.where(column, op, after as never))
          .compile(),
      );
      return value ?? undefined;
    };

    const rows: unknown[][] = [];
    let value: unknown;
    if (cursor) {
      value = cursor.value;
      rows.push(...(await selectArrays(rowsOf(value, cursor.id, limit + 1))));
    }
    while (rows.length <= limit) {
      value = await nextValue(value);
      if (value === undefined) break;
      rows.push(...(await selectArrays(rowsOf(value, undefined, limit + 1 - rows.length))));
    }
    return pageOf(rows, limit, cursor?.way === 'before');
  }

  /**
   * One page in the order `sort` (tie-broken by id), starting after/before `cursor`. Returns up to
   * `limit` rows in display order; `more` tells whether another row lies beyond them in the reading way.
   */
  async function list(args: PageArgs, scan = false): Promise<StreamPage<Outgoing>> {
    const { rows, more, last } = await listArrays(args, COLUMNS, scan);
    return { rows: rows.map(fromArray), more, ...(last ? { last: fromArray(last) } : {}) };
  }

  /** `list` with lean rows (exports in the seed format). */
  async function listLean(args: PageArgs, scan = false): Promise<StreamPage<LeanOutgoing>> {
    const { rows, more, last } = await listArrays(args, LEAN_COLUMNS, scan);
    return { rows: rows.map(fromLeanArray), more, ...(last ? { last: fromLeanArray(last) } : {}) };
  }

  /**
   * Whether `seedCsv` makes this export's lines in the database, slice by slice: PostgreSQL or a SQLite
   * file (its threads need one), every match (no row limit), sorted by date, filtered at most by dates
   * and one of {SMS user, one status}, so that each slice is a range of one date-ordered index
   * (`outgoing_date`, `outgoing_user_date`, `outgoing_status_date`).
   */
  function sliceable(args: StreamArgs): boolean {
    if ((dialect === 'sqlite' && !sqliteFile) || args.sort.key !== 'date' || args.limit !== null) return false;
    const { from, to, user, statuses, ...others } = args.filter;
    if (Object.values(others).some((v) => v !== undefined)) return false;
    const byUser = user !== undefined || args.scope.userLogin !== null;
    return statuses === undefined || (statuses.length === 1 && !byUser);
  }

  /**
   * Date intervals `[from, to]` (ms, inclusive, ascending) covering `[lo, hi]`, each holding about
   * `csvSliceRows` of the account's messages at most: per day, `outgoing_days`' id span bounds how many
   * it has; quiet days are grouped, busy ones cut into equal hours-long pieces.
   */
  async function dateSlices(accountId: number, lo: number, hi: number): Promise<[number, number][]> {
    const days = await db
      .selectFrom('outgoing_days')
      .select(['day', 'min_id', 'max_id'])
      .where('account_id', '=', accountId)
      .where('day', '>=', Math.floor(lo / DAY_MS))
      .where('day', '<=', Math.floor(hi / DAY_MS))
      .orderBy('day')
      .execute();
    const slices: [number, number][] = [];
    let start = lo;
    let rows = 0;
    for (const d of days) {
      const dayStart = Math.max(lo, Number(d.day) * DAY_MS);
      const dayEnd = Math.min(hi, (Number(d.day) + 1) * DAY_MS - 1);
      const most = Number(d.max_id) - Number(d.min_id) + 1;
      if (rows > 0 && rows + most > csvSliceRows) {
        slices.push([start, dayStart - 1]);
        start = dayStart;
        rows = 0;
      }
      if (most <= csvSliceRows) {
        rows += most;
        continue;
      }
      const pieces = Math.ceil(most / csvSliceRows);
      const width = (dayEnd - dayStart + 1) / pieces;
      for (let i = 1; i < pieces; i++) {
        const end = dayStart + Math.floor(i * width) - 1;
        slices.push([start, end]);
        start = end + 1;
      }
      slices.push([start, dayEnd]);
      start = dayEnd + 1;
    }
    if (start <= hi) slices.push([start, hi]);
    return slices;
  }

  /**
   * The seed CSV lines of a large export (`sliceable`), made by the database: the export's dates are
   * cut into slices (`dateSlices`), each one statement answering the slice's lines (seed-csv-sql.ts)
   * joined in order; two are read at once — on SQLite by the CSV threads (a BLOB), on PostgreSQL by two
   * connections (`COPY … (FORMAT binary)`): UTF-8 bytes never decoded here — while the serving thread
   * sends those of the slice before. The export covers the dates its matches had when it started (a
   * message accepted meanwhile is not in it).
   */
  async function* seedCsvSlices(args: StreamArgs, timeZone: string): AsyncGenerator<SeedCsvPart> {
    const { scope, filter } = args;
    const direction = args.sort.direction;
    const edge = async (way: 'asc' | 'desc'): Promise<number | undefined> => {
      const [row] = await selectArrays(
        db
          .selectFrom('outgoing')
          .select('outgoing.created_at')
          .where((eb) => eb.and(conditions(eb, scope, filter, { kind: 'none' })))
          .orderBy('outgoing.created_at', way)
          .orderBy('outgoing.id', way)
          .limit(1)
          .compile(),
      );
      return row ? Number(row[0]) : undefined;
    };
    const lo = await edge('asc');
    const hi = await edge('desc');
    if (lo === undefined || hi === undefined) return;
    const offsets = getTimeFormatter(timeZone).offsets(lo, hi);
    const slices = await dateSlices(scope.accountId, lo, hi);
    if (direction === 'desc') slices.reverse();
    const line = seedCsvLine(dialect, offsets);
    const read = ([from, to]: [number, number]): Promise<SeedCsvPart> => {
      const lines = db
        .selectFrom('outgoing')
        .select(line.as('line'))
        .where((eb) =>
          eb.and([
            ...conditions(eb, scope, filter, { kind: 'none' }),
            eb('outgoing.created_at', '>=', from),
            eb('outgoing.created_at', '<=', to),
          ]),
        )
        .orderBy('outgoing.created_at', direction)
        .orderBy('outgoing.id', direction);
      let lines$: Promise<SeedCsvPart>;
      if (dialect === 'sqlite') {
        // The slice's lines joined by SQLite in the order read, as a BLOB: no row reaches JavaScript.
        const query = db
          .selectFrom(lines.as('t'))
          .select([sql<number>`count(*)`.as('rows'), sql<Uint8Array>`cast(group_concat(t.line, '') as blob)`.as('csv')])
          .compile();
        csvThreads ??= startSqliteCsvThreads(sqliteFile as string);
        lines$ = csvThreads.run({ sql: query.sql, parameters: query.parameters });
      } else {
        // string_agg takes the rows in the order the subquery reads them (its own ORDER BY would sort
        // them again, spilling to disk past work_mem: 8 µs a row instead of 4).
        // COPY … TO STDOUT in binary format: the lines come as the bytes PostgreSQL sent, never decoded
        // into a JavaScript string (the driver decodes every text value: 2 µs a row of this thread).
        const query = db
          .selectFrom(lines.as('t'))
          .select([sql<number>`count(*)::int`.as('rows'), sql<string>`string_agg(t.line, '')`.as('csv')])
          .compile();
        const select = inlineParameters(query.sql, query.parameters);
        lines$ = pgSlice(() => copySeedCsvPart(database.pool as NonNullable<Database['pool']>, select));
      }
      // Handled here too, so that a slice failing while an earlier one is awaited is no unhandled rejection.
      lines$.catch(() => {});
      return lines$;
    };
    // Three slices in flight: the one whose lines are being sent, and one more for each thread or connection.
    const inFlight: Promise<SeedCsvPart>[] = [];
    let next = 0;
    for (;;) {
      while (inFlight.length < 3 && next < slices.length) inFlight.push(read(slices[next++]));
      const waiting = inFlight.shift();
      if (!waiting) return;
      const part = await waiting;
      if (part.rows > 0) yield part;
    }
  }

  return {
    /** The WHERE of `filter` within `scope` for other readers of the history (stats); text search as `count` does it. */
    where(eb: OutgoingEB, scope: HistoryScope, filter: HistoryFilter): Expression<SqlBool> {
      return eb.and(conditions(eb, scope, filter, textPlan(filter.q, !filter.ids)));
    },

    list,
    listLean,

    /**
     * Keyset batches of the filtered history's ids, newest first (by date, then id: the history's order
     * and its indexes), each with what OVH's `ptt` and `differedDelivery` derive from: OVH's id lists,
     * in constant memory whatever the history's size.
     */
    async *streamIds(args: { scope: HistoryScope; filter: HistoryFilter; batchSize?: number }): AsyncGenerator<OutgoingIdRow[]> {
      const limit = args.batchSize ?? ID_BATCH;
      let cursor: Cursor | null = null;
      for (;;) {
        const page = await listArrays({ scope: args.scope, filter: args.filter, sort: DEFAULT_SORT, cursor, limit }, ID_COLUMNS);
        const rows = page.rows.map(fromIdArray);
        if (rows.length) yield rows;
        const last = rows[rows.length - 1];
        if (!page.more || last === undefined) return;
        cursor = { way: 'after', value: last.createdAt, id: last.id };
        // As `streamPages`: a turn of the event loop between batches (SQLite reads are synchronous).
        await nextTurn();
      }
    },

    /** How many messages match, counting at most `cap` (then `exact` is false). */
    async count(args: { scope: HistoryScope; filter: HistoryFilter; cap: number }): Promise<{ count: number; exact: boolean }> {
      const text = textPlan(args.filter.q, !args.filter.ids);
      if (text.kind === 'fts') {
        // Walk the trigram index's candidates (and the rows it does not cover yet) lazily: an IN (…)
        // would first collect all of them. CROSS JOIN keeps them the outer loop: SQLite otherwise read the
        // rows after the mark through an index on the account (sampled statistics take an account for a
        // few thousand rows), every message of it tested — 4 s for a rare word on 10,000,000 rows, 0.4 ms so.
        const candidates = sql<{
          id: number;
        }>`(select rowid as id from outgoing_fts where outgoing_fts match ${text.match} union all ${TEXT_INDEX_TAIL})`;
        const inner = db
          .selectFrom(candidates.as('candidates'))
          .crossJoin('outgoing')
          .select(sql.lit(1).as('one'))
          .whereRef('outgoing.id', '=', 'candidates.id')
          .where((eb) =>
            eb.and(conditions(eb as unknown as OutgoingEB, args.scope, args.filter, { kind: 'contains', folded: text.folded })),
          )
          .limit(args.cap + 1);
        const count = await countRows(
          db
            .selectFrom(inner.as('t'))
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .compile(),
          args.cap,
        );
        return count > args.cap ? { count: args.cap, exact: false } : { count, exact: true };
      }
      const inner = db
        .selectFrom('outgoing')
        .select(sql.lit(1).as('one'))
        .where((eb) => eb.and(conditions(eb, args.scope, args.filter, text)))
        .limit(args.cap + 1);
      const count = await countRows(
        db
          .selectFrom(inner.as('t'))
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .compile(),
        args.cap,
      );
      return count > args.cap ? { count: args.cap, exact: false } : { count, exact: true };
    },

    async findById(scope: HistoryScope, id: number): Promise<Outgoing | undefined> {
      const row = await db
        .selectFrom('outgoing')
        .select(COLUMNS)
        .where('account_id', '=', scope.accountId)
        .where('id', '=', id)
        .$if(scope.userLogin !== null, (qb) => qb.where('user_login', '=', scope.userLogin!))
        .executeTakeFirst();
      return row ? toOutgoing(row) : undefined;
    },

    /**
     * The SMS user logins found in the account's history (a user deleted since included), in order, at
     * most `cap`: one seek of the (account, user_login, …) index per login, whatever the rows.
     */
    async userLogins(scope: HistoryScope, cap: number): Promise<string[]> {
      if (scope.userLogin !== null) {
        const own = await db
          .selectFrom('outgoing')
          .select('id')
          .where('account_id', '=', scope.accountId)
          .where('user_login', '=', scope.userLogin)
          .limit(1)
          .executeTakeFirst();
        return own ? [scope.userLogin] : [];
      }
      const logins: string[] = [];
      // '' is a message sent with no SMS user: the first login is the smallest above it.
      let after = '';
      while (logins.length < cap) {
        const row = await db
          .selectFrom('outgoing')
          .select((eb) => eb.fn.min<string | null>('user_login').as('login'))
          .where('account_id', '=', scope.accountId)
          .where('user_login', '>', after)
          .executeTakeFirst();
        if (row?.login == null) break;
        logins.push(row.login);
        after = row.login;
      }
      return logins;
    },

    /** The largest message id of any account (0 when there is none): every message accepted later has a larger one. */
    async maxId(): Promise<number> {
      const row = await db
        .selectFrom('outgoing')
        .select((eb) => eb.fn.max<number | null>('id').as('id'))
        .executeTakeFirst();
      return Number(row?.id ?? 0);
    },

    /** Up to `limit` ids matching the filter (any order): the next batch of a deletion by filter. */
    async findIds(args: { scope: HistoryScope; filter: HistoryFilter; limit: number }): Promise<number[]> {
      const { rows } = await db.executeQuery(this.findIdsQuery(args));
      return rows.map((r) => r.id);
    },

    /** `findIds`' query, for a deletion that runs it in its own transaction (and, on SQLite, thread). */
    findIdsQuery(args: { scope: HistoryScope; filter: HistoryFilter; limit: number }): CompiledQuery<{ id: number }> {
      const text = textPlan(args.filter.q, true);
      return db
        .selectFrom('outgoing')
        .select('outgoing.id')
        .where((eb) => eb.and(conditions(eb, args.scope, args.filter, text)))
        .limit(args.limit)
        .compile();
    },

    /**
     * Deletes these messages of the scope in one transaction; those still pending are canceled
     * (see `cancelQueued`) and their credits given back (to the account, and to their SMS user's quota
     * when that quota paid for them: see `refundCredits`). Returns the ids really deleted and the credits
     * given back to the account.
     */
    async deleteIds(scope: HistoryScope, ids: number[], now: number): Promise<{ deleted: number[]; refunded: number }> {
      if (ids.length === 0) return { deleted: [], refunded: 0 };
      return db.transaction().execute(async (trx) => {
        await lockQueueEntries(trx, dialect, ids);
        // The rows this transaction deleted, as the database says (a concurrent deletion of the same ids
        // deletes each once: the other gets nothing back, and gives nothing back).
        const found: { id: number; status: string; credits: number; user_id: number | null; job_id: number | null }[] = [];
        for (let i = 0; i < ids.length; i += 1000) {
          const rows = await trx
            .deleteFrom('outgoing')
            .where('account_id', '=', scope.accountId)
            .where('id', 'in', ids.slice(i, i + 1000))
            .$if(scope.userLogin !== null, (qb) => qb.where('user_login', '=', scope.userLogin!))
            .returning(['id', 'status', 'credits', 'user_id', 'job_id'])
            .execute();
          found.push(...rows.map((r) => ({ ...r, id: Number(r.id), credits: Number(r.credits) })));
        }
        const deleted = found.map((r) => r.id);
        await purgeDeletedText(trx, dialect, deleted);
        const canceled = await cancelQueued(
          trx,
          found.filter((r) => r.status === 'pending'),
          now,
        );
        const refunded = canceled.reduce((sum, r) => sum + r.credits, 0);
        if (refunded > 0) {
          await refundCredits(trx, scope.accountId, canceled);
        }
        return { deleted, refunded };
      });
    },

    /**
     * Cancels one pending message of the scope, all or nothing: unless a dispatcher holds it now (it may
     * be in the carrier's hands), its queue entry goes, the message is deleted and its credits given back,
     * in one transaction. Otherwise nothing changes and the answer says why.
     */
    async cancelPending(scope: HistoryScope, id: number, now: number): Promise<'canceled' | 'not-found' | 'not-pending' | 'held'> {
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('outgoing')
          .select(['id', 'status', 'credits', 'user_id', 'job_id'])
          .where('account_id', '=', scope.accountId)
          .where('id', '=', id)
          .$if(scope.userLogin !== null, (qb) => qb.where('user_login', '=', scope.userLogin!))
          .executeTakeFirst();
        if (!row) return 'not-found';
        if (row.status !== 'pending') return 'not-pending';
        const [canceled] = await cancelQueued(trx, [row], now);
        if (!canceled) {
          // Its entry stays: a dispatcher holds it. Gone already: another cancellation took it (the row
          // is gone too, below) — or it never had one (a demo row, never charged: deleted, nothing back).
          const entry = await trx.selectFrom('dispatch_queue').select('outgoing_id').where('outgoing_id', '=', id).executeTakeFirst();
          if (entry) return 'held';
        }
        // Deleted here, as the database says: of two cancellations at once, one only gives the credits back.
        const gone = await trx
          .deleteFrom('outgoing')
          .where('account_id', '=', scope.accountId)
          .where('id', '=', id)
          .returning('id')
          .executeTakeFirst();
        if (!gone) return 'not-found';
        await purgeDeletedText(trx, dialect, [id]);
        if (canceled) await refundCredits(trx, scope.accountId, [row]);
        return 'canceled';
      });
    },

    /**
     * Redacts these messages of the scope in one transaction: the text erased (`message` '', `redacted_at`
     * set, its entries leaving SQLite's text index by the update trigger) and the receiver masked (see
     * `MASKED_RECEIVER`), every other field kept. Pending messages are left whole: they are still to be
     * sent. Idempotent. Returns the ids redacted and those left because pending.
     */
    async redactIds(scope: HistoryScope, ids: number[], now: number): Promise<{ redacted: number[]; pending: number[] }> {
      if (ids.length === 0) return { redacted: [], pending: [] };
      return db.transaction().execute(async (trx) => {
        const redacted: number[] = [];
        const pending: number[] = [];
        for (let i = 0; i < ids.length; i += 1000) {
          const rows = await trx
            .selectFrom('outgoing')
            .select(['id', 'status'])
            .where('account_id', '=', scope.accountId)
            .where('id', 'in', ids.slice(i, i + 1000))
            .$if(scope.userLogin !== null, (qb) => qb.where('user_login', '=', scope.userLogin!))
            .execute();
          for (const r of rows) (r.status === 'pending' ? pending : redacted).push(Number(r.id));
        }
        for (let i = 0; i < redacted.length; i += 1000) {
          await trx
            .updateTable('outgoing')
            .set((eb) => ({
              message: '',
              redacted_at: eb.fn.coalesce('redacted_at', sql<number>`${now}`),
              receiver: MASKED_RECEIVER,
            }))
            .where('account_id', '=', scope.accountId)
            .where('id', 'in', redacted.slice(i, i + 1000))
            .where('status', '<>', 'pending')
            .execute();
        }
        return { redacted, pending };
      });
    },

    /** Keyset batches of the whole filtered history in `sort` order, for exports (constant memory). */
    stream(args: StreamArgs): AsyncGenerator<Outgoing[]> {
      return streamPages(args, (page) => list(page, true));
    },

    /** `stream` with lean rows (the seed CSV). */
    streamLean(args: StreamArgs): AsyncGenerator<LeanOutgoing[]> {
      return streamPages(args, (page) => listLean(page, true));
    },

    /**
     * The seed CSV lines of a large export (UTF-8, with their row counts), made by the database when it
     * can be (`sliceable`); null otherwise (the caller formats `streamLean`'s rows). Dates in `timeZone`.
     */
    seedCsv(args: StreamArgs, timeZone: string): AsyncGenerator<SeedCsvPart> | null {
      return sliceable(args) ? seedCsvSlices(args, timeZone) : null;
    },

    /** Stops the CSV threads, if they were started. */
    async close(): Promise<void> {
      const threads = csvThreads;
      csvThreads = undefined;
      await threads?.close();
    },
  };
}

type StreamArgs = { scope: HistoryScope; filter: HistoryFilter; sort: HistorySort; limit: number | null; batchSize?: number };
type PageArgs = { scope: HistoryScope; filter: HistoryFilter; sort: HistorySort; cursor: Cursor | null; limit: number };
/** A page, and where the next one starts when that is not its last row (see `listArrays`' `scan`). */
type StreamPage<T> = { rows: T[]; more: boolean; last?: T };

/** Keyset batches of a whole filtered history, read page after page by `list`. */
async function* streamPages<T extends LeanOutgoing>(
  args: StreamArgs,
  list: (page: PageArgs) => Promise<StreamPage<T>>,
): AsyncGenerator<T[]> {
  // 1,000 rows a batch: 5,000 kept so many rows alive across the awaits that V8 promoted them and let
  // the heap grow to 218 MB during a 10M-row export (142 MB with 1,000, at the same speed).
  const batchSize = args.batchSize ?? 1000;
  let cursor: Cursor | null = null;
  let left = args.limit ?? Number.POSITIVE_INFINITY;
  while (left > 0) {
    const take = Math.min(batchSize, left);
    let page: StreamPage<T> | null = await list({ scope: args.scope, filter: args.filter, sort: args.sort, cursor, limit: take });
    if (page.rows.length) yield page.rows;
    left -= page.rows.length;
    const last = page.last ?? page.rows[page.rows.length - 1];
    const more = page.more;
    page = null;
    if (!more || last === undefined) return;
    cursor = { way: 'after', value: sortValueOf(last, args.sort), id: last.id };
    // A turn of the event loop between batches (SQLite reads are synchronous: a long export would hold
    // every other request until its end), taken with the batch let go: rows alive when V8 collects
    // during a wait are promoted, and that garbage grew an export's heap by 100 MB on a busy machine.
    await nextTurn();
  }
}

/**
 * `text` with its `$n` placeholders replaced by the values as SQL literals (COPY takes no parameters):
 * strings quoted by the driver's `escapeLiteral`, finite numbers as they are; anything else throws.
 */
export function inlineParameters(text: string, parameters: readonly unknown[]): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const value = parameters[Number(n) - 1];
    if (typeof value === 'string') return pg.escapeLiteral(value);
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    if (typeof value === 'bigint') return value.toString();
    throw new Error(`cannot inline parameter $${n} (${typeof value})`);
  });
}

/** Lines of a seed CSV export made by the database, and how many messages they are. */
export interface SeedCsvPart {
  rows: number;
  /** UTF-8. */
  lines: Uint8Array;
}

/**
 * The one row `select` answers — an int4 row count, then the lines' text — as PostgreSQL sends it:
 * `COPY (select) TO STDOUT (FORMAT binary)` (a 19-byte header, then per row a field count and each
 * field's length and bytes, then -1). The text's bytes are kept as they are; NULL is empty.
 */
async function copySeedCsvPart(pool: pg.Pool, select: string): Promise<SeedCsvPart> {
  const client = await pool.connect();
  let bytes: Buffer;
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of client.query(copyTo(`copy (${select}) to stdout (format binary)`))) chunks.push(chunk as Buffer);
    bytes = Buffer.concat(chunks);
  } finally {
    client.release();
  }
  const HEADER = 19;
  if (bytes.length < HEADER + 14 || bytes.readInt16BE(HEADER) !== 2 || bytes.readInt32BE(HEADER + 2) !== 4) {
    throw new Error('COPY answered no row of a count and a text');
  }
  const rows = bytes.readInt32BE(HEADER + 6);
  const length = bytes.readInt32BE(HEADER + 10);
  return { rows, lines: length < 0 ? new Uint8Array(0) : bytes.subarray(HEADER + 14, HEADER + 14 + length) };
}

/**
 * On PostgreSQL, locks the dispatch queue entries of these messages (those that have one), before
 * anything touches their rows: every transaction that changes both a message and its queue entry takes
 * the entry first (the dispatcher's settlement, `cancelPending`, deletions), so that two of them never
 * wait for each other (a deletion and a cancellation of one message at once deadlocked). In id order,
 * one array parameter. SQLite runs one writing transaction at a time: nothing to do.
 */
export async function lockQueueEntries(trx: Kysely<DB>, dialect: Database['dialect'], ids: readonly number[]): Promise<void> {
  if (dialect !== 'postgres' || ids.length === 0) return;
  await sql`select outgoing_id from dispatch_queue where outgoing_id = any(${[...ids]}::bigint[]) order by outgoing_id for update`.execute(
    trx,
  );
}

/**
 * Cancels the sending of these deleted pending messages: their dispatch queue entries go, so no
 * dispatcher will claim them. Returns those canceled, whose credits are to be given back. A message
 * that a dispatcher holds at this moment (its lease runs) may already be in the carrier's hands: it
 * is not canceled, its entry stays for the dispatcher to settle, and its credits stay spent.
 * On PostgreSQL an entry being claimed concurrently is waited for, then seen held.
 */
export async function cancelQueued<T extends { id: number }>(trx: Kysely<DB>, pending: readonly T[], now: number): Promise<T[]> {
  if (pending.length === 0) return [];
  // Canceled: those whose entry this deletes. A pending message with no entry at all (demo rows, which
  // were never charged) is not canceled either: there is nothing to give back for it.
  const canceled = new Set<number>();
  for (let i = 0; i < pending.length; i += 1000) {
    const ids = pending.slice(i, i + 1000).map((r) => r.id);
    const removed = await trx
      .deleteFrom('dispatch_queue')
      .where('outgoing_id', 'in', ids)
      .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_until', '<', now)]))
      .returning('outgoing_id')
      .execute();
    for (const r of removed) canceled.add(Number(r.outgoing_id));
  }
  return pending.filter((r) => canceled.has(r.id));
}

/**
 * Gives back the credits of deleted pending messages (canceled: see `cancelQueued`) to the account, and
 * to their SMS user's quota what that quota paid for them. The rule, per message, by its job's
 * `quota_paid` (migration 0011), as of the acceptance:
 * - 0, not paid from a quota (no quota then; one set since has not paid for it): nothing to the quota.
 * - n ≥ 1, paid from the user's quota of epoch n - 1: its credits back to that quota as it is now, even if
 *   the operator changed the number since (the user gets back what it paid); nothing if that quota was
 *   removed since (null, no limit, or removed and set again: a later quota, which did not pay).
 * - unknown (a job accepted before migration 0011, or no job: the demo's sample history): as before that
 *   migration, back to the quota when the user has one.
 * The SQLite delete worker (sqlite-delete-worker.ts) applies the same rule with its own statements.
 */
export async function refundCredits(
  trx: Kysely<DB>,
  accountId: number,
  rows: readonly { credits: number; user_id: number | null; job_id: number | null }[],
): Promise<void> {
  const total = rows.reduce((sum, r) => sum + r.credits, 0);
  await trx
    .updateTable('accounts')
    .set((eb) => ({ credits: eb('credits', '+', total) }))
    .where('id', '=', accountId)
    .execute();
  const ofUsers = rows.filter((r) => r.user_id !== null);
  const jobIds = [...new Set(ofUsers.flatMap((r) => (r.job_id === null ? [] : [r.job_id])))];
  const paid = new Map<number, number | null>();
  for (let i = 0; i < jobIds.length; i += 1000) {
    const found = await trx
      .selectFrom('jobs')
      .select(['id', 'quota_paid'])
      .where('id', 'in', jobIds.slice(i, i + 1000))
      .execute();
    for (const r of found) paid.set(r.id, r.quota_paid === null ? null : Number(r.quota_paid));
  }
  // Credits back per user and per quota that paid (an epoch), or unknown (null: the former rule).
  const perQuota = new Map<string, { userId: number; epoch: number | null; credits: number }>();
  for (const r of ofUsers) {
    const quotaPaid = r.job_id === null ? null : (paid.get(r.job_id) ?? null);
    if (quotaPaid === 0) continue;
    const epoch = quotaPaid === null ? null : quotaPaid - 1;
    const key = `${r.user_id} ${epoch}`;
    const entry = perQuota.get(key) ?? { userId: r.user_id!, epoch, credits: 0 };
    entry.credits += r.credits;
    perQuota.set(key, entry);
  }
  for (const { userId, epoch, credits } of perQuota.values()) {
    await trx
      .updateTable('sms_users')
      .set((eb) => ({ quota: eb('quota', '+', credits) }))
      .where('id', '=', userId)
      .where('account_id', '=', accountId)
      .where('quota', 'is not', null)
      .$if(epoch !== null, (qb) => qb.where('quota_epoch', '=', epoch!))
      .execute();
  }
}

/** The value a row has in the sort column (as stored: '' for no user, '' for a redacted text). */
export function sortValueOf(o: LeanOutgoing, sort: HistorySort): string | number {
  switch (sort.key) {
    case 'date':
      return o.createdAt;
    case 'user':
      return o.userLogin ?? '';
    case 'message':
      return messageSortValue(o.message ?? '');
    default:
      return o[sort.key];
  }
}

export type OutgoingRepository = ReturnType<typeof createOutgoingRepository>;
