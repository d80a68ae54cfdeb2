import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { accountAccessFor, auditActor } from '../accounts/accounts.service.js';
import type { AccountAccess } from '../auth/principal.js';
import type { ExportChunk } from '../history/export-chunks.js';
import type { OutgoingIdRow } from '../history/outgoing.repository.js';
import { ovhErrorBody, ovhPrincipalOf } from './ovh-api.plugin.js';
import {
  accountPatchOf,
  checkParams,
  OUTGOING_FILTERS,
  type OvhJobBody,
  type OvhListFilter,
  ovhOutgoingFilter,
  PENDING_JOBS,
  sendInputOf,
  toOvhAccount,
  toOvhDocument,
  toOvhJob,
  toOvhOutgoing,
  toOvhSendingReport,
  USER_OUTGOING_FILTERS,
} from './ovh-sms.views.js';

const ServiceName = Type.String({ minLength: 1, maxLength: 64 });
const Login = Type.String({ minLength: 1, maxLength: 64 });
const Id = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
const ServiceParams = Type.Object({ serviceName: ServiceName });
const MessageParams = Type.Object({ serviceName: ServiceName, id: Id });
const UserParams = Type.Object({ serviceName: ServiceName, login: Login });
const UserMessageParams = Type.Object({ serviceName: ServiceName, login: Login, id: Id });

/** OVH's job body (OVH-COMPAT.md §1); fields it does not name are refused by `sendInputOf` with a clear message. */
const JobBody = Type.Object({
  message: Type.String(),
  receivers: Type.Optional(Type.Array(Type.String({ maxLength: 64 }))),
  sender: Type.Optional(Type.String({ maxLength: 32 })),
  senderForResponse: Type.Optional(Type.Boolean()),
  noStopClause: Type.Optional(Type.Boolean()),
  tag: Type.Optional(Type.String()),
  differedPeriod: Type.Optional(Type.Integer({ minimum: 0 })),
  validityPeriod: Type.Optional(Type.Integer({ minimum: 1 })),
  priority: Type.Optional(Type.Union([Type.Literal('high'), Type.Literal('medium'), Type.Literal('low'), Type.Literal('veryLow')])),
  coding: Type.Optional(Type.Union([Type.Literal('7bit'), Type.Literal('8bit')])),
  charset: Type.Optional(Type.Literal('UTF-8')),
  class: Type.Optional(Type.Union([Type.Literal('flash'), Type.Literal('phoneDisplay'), Type.Literal('sim'), Type.Literal('toolkit')])),
});

const DownloadQuery = Type.Object({ id: Type.String({ maxLength: 4000 }), key: Type.String({ maxLength: 64 }) });

/** Where a document's CSV is downloaded (`getUrl`): unsigned, opened by its id and key, as OVH's storage URLs are. */
const DOCUMENT_DOWNLOAD_PATH = '/me/document/download';

/** A JSON array of the ids of `first` and `rest` that `keep` keeps, written batch by batch. */
async function* idArray(
  first: IteratorResult<OutgoingIdRow[]>,
  rest: AsyncGenerator<OutgoingIdRow[]>,
  keep: OvhListFilter['keep'],
): AsyncGenerator<string> {
  try {
    yield '[';
    let separator = '';
    for (let batch = first; !batch.done; batch = await rest.next()) {
      let text = '';
      for (const row of batch.value) {
        if (keep && !keep(row)) continue;
        text += separator + row.id;
        separator = ',';
      }
      if (text) yield text;
    }
    yield ']';
  } finally {
    // The client gone mid-way: no further batch is read.
    await rest.return(undefined);
  }
}

/** `first` (already read, so that a failing read is an error answer, not a broken download), then the rest. */
async function* withFirst(first: IteratorResult<ExportChunk>, rest: AsyncGenerator<ExportChunk>): AsyncGenerator<string | Uint8Array> {
  if (first.done) return;
  yield first.value.data;
  for await (const chunk of rest) yield chunk.data;
}

/**
 * `/1.0/sms` (OVH-COMPAT.md §1): the accounts, their history, their jobs, the history and jobs of one
 * SMS user, and history documents (`/sms/{serviceName}/document`, `/me/document/…`). Each route works
 * within the accounts of the consumer key's customer; another's is "This service does not exist".
 */
export const ovhSmsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { accounts, smsUsers, history, sending, resolveAccountAccess, ovhDocuments, config } = app.services;

  /** The account of the path (`serviceName`, checked by the route's schema) as the consumer key reaches it. */
  const accountAccess = (request: FastifyRequest): Promise<AccountAccess> =>
    resolveAccountAccess(ovhPrincipalOf(request), (request.params as { serviceName: string }).serviceName);

  /** The access of one SMS user of the account (`login` of the path): its messages only, its sending as that user. */
  const userAccess = async (request: FastifyRequest): Promise<AccountAccess> => {
    const principal = ovhPrincipalOf(request);
    const { serviceName, login } = request.params as { serviceName: string; login: string };
    const { account, user } = await smsUsers.getRecent(principal, serviceName, login);
    return accountAccessFor(account, user, auditActor(principal));
  };

  const query = (request: FastifyRequest): Record<string, unknown> => (request.query ?? {}) as Record<string, unknown>;

  /** Answers the ids `filter` selects in `access`' history as a JSON array, streamed (constant memory). */
  async function sendIds(reply: FastifyReply, access: AccountAccess, filter: OvhListFilter) {
    if (filter.none) return [];
    const batches = history.streamIds(access, filter.raw);
    const first = await batches.next();
    if (first.done) return [];
    reply.type('application/json; charset=utf-8');
    return reply.send(Readable.from(idArray(first, batches, filter.keep)));
  }

  const outgoingFilter = (request: FastifyRequest, access: AccountAccess, allowed: readonly string[]) =>
    ovhOutgoingFilter(query(request), { allowed, timeZone: access.account.timezone, defaultCountry: access.account.defaultCountry });

  /** `GET …/jobs`: the ids of `access`' pending messages (the call takes no parameter). */
  function sendJobIds(request: FastifyRequest, reply: FastifyReply, access: AccountAccess) {
    checkParams(query(request), []);
    return sendIds(reply, access, PENDING_JOBS);
  }

  /** `GET …/jobs/{id}`: one pending message of `access` as OVH's job. */
  async function showJob(access: AccountAccess, id: number) {
    return toOvhJob(await history.getPending(access, id), access.account.timezone);
  }

  /**
   * `DELETE …/jobs/{id}`: the pending message of `access` canceled (credits back, audited), null; 409 while
   * a dispatcher holds it; "not found" when it is not a pending message of `access`.
   */
  async function cancelJob(reply: FastifyReply, access: AccountAccess, id: number) {
    const outcome = await history.cancelPending(access, id);
    if (outcome === 'canceled') return null;
    if (outcome === 'held') {
      const message = `The job ${id} is being handed to the carrier: it can no longer be stopped`;
      return reply.status(409).send(ovhErrorBody(409, message, 'CONFLICT'));
    }
    throw new AppError('MESSAGE_NOT_FOUND', `No pending job ${id} in ${access.account.name}`);
  }

  app.get('/sms', { schema: { hide: true } }, async (request) => {
    checkParams(query(request), []);
    return (await accounts.list(ovhPrincipalOf(request))).map((account) => account.name);
  });

  app.get('/sms/:serviceName', { schema: { hide: true, params: ServiceParams } }, async (request) => {
    const principal = ovhPrincipalOf(request);
    const account = await accounts.get(principal, request.params.serviceName);
    return toOvhAccount(account, await smsUsers.list(principal, account.name));
  });

  app.put('/sms/:serviceName', { schema: { hide: true, params: ServiceParams } }, async (request) => {
    const principal = ovhPrincipalOf(request);
    const account = await accounts.get(principal, request.params.serviceName);
    const patch = accountPatchOf(request.body, toOvhAccount(account, await smsUsers.list(principal, account.name)));
    if (Object.keys(patch).length > 0) await accounts.update(principal, account.name, patch);
    return null;
  });

  app.get('/sms/:serviceName/outgoing', { schema: { hide: true, params: ServiceParams } }, async (request, reply) => {
    const access = await accountAccess(request);
    return sendIds(reply, access, outgoingFilter(request, access, OUTGOING_FILTERS));
  });

  app.get('/sms/:serviceName/outgoing/:id', { schema: { hide: true, params: MessageParams } }, async (request) => {
    const access = await accountAccess(request);
    return toOvhOutgoing(await history.get(access, request.params.id), access.account.timezone);
  });

  app.delete('/sms/:serviceName/outgoing/:id', { schema: { hide: true, params: MessageParams } }, async (request) => {
    await history.deleteOne(await accountAccess(request), request.params.id);
    return null;
  });

  app.get('/sms/:serviceName/jobs', { schema: { hide: true, params: ServiceParams } }, async (request, reply) =>
    sendJobIds(request, reply, await accountAccess(request)),
  );

  app.post('/sms/:serviceName/jobs', { schema: { hide: true, params: ServiceParams, body: JobBody } }, async (request) => {
    const access = await accountAccess(request);
    return toOvhSendingReport(await sending.accept(access, 'ovh-api', sendInputOf(request.body as OvhJobBody)));
  });

  app.get('/sms/:serviceName/jobs/:id', { schema: { hide: true, params: MessageParams } }, async (request) =>
    showJob(await accountAccess(request), request.params.id),
  );

  app.delete('/sms/:serviceName/jobs/:id', { schema: { hide: true, params: MessageParams } }, async (request, reply) =>
    cancelJob(reply, await accountAccess(request), request.params.id),
  );

  app.get('/sms/:serviceName/users/:login/outgoing', { schema: { hide: true, params: UserParams } }, async (request, reply) => {
    const access = await userAccess(request);
    return sendIds(reply, access, outgoingFilter(request, access, USER_OUTGOING_FILTERS));
  });

  app.get('/sms/:serviceName/users/:login/outgoing/:id', { schema: { hide: true, params: UserMessageParams } }, async (request) => {
    const access = await userAccess(request);
    return toOvhOutgoing(await history.get(access, request.params.id), access.account.timezone);
  });

  app.delete('/sms/:serviceName/users/:login/outgoing/:id', { schema: { hide: true, params: UserMessageParams } }, async (request) => {
    await history.deleteOne(await userAccess(request), request.params.id);
    return null;
  });

  app.get('/sms/:serviceName/users/:login/jobs', { schema: { hide: true, params: UserParams } }, async (request, reply) =>
    sendJobIds(request, reply, await userAccess(request)),
  );

  app.post('/sms/:serviceName/users/:login/jobs', { schema: { hide: true, params: UserParams, body: JobBody } }, async (request) => {
    const access = await userAccess(request);
    return toOvhSendingReport(await sending.accept(access, 'ovh-api', sendInputOf(request.body as OvhJobBody)));
  });

  app.get('/sms/:serviceName/users/:login/jobs/:id', { schema: { hide: true, params: UserMessageParams } }, async (request) =>
    showJob(await userAccess(request), request.params.id),
  );

  app.delete('/sms/:serviceName/users/:login/jobs/:id', { schema: { hide: true, params: UserMessageParams } }, async (request, reply) =>
    cancelJob(reply, await userAccess(request), request.params.id),
  );

  /** A history document (ovh-documents.service.ts): its id. */
  app.get('/sms/:serviceName/document', { schema: { hide: true, params: ServiceParams } }, async (request, reply) => {
    const id = ovhDocuments.make(ovhPrincipalOf(request), await accountAccess(request), query(request));
    reply.type('application/json; charset=utf-8');
    return JSON.stringify(id);
  });

  app.get(
    DOCUMENT_DOWNLOAD_PATH,
    { config: { ovhSigned: false }, schema: { hide: true, querystring: DownloadQuery } },
    async (request, reply) => {
      const { name, chunks } = await ovhDocuments.open(request.query.id, request.query.key);
      const first = await chunks.next();
      reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('cache-control', 'no-store');
      return reply.send(Readable.from(withFirst(first, chunks), { highWaterMark: 1 }));
    },
  );

  /** OVH's document object; its size is that of the CSV as it would be downloaded now. */
  app.get('/me/document/:id', { schema: { hide: true } }, async (request) => {
    const { id } = request.params as { id: string };
    const document = await ovhDocuments.describe(ovhPrincipalOf(request), id, () => Boolean(request.raw.socket?.destroyed));
    const base = config.publicUrl?.replace(/\/+$/, '') ?? `${request.protocol}://${request.headers.host ?? 'localhost'}`;
    const getUrl = `${base}/1.0${DOCUMENT_DOWNLOAD_PATH}?id=${id}&key=${document.key}`;
    return toOvhDocument({ id, claims: document.claims, getUrl, size: document.size, timeZone: document.timeZone });
  });
};
