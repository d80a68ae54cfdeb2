// The acceptance thread's entry point (acceptance-thread.ts): a worker thread has no TypeScript loader of
// its own, so this registers tsx (as bin/relais.js does) before loading the thread's TypeScript module.
import { register } from 'tsx/esm/api';

register();
await import('./acceptance-thread.run.ts');
