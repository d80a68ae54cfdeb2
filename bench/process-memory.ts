import { readdirSync, readFileSync } from 'node:fs';

/** VmRSS and RssAnon of a process, in bytes. */
export function memoryOf(pid: number): { rss: number; anon: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon') };
  } catch {
    return undefined;
  }
}

/** CPU seconds each thread of a process has used so far (user + system), by thread id, with its name. */
export function threadTimesOf(pid: number): Map<number, { name: string; seconds: number }> {
  const times = new Map<number, { name: string; seconds: number }>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // `pid (comm) state …`: comm may hold spaces; utime and stime are the 14th and 15th fields.
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      times.set(Number(tid), { name: stat.slice(stat.indexOf('(') + 1, close), seconds: (Number(fields[11]) + Number(fields[12])) / 100 });
    }
  } catch {
    // The process has ended.
  }
  return times;
}

/** The threads that used the most CPU between two `threadTimesOf` readings: `name 12.3 s, …`. */
export function busiestThreads(
  before: Map<number, { seconds: number }>,
  after: Map<number, { name: string; seconds: number }>,
  top = 5,
): string {
  return [...after]
    .map(([tid, t]) => ({ name: t.name, seconds: t.seconds - (before.get(tid)?.seconds ?? 0) }))
    .filter((t) => t.seconds >= 0.05)
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, top)
    .map((t) => `${t.name} ${t.seconds.toFixed(1)} s`)
    .join(', ');
}
