import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ENCODINGS } from '../../../shared/status.js';
import { checkedByService } from '../../errors.js';
import { MAX_MESSAGE_LENGTH, MAX_RECEIVERS, MAX_TAG_LENGTH } from './sending.service.js';

// A sender, or senderForResponse: the sending service answers INVALID_SENDER without either (documented, not validated).
const JobBody = checkedByService(
  Type.Object(
    {
      message: Type.String({ maxLength: MAX_MESSAGE_LENGTH, description: 'the text; the STOP mention is appended unless noStopClause' }),
      receivers: Type.Array(Type.String({ maxLength: 64 }), {
        minItems: 1,
        maxItems: MAX_RECEIVERS,
        description: 'numbers: +33…, 0033… or national',
      }),
      sender: Type.Optional(
        Type.String({ maxLength: 32, description: 'one of the account’s enabled senders; required unless senderForResponse is true' }),
      ),
      senderForResponse: Type.Optional(Type.Boolean({ description: 'send from a reply-capable short number instead of a sender' })),
      noStopClause: Type.Optional(Type.Boolean()),
      tag: Type.Optional(Type.String({ maxLength: MAX_TAG_LENGTH })),
      differedPeriod: Type.Optional(Type.Integer({ minimum: 0, maximum: 525_600, description: 'minutes before sending' })),
      validityPeriod: Type.Optional(Type.Integer({ minimum: 1, maximum: 525_600, description: 'minutes, default 2880' })),
      priority: Type.Optional(Type.Union([Type.Literal('high'), Type.Literal('medium'), Type.Literal('low'), Type.Literal('veryLow')])),
      coding: Type.Optional(Type.Union([Type.Literal('7bit'), Type.Literal('8bit')])),
      charset: Type.Optional(Type.Literal('UTF-8')),
      class: Type.Optional(Type.Union([Type.Literal('flash'), Type.Literal('phoneDisplay'), Type.Literal('sim'), Type.Literal('toolkit')])),
    },
    {
      additionalProperties: false,
      anyOf: [
        { required: ['sender'] },
        { required: ['senderForResponse'], properties: { senderForResponse: { type: 'boolean', enum: [true] } } },
      ],
    },
  ),
  ['anyOf'],
);

const SendReport = Type.Object({
  ids: Type.Array(Type.Integer()),
  validReceivers: Type.Array(Type.String()),
  invalidReceivers: Type.Array(Type.String()),
  totalCreditsRemoved: Type.Number(),
  tag: Type.String(),
  jobId: Type.Integer(),
  creditsLeft: Type.Number(),
  parts: Type.Integer(),
  encoding: Type.String({ enum: [...ENCODINGS] }),
});

/** `POST /api/v1/accounts/{account}/jobs`: send one text to one or many receivers. */
export const jobsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { sending, resolveAccountAccess } = app.services;
  app.post(
    '/api/v1/accounts/:account/jobs',
    {
      onRequest: app.requireAuth,
      schema: {
        tags: ['sending'],
        operationId: 'createJob',
        summary: 'Sends an SMS to one or many receivers (up to 100,000); answers once every message is durably queued',
        params: Type.Object({ account: Type.String({ maxLength: 64 }) }),
        body: JobBody,
        response: { 200: SendReport },
      },
    },
    async (request) => {
      const principal = request.principal!;
      const access = await resolveAccountAccess(principal, request.params.account);
      const { charset: _charset, ...input } = request.body;
      return sending.accept(access, principal.kind === 'customer' ? 'manager' : 'api', input);
    },
  );
};
