import { afterAll, beforeAll } from 'vitest';
import { type App, buildApp } from '../src/server/app.js';
import type { Clock } from '../src/server/clock.js';
import { type Config, loadConfig } from '../src/server/config.js';
import type { Dialect } from '../src/server/db/database.js';
import { describeEachDialect, type TestDatabase } from './database.js';

/** The server secret of test apps (OVH application secrets are derived from it). */
export const TEST_SECRET_KEY = 'relais-test-server-secret-0123456789abcdef';

/** A config for tests: defaults plus the given overrides. */
export function testConfig(overrides: Partial<Config> = {}): Readonly<Config> {
  // Cheap argon2 parameters in tests (RELAIS_ARGON2_TEST_FAST); production keeps OWASP's.
  // Callback receivers in tests listen on 127.0.0.1 (RELAIS_CALLBACK_PRIVATE=allow).
  // Every test client is 127.0.0.1, and the security suites send hundreds of wrong keys on purpose: no
  // limit of failed API authentications unless a test sets one (test/api-auth-limits.test.ts does).
  return Object.freeze({
    ...loadConfig({}),
    argon2TestFast: true,
    callbackPrivate: true,
    secretKey: TEST_SECRET_KEY,
    apiAuthFailuresPerMinute: 0,
    ...overrides,
  });
}

export interface AppTestContext {
  readonly database: TestDatabase;
  readonly dialect: Dialect;
  readonly app: App;
}

/**
 * `describeEachDialect` plus a built app (`ctx.app.inject(…)`) on that dialect's fresh database.
 * `options.clock` lets a test set the time.
 */
export function describeEachDialectWithApp(
  name: string,
  body: (ctx: AppTestContext) => void,
  options: { config?: Partial<Config>; clock?: Clock } = {},
) {
  describeEachDialect(name, (dbCtx) => {
    const ctx = {
      get database() {
        return dbCtx.database;
      },
      dialect: dbCtx.dialect,
    } as AppTestContext & { app: App };
    beforeAll(async () => {
      ctx.app = await buildApp({ config: testConfig(options.config), database: dbCtx.database, clock: options.clock });
      await ctx.app.ready();
    });
    afterAll(async () => {
      await ctx.app?.close();
    });
    body(ctx);
  });
}
