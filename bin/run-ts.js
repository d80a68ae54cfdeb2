#!/usr/bin/env node
// Runs a TypeScript script (benchmarks) through tsx: `node bin/run-ts.js bench/x.bench.ts [args…]`.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { register } from 'tsx/esm/api';

register();
const [, , script, ...rest] = process.argv;
process.argv = [process.argv[0], script, ...rest];
await import(pathToFileURL(resolve(script)).href);
