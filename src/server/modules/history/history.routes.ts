import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { getTimeFormatter } from '../../../shared/account-time.js';
import { toPublicOutgoing } from '../../../shared/csv.js';
import { untilClientLeaves } from '../../client-gone.js';
import { AppError } from '../../errors.js';
import type { AccountAccess, Principal } from '../auth/principal.js';
import type { DeleteJob, DeletionAudit } from './deletions.repository.js';
import type { ExportChunk } from './export-chunks.js';
import {
  AccountParams,
  AuditSchema,
  DeleteBody,
  DeleteJobSchema,
  DeleteResult,
  ExportQuery,
  FilterQuery,
  JobParams,
  JsonlQuery,
  ListQuery,
  MessageParams,
  OutgoingSchema,
  PageSchema,
  RedactBody,
  RedactResult,
} from './history.schemas.js';
import { HISTORY_USER_LOGINS_MAX } from './history.service.js';

const tags = ['history'];

/**
 * A download's answer: its media type and text, for the document. The route answers a stream of that
 * text, which Fastify sends as it is (it serializes no stream).
 */
const download = (mediaType: string, description: string) => ({
  description,
  content: { [mediaType]: { schema: Type.Unsafe<Readable>(Type.String()) } },
});

/** The history API: list, get, delete, export. Every route works inside one account the caller may reach. */
export const historyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { history, resolveAccountAccess, config } = app.services;
  const access = (request: { principal: Principal | null; params: { account: string } }): Promise<AccountAccess> =>
    resolveAccountAccess(request.principal!, request.params.account);
  const auth = { onRequest: app.requireAuth };

  const jobView = (job: DeleteJob, timeZone: string) => {
    const fmt = getTimeFormatter(timeZone);
    return {
      id: job.id,
      status: job.status,
      deleted: job.deleted,
      total: job.status === 'running' && job.total === 0 ? null : Math.max(job.total, job.deleted),
      createdAt: fmt.iso(job.createdAt),
      finishedAt: job.finishedAt === null ? null : fmt.iso(job.finishedAt),
      error: job.error,
    };
  };

  app.get(
    '/api/v1/accounts/:account/outgoing',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'listOutgoing',
        summary: 'The history of sent SMS: one page, filtered and sorted on the server, with keyset cursors',
        params: AccountParams,
        querystring: ListQuery,
        response: { 200: PageSchema },
      },
    },
    async (request) => {
      const a = await access(request);
      const page = await history.list(a, request.query);
      const fmt = getTimeFormatter(a.account.timezone);
      return { ...page, data: page.data.map((o) => toPublicOutgoing(o, fmt)) };
    },
  );

  app.get(
    '/api/v1/accounts/:account/outgoing/count',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'countOutgoing',
        summary: 'The exact number of messages matching the filters (slower than the capped total of a page)',
        params: AccountParams,
        querystring: FilterQuery,
        response: { 200: Type.Object({ total: Type.Integer() }) },
      },
    },
    async (request, reply) => untilClientLeaves(reply, async () => ({ total: await history.count(await access(request), request.query) })),
  );

  app.get(
    '/api/v1/accounts/:account/outgoing/users',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'listOutgoingUsers',
        summary: "The SMS user logins found in the history, deleted users' included (the values of the user filter)",
        params: AccountParams,
        response: {
          200: Type.Object({
            data: Type.Array(Type.String(), { description: `sorted; at most ${HISTORY_USER_LOGINS_MAX}; "-" (no SMS user) is not listed` }),
          }),
        },
      },
    },
    async (request) => ({ data: await history.userLogins(await access(request)) }),
  );

  app.get(
    '/api/v1/accounts/:account/outgoing/:id',
    {
      ...auth,
      schema: { tags, operationId: 'getOutgoing', summary: 'One message', params: MessageParams, response: { 200: OutgoingSchema } },
    },
    async (request) => {
      const a = await access(request);
      return toPublicOutgoing(await history.get(a, request.params.id), getTimeFormatter(a.account.timezone));
    },
  );

  app.delete(
    '/api/v1/accounts/:account/outgoing/:id',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'deleteOutgoing',
        summary: 'Deletes one message (a pending one is canceled and its credits given back)',
        params: MessageParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await history.deleteOne(await access(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/v1/accounts/:account/outgoing/delete',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'deleteOutgoingMany',
        summary: 'Deletes messages by ids (up to 10,000) or everything matching a filter',
        description:
          'Answers 200 { deleted } when done, or 202 { job } for a large deletion by filter running in bounded batches; follow it at /outgoing/delete-jobs/{id}.',
        params: AccountParams,
        body: DeleteBody,
        response: { 200: DeleteResult, 202: DeleteResult },
      },
    },
    async (request, reply) => {
      const a = await access(request);
      const { ids, filter } = request.body;
      if ((ids === undefined) === (filter === undefined)) throw new AppError('VALIDATION_FAILED', 'give either "ids" or "filter"');
      if (ids) return history.deleteIds(a, ids);
      const result = await history.deleteByFilter(a, filter!);
      if ('job' in result) return reply.status(202).send({ job: jobView(result.job, a.account.timezone) });
      return result;
    },
  );

  app.post(
    '/api/v1/accounts/:account/outgoing/redact',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'redactOutgoing',
        summary: 'Redacts messages by ids (up to 10,000): texts erased, receivers masked (+336XXXXXX78), every other field kept',
        description:
          'Pending messages are left as they are (they are still to be sent) and listed in `pending`. Audited in /deletions (kind `redact`).',
        params: AccountParams,
        body: RedactBody,
        response: { 200: RedactResult },
      },
    },
    async (request) => history.redactIds(await access(request), request.body.ids),
  );

  app.get(
    '/api/v1/accounts/:account/outgoing/delete-jobs/:id',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'getDeleteJob',
        summary: 'Progress of a deletion by filter',
        params: JobParams,
        response: { 200: DeleteJobSchema },
      },
    },
    async (request) => {
      const a = await access(request);
      return jobView(await history.getDeleteJob(a, request.params.id), a.account.timezone);
    },
  );

  app.get(
    '/api/v1/accounts/:account/deletions',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'listDeletions',
        summary: 'The audit trail of deletions (who, when, how many, which ids or filter — never the texts)',
        params: AccountParams,
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ data: Type.Array(AuditSchema) }) },
      },
    },
    async (request) => {
      const a = await access(request);
      const fmt = getTimeFormatter(a.account.timezone);
      const entries = await history.listAudit(a, request.query.limit);
      return { data: entries.map((e: DeletionAudit) => ({ ...e, createdAt: fmt.iso(e.createdAt) })) };
    },
  );

  app.get(
    '/api/v1/accounts/:account/outgoing.csv',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'exportOutgoingCsv',
        summary: "Downloads the history as CSV (the seed's format and its 2000 most recent rows by default)",
        description:
          'format=seed: `date;sender;receiver;message;status`, dates YYYYMMDDHHMMSS in the account timezone. format=detailed: every field. all=true streams every match with no row cap, unless `limit` is given too: `limit` wins.',
        params: AccountParams,
        querystring: ExportQuery,
        response: { 200: download('text/csv', 'the CSV file (UTF-8, `;`-separated, a header line first)') },
      },
    },
    async (request, reply) => {
      const a = await access(request);
      const { format = 'seed', all = false, limit, ...query } = request.query;
      // `limit` wins when both are given (as `relais history export --all --limit N`).
      const max = limit ?? (all ? null : config.csvDownloadLimit);
      const lines = history.exportText(a, query, { format, limit: max });
      // The first batch is read before answering, so a bad filter still gets a clear 400.
      const first = await lines.next();
      reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${exportFileName(a.account.name, 'csv')}"`)
        .header('cache-control', 'no-store');
      return reply.send(Readable.from(withFirst(first, lines), { highWaterMark: 1 }));
    },
  );

  app.get(
    '/api/v1/accounts/:account/outgoing.jsonl',
    {
      ...auth,
      schema: {
        tags,
        operationId: 'exportOutgoingJsonl',
        summary: 'Streams every matching message as JSON lines (one object a line, the shape of the list API)',
        params: AccountParams,
        querystring: JsonlQuery,
        response: { 200: download('application/x-ndjson', 'one message a line, each the JSON object GET /outgoing/{id} answers') },
      },
    },
    async (request, reply) => {
      const a = await access(request);
      const { limit, ...query } = request.query;
      const lines = history.exportText(a, query, { format: 'jsonl', limit: limit ?? null });
      const first = await lines.next();
      reply
        .header('content-type', 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="${exportFileName(a.account.name, 'jsonl')}"`)
        .header('cache-control', 'no-store');
      return reply.send(Readable.from(withFirst(first, lines), { highWaterMark: 1 }));
    },
  );
};

/** `sms-ab12345-1-history-20241129.csv` */
export function exportFileName(account: string, extension: string, now = new Date()): string {
  const day = now.toISOString().slice(0, 10).replaceAll('-', '');
  return `${account}-history-${day}.${extension}`;
}

/** `first` (already read, so that a bad filter fails before the answer starts), then the rest. */
async function* withFirst(first: IteratorResult<ExportChunk>, rest: AsyncGenerator<ExportChunk>): AsyncGenerator<string | Uint8Array> {
  if (first.done) return;
  yield first.value.data;
  for await (const chunk of rest) yield chunk.data;
}
