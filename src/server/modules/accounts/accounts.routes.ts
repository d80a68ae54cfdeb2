import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../errors.js';
import { principalOf } from '../auth/auth.plugin.js';
import {
  AccountParams,
  AccountPatchBody,
  AccountSchema,
  accountView,
  CreatedSmsUserSchema,
  CreatedTokenSchema,
  CreateSenderBody,
  CreateSmsUserBody,
  CreateTokenBody,
  CreditChangeSchema,
  CreditChangesQuery,
  creditChangeView,
  SenderParams,
  SenderSchema,
  SmsUserSchema,
  senderView,
  smsUserView,
  strictSettingsProblem,
  strictSmsUserProblem,
  TokenParams,
  TokenSchema,
  tokenView,
  UpdateSenderBody,
  UpdateSmsUserBody,
  UserParams,
} from './accounts.schemas.js';

/**
 * SMS accounts, their SMS users, senders and API tokens under /api/v1. Who may do what is decided by
 * the services (accounts.service.ts `assertAllowed`); an account the caller may not reach is 404.
 */
export const accountsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { accounts, smsUsers, senders, apiTokens } = app.services;
  const auth = { onRequest: app.requireAuth };
  const base = '/api/v1/accounts/:account';
  // What no API token may do (accounts.service.ts `assertAllowed`): only the signed-in owner, in the Manager.
  const sessionOnly = [{ session: [] }];

  // Accounts

  app.get(
    '/api/v1/accounts',
    {
      ...auth,
      schema: {
        tags: ['accounts'],
        operationId: 'listAccounts',
        summary: 'The SMS accounts the caller may reach',
        response: { 200: Type.Array(AccountSchema) },
      },
    },
    async (request) => (await accounts.list(principalOf(request))).map(accountView),
  );

  app.get(
    base,
    {
      ...auth,
      schema: {
        tags: ['accounts'],
        operationId: 'getAccount',
        summary: 'One SMS account',
        params: AccountParams,
        response: { 200: AccountSchema },
      },
    },
    async (request) => accountView(await accounts.get(principalOf(request), request.params.account)),
  );

  app.get(
    `${base}/credit-changes`,
    {
      ...auth,
      schema: {
        tags: ['accounts'],
        operationId: 'listCreditChanges',
        summary: "The account's credit changes (credits given or taken back by the operator), newest first",
        params: AccountParams,
        querystring: CreditChangesQuery,
        response: { 200: Type.Object({ data: Type.Array(CreditChangeSchema) }) },
      },
    },
    async (request) => {
      const { account, changes } = await accounts.creditHistory(principalOf(request), request.params.account, request.query.limit);
      return { data: changes.map((c) => creditChangeView(c, account.timezone)) };
    },
  );

  app.patch(
    base,
    {
      ...auth,
      schema: {
        tags: ['accounts'],
        operationId: 'updateAccount',
        security: sessionOnly,
        summary:
          "Changes the account's description, timezone, default country, and privacy: storeText, redactAfterDays and retentionDays (null turns a limit off; the owner only)",
        params: AccountParams,
        body: AccountPatchBody,
        response: { 200: AccountSchema },
      },
      // Before the schema, which coerces types (a null storeText would become false).
      preValidation: async (request) => {
        const problem = strictSettingsProblem(request.body);
        if (problem) throw new AppError('VALIDATION_FAILED', problem);
      },
    },
    async (request) => accountView(await accounts.update(principalOf(request), request.params.account, request.body)),
  );

  // SMS users

  app.get(
    `${base}/users`,
    {
      ...auth,
      schema: {
        tags: ['users'],
        operationId: 'listUsers',
        summary: 'The SMS users of the account (a user-scoped token sees only its own)',
        params: AccountParams,
        response: { 200: Type.Array(SmsUserSchema) },
      },
    },
    async (request) => (await smsUsers.list(principalOf(request), request.params.account)).map(smsUserView),
  );

  app.post(
    `${base}/users`,
    {
      ...auth,
      schema: {
        tags: ['users'],
        operationId: 'createUser',
        summary: 'Creates an SMS user; without a password one is generated and returned once',
        params: AccountParams,
        body: CreateSmsUserBody,
        response: { 201: CreatedSmsUserSchema },
      },
      // Before the schema, which coerces types (a quota of "" would become null: no quota).
      preValidation: async (request: { body: unknown }) => {
        const problem = strictSmsUserProblem(request.body);
        if (problem) throw new AppError('VALIDATION_FAILED', problem);
      },
    },
    async (request, reply) => {
      const { user, password } = await smsUsers.create(principalOf(request), request.params.account, request.body);
      return reply.status(201).send(password === undefined ? smsUserView(user) : { ...smsUserView(user), password });
    },
  );

  app.get(
    `${base}/users/:login`,
    {
      ...auth,
      schema: { tags: ['users'], operationId: 'getUser', summary: 'One SMS user', params: UserParams, response: { 200: SmsUserSchema } },
    },
    async (request) => smsUserView(await smsUsers.get(principalOf(request), request.params.account, request.params.login)),
  );

  app.patch(
    `${base}/users/:login`,
    {
      ...auth,
      schema: {
        tags: ['users'],
        operationId: 'updateUser',
        summary:
          'Changes the password (given, or generated with generatePassword and answered once), IP restrictions, quota or callback URL (null clears quota and callback)',
        params: UserParams,
        body: UpdateSmsUserBody,
        response: { 200: CreatedSmsUserSchema },
      },
      // Before the schema, which coerces types (a quota of "" would become null: no quota).
      preValidation: async (request: { body: unknown }) => {
        const problem = strictSmsUserProblem(request.body);
        if (problem) throw new AppError('VALIDATION_FAILED', problem);
      },
    },
    async (request) => {
      const { user, password } = await smsUsers.update(principalOf(request), request.params.account, request.params.login, request.body);
      return password === undefined ? smsUserView(user) : { ...smsUserView(user), password };
    },
  );

  app.delete(
    `${base}/users/:login`,
    {
      ...auth,
      schema: {
        tags: ['users'],
        operationId: 'deleteUser',
        summary: 'Deletes the SMS user and its tokens; its history stays',
        params: UserParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await smsUsers.delete(principalOf(request), request.params.account, request.params.login);
      return reply.status(204).send(null);
    },
  );

  // Senders

  app.get(
    `${base}/senders`,
    {
      ...auth,
      schema: {
        tags: ['senders'],
        operationId: 'listSenders',
        summary: 'The senders of the account',
        params: AccountParams,
        response: { 200: Type.Array(SenderSchema) },
      },
    },
    async (request) => (await senders.list(principalOf(request), request.params.account)).map(senderView),
  );

  app.post(
    `${base}/senders`,
    {
      ...auth,
      schema: {
        tags: ['senders'],
        operationId: 'createSender',
        summary: 'Adds a sender (enabled unless said otherwise)',
        params: AccountParams,
        body: CreateSenderBody,
        response: { 201: SenderSchema },
      },
    },
    async (request, reply) =>
      reply.status(201).send(senderView(await senders.create(principalOf(request), request.params.account, request.body))),
  );

  app.get(
    `${base}/senders/:sender`,
    {
      ...auth,
      schema: { tags: ['senders'], operationId: 'getSender', summary: 'One sender', params: SenderParams, response: { 200: SenderSchema } },
    },
    async (request) => senderView(await senders.get(principalOf(request), request.params.account, request.params.sender)),
  );

  app.patch(
    `${base}/senders/:sender`,
    {
      ...auth,
      schema: {
        tags: ['senders'],
        operationId: 'updateSender',
        summary: 'Changes the description or status',
        params: SenderParams,
        body: UpdateSenderBody,
        response: { 200: SenderSchema },
      },
    },
    async (request) => senderView(await senders.update(principalOf(request), request.params.account, request.params.sender, request.body)),
  );

  app.delete(
    `${base}/senders/:sender`,
    {
      ...auth,
      schema: {
        tags: ['senders'],
        operationId: 'deleteSender',
        summary: 'Deletes a sender',
        params: SenderParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await senders.delete(principalOf(request), request.params.account, request.params.sender);
      return reply.status(204).send(null);
    },
  );

  // API tokens

  app.get(
    `${base}/tokens`,
    {
      ...auth,
      schema: {
        tags: ['tokens'],
        operationId: 'listTokens',
        security: sessionOnly,
        summary: 'The API tokens of the account, revoked ones included',
        params: AccountParams,
        response: { 200: Type.Array(TokenSchema) },
      },
    },
    async (request) => (await apiTokens.list(principalOf(request), request.params.account)).map(tokenView),
  );

  app.post(
    `${base}/tokens`,
    {
      ...auth,
      schema: {
        tags: ['tokens'],
        operationId: 'createToken',
        security: sessionOnly,
        summary: 'Creates an API token for the account or one SMS user; the token is shown once',
        params: AccountParams,
        body: CreateTokenBody,
        response: { 201: CreatedTokenSchema },
      },
    },
    async (request, reply) => {
      const { name, user } = request.body;
      const { token, bearer } = await apiTokens.create(principalOf(request), request.params.account, { name, userLogin: user });
      return reply.status(201).send({ ...tokenView(token), token: bearer });
    },
  );

  app.delete(
    `${base}/tokens/:id`,
    {
      ...auth,
      schema: {
        tags: ['tokens'],
        operationId: 'revokeToken',
        security: sessionOnly,
        summary: 'Revokes an API token (at once)',
        params: TokenParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await apiTokens.revoke(principalOf(request), request.params.account, request.params.id);
      return reply.status(204).send(null);
    },
  );
};
