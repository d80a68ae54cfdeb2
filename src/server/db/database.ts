import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type LogEvent,
  PostgresDialect,
  SqliteDialect,
  type SqliteDialectConfig,
  type SqliteDatabase as SqliteDialectDatabase,
  SqliteDriver,
} from 'kysely';
import pg from 'pg';
import { ensureDirectory } from '../directories.js';
import type { DB } from './schema.js';
import { SAFETY_NET_PAGES, type SqliteCheckpointer, startSqliteCheckpointer } from './sqlite-checkpointer.js';
import { SQLITE_PRAGMAS } from './sqlite-pragmas.js';
import { sqliteReaderDialect, startSqliteReader } from './sqlite-reader.js';

export type Dialect = 'sqlite' | 'postgres';

/** An open database: the Kysely instance plus the raw handle for bulk paths (demo, export). */
export interface Database {
  db: Kysely<DB>;
  /**
   * For long reads (statistics, exact counts) that must not hold back the serving thread: on a SQLite
   * file, a thread of its own with its own connection (sqlite-reader.ts); otherwise `db` itself.
   */
  reader: Kysely<DB>;
  dialect: Dialect;
  /** Present on SQLite. */
  sqlite?: SqliteDatabase.Database;
  /** Present on a SQLite file (not in memory): its path, for threads that open connections of their own. */
  sqliteFile?: string;
  /** Present on a SQLite file opened with `backgroundCheckpoints`. */
  checkpointer?: SqliteCheckpointer;
  /** Present on PostgreSQL. */
  pool?: pg.Pool;
  /** Sees the SQL that repositories run directly on the driver (benchmarks). */
  onQuery?: (sql: string, parameters: readonly unknown[]) => void;
  /** The PostgreSQL schema chosen by the URL's `schema` parameter, if any. */
  schema?: string;
  close(): Promise<void>;
}

// bigint (ids, epoch ms, counts) and numeric as JS numbers: all our values stay below 2^53.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));
pg.types.setTypeParser(1700, (v) => Number.parseFloat(v));

/** Case-insensitive "contains" with Unicode case folding; accents matter. */
export function foldText(text: string): string {
  return text.toLowerCase();
}

function openSqlite(path: string): SqliteDatabase.Database {
  if (path !== ':memory:') {
    try {
      ensureDirectory(dirname(path));
    } catch (error) {
      throw new Error(
        `the SQLite database's directory ${dirname(path)} cannot be made (${(error as NodeJS.ErrnoException).code ?? error})`,
      );
    }
  }
  const sqlite = new SqliteDatabase(path);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a committed transaction survives a process crash (kill -9); only an OS crash may lose the last ones.
  sqlite.pragma('synchronous = NORMAL');
  for (const pragma of SQLITE_PRAGMAS) sqlite.pragma(pragma);
  sqlite.pragma('foreign_keys = ON');
  // 16 MiB of page cache (private memory). The first GiB of the file is read through mmap (shared, clean
  // pages); beyond it, pages come from the OS file cache. 128 MiB made a 10M-row export's private memory
  // peak 128 MB higher and was no faster; the history's pages stayed within their goals (measured with mmap off).
  sqlite.pragma('cache_size = -16384');
  sqlite.function('relais_contains', { deterministic: true }, (text: unknown, folded: unknown) =>
    typeof text === 'string' && typeof folded === 'string' && foldText(text).includes(folded) ? 1 : 0,
  );
  return sqlite;
}

/** How long a statement waits for another connection's write lock before SQLITE_BUSY reaches its caller. */
const LOCK_WAIT_MS = 5000;

const isBusy = (error: unknown) =>
  typeof (error as { code?: unknown })?.code === 'string' && (error as { code: string }).code.startsWith('SQLITE_BUSY');

/**
 * Kysely's SQLite driver with two changes. Transactions begin `immediate`: they take the write lock
 * first, so a transaction that reads then writes never fails half-way because another connection wrote
 * meanwhile (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits for). And a statement refused with
 * SQLITE_BUSY outside a transaction (the lock is another connection's: a delete job's thread, a
 * command-line tool) is tried again after a timer, up to LOCK_WAIT_MS: with `busy_timeout = 0`
 * the serving thread waits for the lock without stopping its event loop (SQLite's own busy handler
 * sleeps the thread).
 */
class LockWaitingSqliteDriver extends SqliteDriver {
  readonly #sqlite: SqliteDatabase.Database;
  #wrapped: DatabaseConnection | undefined;
  constructor(config: SqliteDialectConfig, sqlite: SqliteDatabase.Database) {
    super(config);
    this.#sqlite = sqlite;
  }
  override async acquireConnection(): Promise<DatabaseConnection> {
    const inner = await super.acquireConnection();
    this.#wrapped ??= {
      executeQuery: (query) => this.#retrying(() => inner.executeQuery(query)),
      streamQuery: (query, chunkSize) => inner.streamQuery(query, chunkSize),
    };
    return this.#wrapped;
  }
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
  async #retrying<R>(run: () => Promise<R>): Promise<R> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        // Inside a transaction the statement may have been half of something: never tried again.
        if (!isBusy(error) || this.#sqlite.inTransaction || Date.now() - started > LOCK_WAIT_MS) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(attempt, 4)));
      }
    }
  }
}

class LockWaitingSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  readonly #sqlite: SqliteDatabase.Database;
  constructor(config: SqliteDialectConfig, sqlite: SqliteDatabase.Database) {
    super(config);
    this.#config = config;
    this.#sqlite = sqlite;
  }
  override createDriver(): Driver {
    return new LockWaitingSqliteDriver(this.#config, this.#sqlite);
  }
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query it runs; preparing costs as much as running a small insert. This keeps the
 * last prepared statements by SQL text (least recently used out), so a repeated query is prepared once.
 */
function withStatementCache(sqlite: SqliteDatabase.Database): SqliteDialectDatabase {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      const cached = statements.get(sql);
      if (cached && !cached.busy) {
        statements.delete(sql);
        statements.set(sql, cached);
        return cached;
      }
      const statement = sqlite.prepare(sql);
      if (cached) return statement; // the cached one is iterating (a stream): use a fresh one meanwhile
      statements.set(sql, statement);
      if (statements.size > STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
      return statement;
    },
  };
}

/**
 * Opens `sqlite:PATH` or `postgres://…`. A `schema` query parameter on a PostgreSQL URL selects the
 * schema (search_path) — the tests use one schema per test file. `onQuery` sees every SQL statement
 * (benchmarks use it to EXPLAIN slow queries).
 */
export function openDatabase(
  url: string,
  options: {
    poolSize?: number;
    onQuery?: (sql: string, parameters: readonly unknown[]) => void;
    /**
     * SQLite file: WAL checkpoints on a thread of their own instead of inside the serving thread's commits
     * (sqlite-checkpointer.ts). For the long-running server; `onError` hears a failed checkpoint.
     */
    backgroundCheckpoints?: { onError?: (message: string) => void };
    /**
     * SQLite file: another connection of the process already runs the background checkpoints (a thread
     * of the server opening its own connection): this one keeps only the safety net, as the serving one does.
     */
    checkpointedElsewhere?: boolean;
    /**
     * SQLite: the connection never sleeps waiting for another connection's write lock (`busy_timeout = 0`);
     * its Kysely statements wait on a timer instead (LockWaitingSqliteDriver). For the server, whose
     * event loop must keep serving while a delete job's thread or a tool writes; raw statements (reads
     * of an export; the first start's demo data) then fail at once with SQLITE_BUSY instead of waiting.
     */
    nonBlockingLockWaits?: boolean;
  } = {},
): Database {
  const log = options.onQuery ? (event: LogEvent) => options.onQuery!(event.query.sql, event.query.parameters) : undefined;
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length) || ':memory:';
    const sqlite = openSqlite(path);
    if (options.nonBlockingLockWaits) sqlite.pragma('busy_timeout = 0');
    const db = new Kysely<DB>({ dialect: new LockWaitingSqliteDialect({ database: withStatementCache(sqlite) }, sqlite), log });
    const reader = path === ':memory:' ? db : new Kysely<DB>({ dialect: sqliteReaderDialect(startSqliteReader(path)), log });
    let checkpointer: SqliteCheckpointer | undefined;
    if ((options.backgroundCheckpoints || options.checkpointedElsewhere) && path !== ':memory:') {
      sqlite.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
      sqlite.pragma('journal_size_limit = 67108864'); // a WAL grown under load is cut back to 64 MiB once reset
      if (options.backgroundCheckpoints) checkpointer = startSqliteCheckpointer(path, { onError: options.backgroundCheckpoints.onError });
    }
    return {
      db,
      reader,
      dialect: 'sqlite',
      sqlite,
      ...(path === ':memory:' ? {} : { sqliteFile: path }),
      onQuery: options.onQuery,
      ...(checkpointer ? { checkpointer } : {}),
      close: async () => {
        await checkpointer?.close();
        if (reader !== db) await reader.destroy();
        await db.destroy();
      },
    };
  }
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema');
  parsed.searchParams.delete('schema');
  const pool = new pg.Pool({
    connectionString: parsed.toString(),
    max: options.poolSize ?? 10,
    // No JIT: the history's queries are short, and on large plans PostgreSQL spent 0.5–3 s compiling
    // (measured on 10M rows) for queries that then ran in less.
    options: `-c jit=off${schema ? ` -c search_path=${schema},public` : ''}`,
  });
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }), log });
  return {
    db,
    reader: db,
    dialect: 'postgres',
    pool,
    onQuery: options.onQuery,
    ...(schema ? { schema } : {}),
    close: async () => {
      await db.destroy();
    },
  };
}
