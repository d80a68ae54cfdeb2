/**
 * Builds the Manager into `dist/web` with Vite. `--if-stale` builds only when `dist/web` is missing or
 * older than its sources (`npm start` and the test setup use it, so a fresh clone needs no build step).
 *
 *   node bin/run-ts.js src/web/build.ts [--if-stale]
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where the built Manager lives (git-ignored). */
export const WEB_DIST = join(ROOT, 'dist/web');
const SOURCES = [join(ROOT, 'src/web'), join(ROOT, 'src/shared'), join(ROOT, 'package-lock.json')];

function newestMtime(path: string): number {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return /\.test\.tsx?$/.test(path) ? 0 : stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** True when `dist/web` is missing or older than a source file of the Manager. */
export function webBuildIsStale(): boolean {
  const index = join(WEB_DIST, 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  return SOURCES.some((source) => newestMtime(source) > built);
}

/**
 * Runs the Vite build (src/web/vite.config.ts) in a child process with NODE_ENV=production, so that a
 * caller's NODE_ENV (vitest sets "test") never yields React's development build.
 */
export async function buildWeb(): Promise<void> {
  const vite = join(ROOT, 'node_modules/vite/bin/vite.js');
  const args = [vite, 'build', '--config', join(ROOT, 'src/web/vite.config.ts'), '--mode', 'production', '--logLevel', 'warn'];
  const code = await new Promise<number | null>((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
    child.on('error', reject);
    child.on('exit', resolvePromise);
  });
  if (code !== 0) throw new Error(`the Manager's build (vite build) failed with exit code ${code}`);
}

/** Builds when stale; answers whether it built. */
export async function buildWebIfStale(): Promise<boolean> {
  if (!webBuildIsStale()) return false;
  await buildWeb();
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const ifStale = process.argv.includes('--if-stale');
  const started = performance.now();
  let built = true;
  if (ifStale) built = await buildWebIfStale();
  else await buildWeb();
  if (built) process.stdout.write(`Manager built into dist/web in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}
