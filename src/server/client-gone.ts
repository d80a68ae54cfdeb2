import type { FastifyReply } from 'fastify';
import { abandonedWith } from './db/sqlite-reader.js';

/**
 * Runs a route's `work` so that its long database reads are given up if the client goes away before
 * the answer (the Manager cancels the statistics and counts of a view the user has already left):
 * nobody would read the result, and on a 2-core machine it would slow down everyone else.
 */
export function untilClientLeaves<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) controller.abort();
  };
  reply.raw.once('close', onClose);
  return abandonedWith(controller.signal, work).finally(() => reply.raw.off('close', onClose));
}

/** True for the error of a read given up because its client left (nothing is left to answer). */
export function isAbandoned(error: unknown, reply: FastifyReply): boolean {
  return error instanceof Error && error.name === 'AbortError' && reply.raw.destroyed;
}
