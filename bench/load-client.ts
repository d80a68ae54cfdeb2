/**
 * The client side of the channel benchmarks: a load generator (plain JS) run in its own process, so that
 * the server under test keeps this one to itself.
 */
import { spawn } from 'node:child_process';

/** What a load generator prints on stdout when it is done (one JSON object). */
export interface LoadResult {
  accepted: number;
  refused: number;
  errors: number;
  firstRefusal: string | null;
  ms: number;
  latencies: number[];
}

/**
 * Runs `script` with `input` as its JSON argument (`process.argv[1]`) and answers what it printed, plus
 * the CPU time this (server) process spent meanwhile.
 */
export function runLoadClient(script: string, input: object): Promise<LoadResult & { serverCpuMs: number }> {
  const cpu = process.cpuUsage();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const used = process.cpuUsage(cpu);
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      resolve({ ...(JSON.parse(out) as LoadResult), serverCpuMs: (used.user + used.system) / 1000 });
    });
  });
}

/** The `p` quantile (0 to 1) of `xs`, 0 when empty. */
export function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] ?? 0;
}

/** A whole number with thousands separators. */
export const fmt = (n: number) => Math.round(n).toLocaleString('en');
