import { type Static, Type } from '@sinclair/typebox';
import { CHANNELS, OUTGOING_STATUSES } from '../../../shared/status.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const IsoTime = Type.String({ description: 'ISO 8601 with the account timezone offset, e.g. 2024-05-01T10:30:00+02:00' });

export const AccountParams = Type.Object({
  account: Type.String({ description: 'SMS account name, e.g. sms-ab12345-1', maxLength: 64 }),
});

export const MessageParams = Type.Object({
  account: Type.String({ maxLength: 64 }),
  id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'message id' }),
});

export const JobParams = Type.Object({
  account: Type.String({ maxLength: 64 }),
  id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'delete job id' }),
});

const filterProperties = {
  user: Type.Optional(Type.String({ description: 'SMS user login; "-" for messages sent with no SMS user (from the Manager)' })),
  channel: Type.Optional(Type.String({ description: `one or several, comma-separated: ${CHANNELS.join(', ')}` })),
  sender: Type.Optional(Type.String()),
  receiver: Type.Optional(Type.String({ description: 'exact E.164 number, or a prefix ending with * (e.g. +336*)' })),
  status: Type.Optional(Type.String({ description: `one or several, comma-separated: ${OUTGOING_STATUSES.join(', ')}` })),
  tag: Type.Optional(Type.String()),
  from: Type.Optional(Type.String({ description: 'ISO 8601 date or datetime, inclusive; without offset, in the account timezone' })),
  to: Type.Optional(Type.String({ description: 'ISO 8601 date or datetime, inclusive (a date covers the whole day)' })),
  q: Type.Optional(Type.String({ description: 'text contained in the message: case-insensitive, accents matter' })),
  ids: Type.Optional(
    Type.Array(Type.String(), {
      description:
        'only these message ids, comma-separated (ids=1,2,3) or repeated (ids=1&ids=2), at most 1000: the ones that exist and the caller may see',
    }),
  ),
};

const sortProperty = Type.Optional(
  Type.String({
    description: 'date (newest first, the default), +date, sender, receiver, message, status, user, channel; prefix - for descending',
  }),
);

export const FilterQuery = Type.Object(filterProperties, { additionalProperties: false });

/**
 * The same filters in a JSON body, which is taken as typed (never coerced): `ids` as JSON numbers, or
 * as the query string writes them.
 */
export const BodyFilter = Type.Object(
  {
    ...filterProperties,
    ids: Type.Optional(
      Type.Union([Type.String(), Type.Array(Type.Union([Type.Integer(), Type.String()]))], {
        description: 'only these message ids (at most 1000): [1, 2, 3], or "1,2,3" as in the query string',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ListQuery = Type.Object(
  {
    ...filterProperties,
    sort: sortProperty,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
    cursor: Type.Optional(Type.String({ description: 'nextCursor or prevCursor of a previous page' })),
  },
  { additionalProperties: false },
);

export const ExportQuery = Type.Object(
  {
    ...filterProperties,
    sort: sortProperty,
    format: Type.Optional(Type.Union([Type.Literal('seed'), Type.Literal('detailed')], { description: 'seed (default) or detailed' })),
    all: Type.Optional(Type.Boolean({ description: 'every matching message instead of the most recent ones' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'how many rows (default RELAIS_CSV_DOWNLOAD_LIMIT, 2000)' })),
  },
  { additionalProperties: false },
);

export const JsonlQuery = Type.Object(
  { ...filterProperties, sort: sortProperty, limit: Type.Optional(Type.Integer({ minimum: 1 })) },
  { additionalProperties: false },
);

export const OutgoingSchema = Type.Object(
  {
    id: Type.Integer(),
    createdAt: IsoTime,
    sentAt: Nullable(IsoTime),
    deliveredAt: Nullable(IsoTime),
    failedAt: Nullable(IsoTime),
    expiredAt: Nullable(IsoTime),
    canceledAt: Nullable(IsoTime),
    sender: Type.String(),
    receiver: Type.String(),
    message: Nullable(Type.String({ description: 'null when redacted or not stored' })),
    status: Type.String({ enum: [...OUTGOING_STATUSES] }),
    user: Nullable(Type.String()),
    channel: Type.String({ enum: [...CHANNELS] }),
    tag: Type.String(),
    parts: Type.Integer(),
    credits: Type.Number(),
    encoding: Type.String(),
    carrierMessageId: Nullable(Type.String()),
    errorCode: Nullable(Type.String()),
    errorText: Nullable(Type.String()),
    deferredUntil: Nullable(IsoTime),
    validUntil: Nullable(IsoTime),
    ptt: Type.Integer({ description: "OVH's ptt code" }),
    deliveryReceipt: Type.Integer({ description: "OVH's deliveryReceipt code" }),
  },
  { $id: 'Outgoing' },
);

export const PageSchema = Type.Object({
  data: Type.Array(OutgoingSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
  prevCursor: Type.Union([Type.String(), Type.Null()]),
  total: Type.Integer({ description: 'exact when totalIsExact, otherwise a lower bound' }),
  totalIsExact: Type.Boolean(),
});

export const DeleteBody = Type.Object(
  {
    ids: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), {
        minItems: 1,
        description: 'message ids, at most 10,000',
      }),
    ),
    filter: Type.Optional(BodyFilter),
  },
  { additionalProperties: false, description: 'either ids or filter' },
);
export type DeleteBody = Static<typeof DeleteBody>;

export const RedactBody = Type.Object(
  {
    ids: Type.Array(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), {
      minItems: 1,
      description: 'message ids, at most 10,000',
    }),
  },
  { additionalProperties: false },
);
export type RedactBody = Static<typeof RedactBody>;

export const RedactResult = Type.Object({
  redacted: Type.Integer({ description: 'messages whose text was erased and receiver masked' }),
  pending: Type.Array(Type.Integer(), { description: 'ids left as they are: still to be sent' }),
});

export const DeleteJobSchema = Type.Object({
  id: Type.Integer(),
  status: Type.String({ enum: ['running', 'done', 'failed'] }),
  deleted: Type.Integer(),
  total: Type.Union([Type.Integer(), Type.Null()], { description: 'messages to delete in all; null while a large job is still counting' }),
  createdAt: IsoTime,
  finishedAt: Nullable(IsoTime),
  error: Nullable(Type.String()),
});

export const DeleteResult = Type.Object({
  deleted: Type.Optional(Type.Integer({ description: 'messages deleted (when done before answering)' })),
  refundedCredits: Type.Optional(Type.Number({ description: 'credits given back for pending messages' })),
  job: Type.Optional(DeleteJobSchema),
});

export const AuditSchema = Type.Object({
  id: Type.Integer(),
  actor: Type.String(),
  kind: Type.String(),
  createdAt: IsoTime,
  count: Type.Integer(),
  ids: Type.Union([Type.Array(Type.Integer()), Type.Null()]),
  filter: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  deleteJobId: Type.Union([Type.Integer(), Type.Null()]),
});
