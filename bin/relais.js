#!/usr/bin/env node
// The `relais` command. It runs a JavaScript bundle of the TypeScript sources, dist/server/relais.mjs (and its chunks),
// which esbuild makes here (a tenth of a second) when it is missing or older than a source file: no build
// step to remember, and a server that neither loads a TypeScript compiler nor keeps its work (an idle
// server took ~130 MB of private memory through tsx, ~105 MB from the bundle; commands start faster).
// RELAIS_FROM_SOURCE=1 runs the sources through tsx instead.
import { readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, workerData } from 'node:worker_threads';

const root = fileURLToPath(new URL('../', import.meta.url));
// Same depth under the root as the sources (dist/server/ like src/server/): paths they take relative to
// their own file (the Manager's dist/web/) stay right.
const bundle = `${root}dist/server/relais.mjs`;

/** The newest modification time of the server's sources (tests excluded) and of this file, in ms. */
function newestSource() {
  let newest = statSync(fileURLToPath(import.meta.url)).mtimeMs;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  walk(`${root}src/server`);
  walk(`${root}src/shared`);
  return newest;
}

/**
 * Chunks shared by the entry points, or loaded only by the commands that need them (`serve`: Fastify, SMPP,
 * SMTP…): `chunk-….mjs` beside the entry points, at the sources' depth like them.
 */
const CHUNK_PREFIX = 'chunk-';
/** A chunk no longer part of the bundles is removed once this old (a process started earlier may still load it). */
const OLD_CHUNK_MS = 10 * 60_000;

/** When the bundles were built (relais.mjs is renamed into place last); -1 when one is missing. */
function bundleTime() {
  try {
    statSync(`${root}dist/server/dispatch-thread.mjs`);
    return statSync(bundle).mtimeMs;
  } catch {
    return -1;
  }
}

async function runBundle() {
  if (bundleTime() < newestSource()) {
    const { build } = await import('esbuild');
    // Built aside, then renamed into place (map first): processes starting at the same time never load a
    // half-written bundle.
    const aside = `${root}dist/server/.build-${process.pid}`;
    try {
      await build({
        // The CLI, and the smaller bundle of the dispatcher's thread (dispatch-thread.ts), which loads
        // neither Fastify nor the history: a thread running the CLI's bundle took 60 MB more.
        entryPoints: { relais: `${root}src/server/cli.ts`, 'dispatch-thread': `${root}src/server/modules/dispatch/dispatch-thread.ts` },
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        // Each command loads what it uses: `relais --help` or `relais user list` no longer load Fastify,
        // the SMPP and SMTP servers (a command took ~1 s to start, 0.2 s now).
        splitting: true,
        chunkNames: `${CHUNK_PREFIX}[hash]`,
        // Linked, not loaded: `node --enable-source-maps` shows the TypeScript files and lines in stack
        // traces (loading the map at every start took ~14 MB).
        sourcemap: 'linked',
        outdir: aside,
        outExtension: { '.js': '.mjs' },
        logLevel: 'warning',
      });
      // Chunks first (named by their content: an unchanged one is replaced by itself), relais.mjs last: its
      // time tells whether the bundles are up to date.
      const out = `${root}dist/server`;
      const chunks = new Set(readdirSync(aside).filter((file) => file.startsWith(CHUNK_PREFIX)));
      for (const file of chunks) renameSync(`${aside}/${file}`, `${out}/${file}`);
      for (const file of ['dispatch-thread.mjs.map', 'dispatch-thread.mjs', 'relais.mjs.map', 'relais.mjs']) {
        renameSync(`${aside}/${file}`, `${out}/${file}`);
      }
      for (const file of readdirSync(out)) {
        if (file.startsWith(CHUNK_PREFIX) && !chunks.has(file) && Date.now() - statSync(`${out}/${file}`).mtimeMs > OLD_CHUNK_MS)
          rmSync(`${out}/${file}`, { force: true });
      }
    } finally {
      rmSync(aside, { recursive: true, force: true });
    }
  }
  return import(pathToFileURL(bundle).href);
}

async function runSources() {
  const { register } = await import('tsx/esm/api');
  register();
  return import('../src/server/cli.ts');
}

/** The bundle; the sources through tsx when it cannot be written (a read-only installation). */
async function runBundleOrSources() {
  try {
    return await runBundle();
  } catch (error) {
    if (!['EACCES', 'EPERM', 'EROFS'].includes(error?.code)) throw error;
    process.emitWarning(`cannot write ${bundle} (${error.code}): running the TypeScript sources through tsx`);
    return runSources();
  }
}

if (!isMainThread && workerData?.relaisThread === 'dispatcher') {
  // The dispatcher's thread of `relais serve` (dispatch-thread.ts), which starts itself once loaded: from the
  // bundle built beside the CLI's, or from the sources when the process runs them.
  if (workerData.fromSource) {
    const { register } = await import('tsx/esm/api');
    register();
    await import('../src/server/modules/dispatch/dispatch-thread.ts');
  } else {
    await import(pathToFileURL(`${root}dist/server/dispatch-thread.mjs`).href);
  }
} else {
  const { runCli } = process.env.RELAIS_FROM_SOURCE === '1' ? await runSources() : await runBundleOrSources();
  await runCli(process.argv);
}
