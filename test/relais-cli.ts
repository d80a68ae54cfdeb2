import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What a `relais` command did: its exit code and output. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/relais.js …args` (a real process) with this process's environment plus `env`, and
 * `input` on its standard input (none: closed at once).
 */
export async function runRelaisWithInput(env: Record<string, string>, input: string | null, ...args: string[]): Promise<CliResult> {
  const child = run(process.execPath, ['bin/relais.js', ...args], {
    env: { ...process.env, NODE_NO_WARNINGS: '1', ...env },
    cwd: process.cwd(),
  });
  child.child.stdin?.end(input ?? undefined);
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** `runRelaisWithInput` with nothing on standard input. */
export function runRelais(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  return runRelaisWithInput(env, null, ...args);
}
