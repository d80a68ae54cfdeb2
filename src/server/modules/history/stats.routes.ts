import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { untilClientLeaves } from '../../client-gone.js';
import { AccountParams, FilterQuery } from './history.schemas.js';
import { StatsSchema } from './stats.schemas.js';
import { MAX_STATS_DAYS } from './stats.service.js';

/** Statistics of the history: messages per day and status, for the Manager's chart above the history. */
export const statsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { stats, resolveAccountAccess } = app.services;

  app.get(
    '/api/v1/accounts/:account/stats',
    {
      onRequest: app.requireAuth,
      schema: {
        tags: ['history'],
        operationId: 'getStats',
        summary: 'Messages per day and status (days in the account timezone), with the filters of the history',
        description:
          'The period runs from the day of `from` to the day of `to` (a datetime counts from or up to that instant within its day). ' +
          'Without `to` it ends today; without `from` it starts 29 days before its last day: no parameter gives the last 30 days. ' +
          `Every day is listed, days without messages with zeros. At most ${MAX_STATS_DAYS} days (PERIOD_TOO_LONG otherwise). ` +
          'A token of an SMS user counts only that user’s messages.',
        params: AccountParams,
        querystring: FilterQuery,
        response: { 200: StatsSchema },
      },
    },
    async (request, reply) =>
      untilClientLeaves(reply, async () =>
        stats.daily(await resolveAccountAccess(request.principal!, request.params.account), request.query),
      ),
  );
};
