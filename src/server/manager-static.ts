import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The built Manager (`npm run build:web`, made by `npm start` and the test setup when stale). */
export const MANAGER_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/** The APIs' base paths: each, itself (`/1.0`) or anything under it (`/1.0/…`), is no Manager page. */
const API_BASES = ['/api', '/cgi-bin', '/1.0'];
const isApiPath = (path: string) => API_BASES.some((base) => path === base || path.startsWith(`${base}/`));
const FILE_LIKE = /\/[^/]*\.(?:js|mjs|css|map|json|txt|ico|png|svg|webp|woff2?|html)$/i;

// The page's own assets only; React sets styles through the DOM, which style-src does not restrict.
const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Relais</title>
<p>The Manager has not been built. Run <code>npm run build:web</code> (or <code>npm start</code>, which builds it) and reload.</p>`;

/**
 * Serves the Manager's files from `root` (hashed assets cached for a year). Pages themselves are
 * answered by `sendManagerPage` from the app's not-found handler, so every API route keeps priority.
 */
export async function registerManager(app: FastifyInstance, root: string = MANAGER_ROOT): Promise<void> {
  // `/` itself (the static handler would refuse the directory).
  app.get('/', { schema: { hide: true } }, (_request, reply) => sendManagerPage(reply, root));
  if (!existsSync(join(root, 'index.html'))) return;
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: true,
    index: false,
    cacheControl: false,
    setHeaders(reply, path) {
      reply.header('x-content-type-options', 'nosniff');
      // The page itself, however it is asked for (/index.html too), with its CSP (no framing: no clickjacking).
      if (path.endsWith('.html')) reply.header('content-security-policy', CSP);
      reply.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}

/** True for a GET of a Manager page: not an API path and not a file (the SPA answers it with index.html). */
export function isManagerPage(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const path = request.url.split('?')[0];
  return !isApiPath(path) && !FILE_LIKE.test(path);
}

/** Answers the Manager's index.html (never cached: it names the current assets). */
export function sendManagerPage(reply: FastifyReply, root: string = MANAGER_ROOT): FastifyReply {
  reply.header('cache-control', 'no-cache').header('content-security-policy', CSP).header('x-content-type-options', 'nosniff');
  if (!existsSync(join(root, 'index.html'))) return reply.status(503).type('text/html; charset=utf-8').send(NOT_BUILT);
  return reply.sendFile('index.html', root);
}
