import { type Static, Type } from '@sinclair/typebox';
import { CHANNELS, ENCODINGS, OUTGOING_STATUSES } from '../../../shared/status.js';
import { checkedByService } from '../../errors.js';
import { MAX_DELETE_IDS } from './history.service.js';
import { MAX_FILTER_IDS, MAX_FILTER_TEXT, SORT_COLUMNS } from './history-query.js';

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

/** The longest text of one filter (history-query.ts answers INVALID_FILTER beyond). */

/** A filter's text: its length checked by the history's filter parser (INVALID_FILTER), not by the validator. */
const FilterText = (description?: string) =>
  checkedByService(Type.String({ maxLength: MAX_FILTER_TEXT, ...(description ? { description } : {}) }), ['maxLength']);

const filterProperties = {
  user: Type.Optional(FilterText('SMS user login; "-" for messages sent with no SMS user (from the Manager)')),
  channel: Type.Optional(FilterText(`one or several, comma-separated: ${CHANNELS.join(', ')}`)),
  sender: Type.Optional(FilterText()),
  receiver: Type.Optional(FilterText('exact E.164 number, or a prefix ending with * (e.g. +336*)')),
  status: Type.Optional(FilterText(`one or several, comma-separated: ${OUTGOING_STATUSES.join(', ')}`)),
  tag: Type.Optional(FilterText()),
  from: Type.Optional(FilterText('ISO 8601 date or datetime, inclusive; without offset, in the account timezone')),
  to: Type.Optional(FilterText('ISO 8601 date or datetime, inclusive (a date covers the whole day)')),
  q: Type.Optional(FilterText('text contained in the message: case-insensitive, accents matter')),
  // (TOO_MANY_IDS beyond MAX_FILTER_IDS, counted once the comma-separated ones are split.)
  ids: Type.Optional(
    checkedByService(
      Type.Array(Type.String(), {
        maxItems: MAX_FILTER_IDS,
        description: `only these message ids, comma-separated (ids=1,2,3) or repeated (ids=1&ids=2), at most ${MAX_FILTER_IDS}: the ones that exist and the caller may see`,
      }),
      ['maxItems'],
    ),
  ),
};

// One of the sort keys, with an optional + or - (an unencoded + arrives as a space); empty for the default.
// Checked by the history's sort parser, which answers INVALID_SORT naming the sortable keys.
const sortProperty = Type.Optional(
  checkedByService(
    Type.String({
      pattern: `^([-+ ]?(${Object.keys(SORT_COLUMNS).join('|')}))?$`,
      description: `${Object.keys(SORT_COLUMNS).join(', ')}; date alone is newest first (the default), +date oldest first; prefix - for descending`,
    }),
    ['pattern'],
  ),
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
      Type.Union(
        [
          Type.String(),
          checkedByService(Type.Array(Type.Union([Type.Integer(), Type.String()]), { maxItems: MAX_FILTER_IDS }), ['maxItems']),
        ],
        { description: `only these message ids (at most ${MAX_FILTER_IDS}): [1, 2, 3], or "1,2,3" as in the query string` },
      ),
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
    all: Type.Optional(Type.Boolean({ description: 'every matching message instead of the most recent ones (a limit given too wins)' })),
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
    encoding: Type.String({ enum: [...ENCODINGS] }),
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

/** Message ids to delete or redact: more than MAX_DELETE_IDS are TOO_MANY_IDS (answered by the history service). */
const BatchIds = checkedByService(
  Type.Array(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), {
    minItems: 1,
    maxItems: MAX_DELETE_IDS,
    description: 'message ids, at most 10,000',
  }),
  ['maxItems'],
);

// Either ids or filter, never both: the route answers VALIDATION_FAILED with its own sentence otherwise.
export const DeleteBody = checkedByService(
  Type.Object(
    { ids: Type.Optional(BatchIds), filter: Type.Optional(BodyFilter) },
    { additionalProperties: false, description: 'either ids or filter', oneOf: [{ required: ['ids'] }, { required: ['filter'] }] },
  ),
  ['oneOf'],
);
export type DeleteBody = Static<typeof DeleteBody>;

export const RedactBody = Type.Object({ ids: BatchIds }, { additionalProperties: false });
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
  kind: Type.String({ enum: ['ids', 'filter', 'redact'], description: 'ids or filter: a deletion; redact: a redaction' }),
  createdAt: IsoTime,
  count: Type.Integer(),
  ids: Type.Union([Type.Array(Type.Integer()), Type.Null()]),
  filter: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  deleteJobId: Type.Union([Type.Integer(), Type.Null()]),
});
