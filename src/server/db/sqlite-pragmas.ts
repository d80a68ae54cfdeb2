/**
 * The settings every connection to a SQLite file of Relais takes: the serving one (database.ts) and
 * those of its worker threads (the long reads, the delete jobs), which get them as `workerData` so
 * that no copy drifts. Each connection adds its own (cache size, query_only…).
 */
export const SQLITE_PRAGMAS: readonly string[] = ['busy_timeout = 5000', 'temp_store = MEMORY', 'mmap_size = 1073741824'];
