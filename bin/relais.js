#!/usr/bin/env node
// The `relais` command: runs the TypeScript sources through tsx so no build step is needed.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/server/cli.ts');
await runCli(process.argv);
