import AjvModule, { type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import { HTTP_STATUS } from '../src/server/errors.js';
import { SYSTEM_ACTOR } from '../src/server/modules/accounts/accounts.service.js';
import type { DeletionAudit } from '../src/server/modules/history/deletions.repository.js';
import type { HistoryPage } from '../src/server/modules/history/history.service.js';
import { SORT_COLUMNS } from '../src/server/modules/history/history-query.js';
import type { SendReport } from '../src/server/modules/sending/sending.service.js';
import type { PublicOutgoing } from '../src/shared/csv.js';
import { ERROR_CODES, type ErrorCode } from '../src/shared/error-codes.js';
import type { StatsResponse } from '../src/shared/stats.js';
import { CHANNELS, ENCODINGS, OUTGOING_STATUSES } from '../src/shared/status.js';
import { describeEachDialectWithApp } from './app.js';
import {
  bearer,
  createSender,
  createSmsUser,
  createToken,
  fastAuthConfig,
  type SeededAccount,
  seedCustomerWithAccount,
  signIn,
  type TestSession,
} from './factories.js';
import { buildOutgoing, insertOutgoing } from './outgoing-factory.js';

/*
 * Review of the OpenAPI document at /api/docs/json: users generate clients from it, so it must be true.
 * Its structure, its coverage of the routes the server really answers, and every real answer of a
 * realistic scenario validated against the schema the document gives for that status and media type.
 */

const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
type SchemaObject = { [key: string]: unknown };
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: SchemaObject;
}
interface MediaType {
  schema?: SchemaObject;
}
interface ResponseObject {
  description: string;
  content?: Record<string, MediaType>;
}
type SecurityRequirement = Record<string, string[]>;
interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, MediaType> };
  responses: Record<string, ResponseObject>;
  security?: SecurityRequirement[];
}
interface SecurityScheme {
  type: string;
  scheme?: string;
  in?: string;
  name?: string;
}
interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, SchemaObject>; securitySchemes?: Record<string, SecurityScheme> };
  security?: SecurityRequirement[];
  tags?: { name: string; description?: string }[];
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** The keywords of OpenAPI 3.0's Schema Object (3.0.3 §4.7.24): anything else (const, examples, $id, type arrays…) is 3.1 or JSON Schema. */
const SCHEMA_KEYWORDS_30 = [
  'title',
  'multipleOf',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'uniqueItems',
  'maxProperties',
  'minProperties',
  'required',
  'enum',
  'type',
  'allOf',
  'oneOf',
  'anyOf',
  'not',
  'items',
  'properties',
  'additionalProperties',
  'description',
  'format',
  'default',
  'nullable',
  'discriminator',
  'readOnly',
  'writeOnly',
  'xml',
  'externalDocs',
  'example',
  'deprecated',
  '$ref',
];

const orExtension = (names: string[]) => ({ anyOf: [{ enum: names }, { pattern: '^x-' }] });
const ref = (name: string) => ({ $ref: `#/definitions/${name}` });

/** A structural JSON Schema of an OpenAPI 3.0 document (the parts a generator reads), strict about 3.0's keywords. */
const OPENAPI_30_STRUCTURE = {
  type: 'object',
  required: ['openapi', 'info', 'paths'],
  propertyNames: orExtension(['openapi', 'info', 'servers', 'paths', 'components', 'security', 'tags', 'externalDocs']),
  properties: {
    openapi: { type: 'string', pattern: '^3\\.0\\.\\d+$' },
    info: { type: 'object', required: ['title', 'version'], properties: { title: { type: 'string' }, version: { type: 'string' } } },
    servers: { type: 'array', items: { type: 'object', required: ['url'] } },
    paths: { type: 'object', propertyNames: { pattern: '^/' }, additionalProperties: ref('pathItem') },
    components: {
      type: 'object',
      properties: {
        schemas: { type: 'object', additionalProperties: ref('schema') },
        securitySchemes: { type: 'object', additionalProperties: ref('securityScheme') },
      },
    },
    security: { type: 'array', items: ref('securityRequirement') },
    tags: {
      type: 'array',
      items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, description: { type: 'string' } } },
    },
  },
  definitions: {
    pathItem: {
      type: 'object',
      propertyNames: orExtension([...HTTP_METHODS, 'summary', 'description', 'servers', 'parameters', '$ref']),
      properties: {
        ...Object.fromEntries(HTTP_METHODS.map((m) => [m, ref('operation')])),
        parameters: { type: 'array', items: ref('parameter') },
      },
    },
    operation: {
      type: 'object',
      required: ['responses'],
      propertyNames: orExtension([
        'tags',
        'summary',
        'description',
        'externalDocs',
        'operationId',
        'parameters',
        'requestBody',
        'responses',
        'callbacks',
        'deprecated',
        'security',
        'servers',
      ]),
      properties: {
        tags: { type: 'array', items: { type: 'string' } },
        summary: { type: 'string' },
        description: { type: 'string' },
        operationId: { type: 'string' },
        parameters: { type: 'array', items: ref('parameter') },
        requestBody: {
          type: 'object',
          required: ['content'],
          properties: { description: { type: 'string' }, required: { type: 'boolean' }, content: ref('mediaTypes') },
        },
        responses: {
          type: 'object',
          minProperties: 1,
          propertyNames: { pattern: '^([1-5](\\d\\d|XX)|default|x-.*)$' },
          additionalProperties: {
            type: 'object',
            required: ['description'],
            properties: { description: { type: 'string' }, content: ref('mediaTypes'), headers: { type: 'object' } },
          },
        },
        deprecated: { type: 'boolean' },
        security: { type: 'array', items: ref('securityRequirement') },
      },
    },
    parameter: {
      type: 'object',
      required: ['name', 'in'],
      properties: {
        name: { type: 'string', minLength: 1 },
        in: { enum: ['query', 'header', 'path', 'cookie'] },
        required: { type: 'boolean' },
        description: { type: 'string' },
        schema: ref('schema'),
        content: ref('mediaTypes'),
        style: { enum: ['matrix', 'label', 'form', 'simple', 'spaceDelimited', 'pipeDelimited', 'deepObject'] },
        explode: { type: 'boolean' },
      },
      oneOf: [{ required: ['schema'] }, { required: ['content'] }],
      if: { properties: { in: { const: 'path' } } },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then
      then: { required: ['required'], properties: { required: { const: true } } },
    },
    mediaTypes: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[\\w.+-]+/[\\w.+*-]+$' },
      additionalProperties: { type: 'object', properties: { schema: ref('schema') } },
    },
    schema: {
      type: 'object',
      propertyNames: orExtension(SCHEMA_KEYWORDS_30),
      properties: {
        type: { enum: ['array', 'boolean', 'integer', 'number', 'object', 'string'] },
        nullable: { type: 'boolean' },
        required: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string' } },
        enum: { type: 'array', minItems: 1 },
        properties: { type: 'object', additionalProperties: ref('schema') },
        items: ref('schema'),
        additionalProperties: { anyOf: [{ type: 'boolean' }, ref('schema')] },
        allOf: { type: 'array', minItems: 1, items: ref('schema') },
        anyOf: { type: 'array', minItems: 1, items: ref('schema') },
        oneOf: { type: 'array', minItems: 1, items: ref('schema') },
        not: ref('schema'),
        exclusiveMaximum: { type: 'boolean' },
        exclusiveMinimum: { type: 'boolean' },
        minimum: { type: 'number' },
        maximum: { type: 'number' },
        minLength: { type: 'integer', minimum: 0 },
        maxLength: { type: 'integer', minimum: 0 },
        minItems: { type: 'integer', minimum: 0 },
        maxItems: { type: 'integer', minimum: 0 },
        pattern: { type: 'string', format: 'regex' },
        format: { type: 'string' },
        description: { type: 'string' },
        $ref: { type: 'string', pattern: '^#/components/schemas/' },
      },
      allOf: [
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then
        { if: { required: ['type'], properties: { type: { const: 'array' } } }, then: { required: ['items'] } },
        // A Reference Object has no siblings in 3.0 (they are ignored).
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then
        { if: { required: ['$ref'] }, then: { maxProperties: 1 } },
      ],
    },
    securityScheme: {
      type: 'object',
      required: ['type'],
      properties: { type: { enum: ['apiKey', 'http', 'oauth2', 'openIdConnect'] }, description: { type: 'string' } },
      allOf: [
        {
          if: { properties: { type: { const: 'apiKey' } } },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then
          then: { required: ['name', 'in'], properties: { in: { enum: ['query', 'header', 'cookie'] } } },
        },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then
        { if: { properties: { type: { const: 'http' } } }, then: { required: ['scheme'] } },
      ],
    },
    securityRequirement: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
  },
};

/** The native API's error body (README "Errors answer { error: { code, message } }", src/shared/error-codes.ts). */
const ERROR_BODY = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { enum: [...ERROR_CODES] }, message: { type: 'string', minLength: 1 } },
    },
  },
};

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const compiled = new Map<string, ValidateFunction>();

function validatorOf(schema: object): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(key, validate);
  }
  return validate;
}

/** Ajv's errors of `value` against `schema`, one line each (empty when valid). */
function schemaErrors(schema: object, value: unknown): string[] {
  const validate = validatorOf(schema);
  if (validate(value)) return [];
  return (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '(root)'} ${e.message} ${JSON.stringify(e.params)}`);
}

/** `schema` with every `#/components/schemas/…` reference of the document replaced by its target. */
function deref(doc: OpenApiDoc, schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map((s) => deref(doc, s));
  if (schema === null || typeof schema !== 'object') return schema;
  const object = schema as SchemaObject;
  if (typeof object.$ref === 'string') {
    const name = object.$ref.replace('#/components/schemas/', '');
    const target = doc.components?.schemas?.[name];
    if (!target) throw new Error(`unresolved $ref ${object.$ref}`);
    return deref(doc, target);
  }
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, deref(doc, v)]));
}

function operationOf(doc: OpenApiDoc, method: string, template: string): Operation | undefined {
  return doc.paths[template]?.[method.toLowerCase()];
}

function allOperations(doc: OpenApiDoc): { method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );
}

/** The document's response for this status: exact, then its range (4XX), then default. */
function documentedResponse(op: Operation, status: number): ResponseObject | undefined {
  return op.responses[String(status)] ?? op.responses[`${String(status)[0]}XX`] ?? op.responses.default;
}

/** What is wrong with a real answer for the document: an undocumented status, media type or shape. */
function answerProblems(doc: OpenApiDoc, res: LightMyRequestResponse, method: string, template: string): string[] {
  const where = `${method} ${template} → ${res.statusCode}`;
  const op = operationOf(doc, method, template);
  if (!op) return [`${where}: the document has no such operation`];
  const documented = documentedResponse(op, res.statusCode);
  if (!documented) return [`${where}: status not documented (the document lists ${Object.keys(op.responses).join(', ')})`];
  const mediaType = String(res.headers['content-type'] ?? '')
    .split(';')[0]
    .trim();
  if (res.body === '') {
    return documented.content ? [`${where}: empty answer, but the document promises ${Object.keys(documented.content).join(', ')}`] : [];
  }
  const media = documented.content?.[mediaType];
  if (!media) {
    return [
      `${where}: answers ${mediaType}, the document gives ${documented.content ? Object.keys(documented.content).join(', ') : 'no content'}`,
    ];
  }
  if (mediaType !== 'application/json' || !media.schema) return [];
  return schemaErrors(deref(doc, media.schema) as object, JSON.parse(res.body)).map((e) => `${where}: ${e}`);
}

/** Every (method, path) Fastify routes, read from `printRoutes` (HEAD routes Fastify adds to GETs included). */
function serverRoutes(tree: string): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = [...m[1]].length / 4;
    stack.length = depth;
    stack.push(m[2]);
    if (m[3]) for (const method of m[3].split(', ')) routes.push({ method, path: stack.join('') });
  }
  return routes;
}

const toTemplate = (path: string) => path.replace(/:(\w+)/g, '{$1}');

/** The keys a contract type promises, checked against the type by the compiler (a key added to the type must be added here). */
function keysOf<T>(record: Record<keyof T, true>): string[] {
  return Object.keys(record).sort();
}

const PUBLIC_OUTGOING_KEYS = keysOf<PublicOutgoing>({
  id: true,
  createdAt: true,
  sentAt: true,
  deliveredAt: true,
  failedAt: true,
  expiredAt: true,
  canceledAt: true,
  sender: true,
  receiver: true,
  message: true,
  status: true,
  user: true,
  channel: true,
  tag: true,
  parts: true,
  credits: true,
  encoding: true,
  carrierMessageId: true,
  errorCode: true,
  errorText: true,
  deferredUntil: true,
  validUntil: true,
  ptt: true,
  deliveryReceipt: true,
});
const SEND_REPORT_KEYS = keysOf<SendReport>({
  ids: true,
  validReceivers: true,
  invalidReceivers: true,
  totalCreditsRemoved: true,
  tag: true,
  jobId: true,
  creditsLeft: true,
  parts: true,
  encoding: true,
});
const PAGE_KEYS = keysOf<HistoryPage>({ data: true, nextCursor: true, prevCursor: true, total: true, totalIsExact: true });
const STATS_KEYS = keysOf<StatsResponse>({ timeZone: true, from: true, to: true, days: true });
const AUDIT_KEYS = keysOf<Omit<DeletionAudit, 'accountId'>>({
  id: true,
  actor: true,
  kind: true,
  createdAt: true,
  count: true,
  ids: true,
  filter: true,
  deleteJobId: true,
});

const OUTGOING = '/api/v1/accounts/{account}/outgoing';

describeEachDialectWithApp(
  'the OpenAPI document, checked against the server',
  (ctx) => {
    let doc: OpenApiDoc;
    let owner: SeededAccount;
    let account: string;
    let session: TestSession;
    let userToken: string;
    let rowIds: number[];
    let userId: number;

    /** Injects a request to `template` (its {params} filled in) and notes what the document gets wrong about the answer. */
    function recorder() {
      const problems: string[] = [];
      const call = async (
        method: Method,
        template: string,
        options: {
          params?: Record<string, string | number>;
          query?: Record<string, string | string[]>;
          headers?: Record<string, string>;
          body?: unknown;
          payload?: string;
          remoteAddress?: string;
        } = {},
      ): Promise<LightMyRequestResponse> => {
        const params = { account, ...options.params };
        const url = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(params[name as keyof typeof params])));
        const res = await ctx.app.inject({
          method,
          url,
          query: options.query,
          headers: options.headers ?? owner.auth,
          ...(options.body !== undefined ? { payload: options.body as object } : {}),
          ...(options.payload !== undefined ? { payload: options.payload } : {}),
          ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
        });
        problems.push(...answerProblems(doc, res, method, template));
        return res;
      };
      return { problems, call };
    }

    beforeAll(async () => {
      doc = (await ctx.app.inject({ url: '/api/docs/json' })).json();
      const app = ctx.app;
      owner = await seedCustomerWithAccount(app, { account: { credits: 1_000_000, timezone: 'Europe/Paris' } });
      account = owner.account.name;
      await createSender(app, account, { sender: 'Relais' });
      await createSender(app, account, { sender: 'Promo' });
      userId = (await createSmsUser(app, account, { login: 'apiuser', callbackUrl: 'https://example.com/status' })).id;
      userToken = await createToken(app, account, { user: 'apiuser' });
      session = await signIn(app, owner.customer.email);
      // 24 rows: every status, every channel, with and without an SMS user, over four days of May 2024.
      const base = Date.UTC(2024, 4, 1, 6, 0, 0);
      rowIds = await insertOutgoing(
        ctx.database,
        Array.from({ length: 24 }, (_, i) => {
          const status = OUTGOING_STATUSES[i % OUTGOING_STATUSES.length];
          const created = base + i * 4 * 3_600_000;
          return buildOutgoing({
            account_id: owner.account.id,
            status,
            channel: CHANNELS[(i * 5) % CHANNELS.length],
            user_id: i % 2 ? userId : null,
            user_login: i % 2 ? 'apiuser' : '',
            sender: i % 3 ? 'Relais' : 'Promo',
            receiver: `+336123400${String(i).padStart(2, '0')}`,
            message: i % 7 === 6 ? 'Rendez-vous confirmé — "été" ; à demain\nMerci' : `Bonjour n°${i}`,
            tag: i % 4 === 0 ? 'promo' : '',
            created_at: created,
            expired_at: status === 'expired' ? created + 60_000 : null,
            canceled_at: status === 'canceled' ? created + 60_000 : null,
            deferred_until: status === 'pending' ? created + 3_600_000 : null,
            valid_until: created + 2880 * 60_000,
          });
        }),
      );
    });

    // --- The document itself -------------------------------------------------------------------

    it('is a structurally valid OpenAPI 3.0 document: only 3.0 schema keywords, every $ref resolves', () => {
      expect(schemaErrors(OPENAPI_30_STRUCTURE, doc)).toEqual([]);
      // (The check itself sees a 3.1-only schema.)
      const broken = structuredClone(doc);
      broken.components!.schemas!.Broken = { type: ['integer', 'null'], const: 1 };
      expect(schemaErrors(OPENAPI_30_STRUCTURE, broken)).not.toEqual([]);
      const refs = JSON.stringify(doc).match(/"\$ref":"[^"]*"/g) ?? [];
      for (const r of refs) expect(() => deref(doc, JSON.parse(`{${r}}`)), r).not.toThrow();
      // Every security requirement names a declared scheme.
      const schemes = Object.keys(doc.components?.securitySchemes ?? {});
      const requirements = [...(doc.security ?? []), ...allOperations(doc).flatMap(({ op }) => op.security ?? [])];
      for (const requirement of requirements) for (const name of Object.keys(requirement)) expect(schemes).toContain(name);
    });

    it('names every operation (operationId or summary), tags it, and declares exactly the path parameters it templates', () => {
      const problems: string[] = [];
      const operationIds = new Set<string>();
      for (const { method, path, op } of allOperations(doc)) {
        const where = `${method} ${path}`;
        if (!op.operationId && !op.summary) problems.push(`${where}: neither operationId nor summary`);
        if (op.operationId) {
          if (operationIds.has(op.operationId)) problems.push(`${where}: operationId ${op.operationId} used twice`);
          operationIds.add(op.operationId);
        }
        if (!op.tags?.length) problems.push(`${where}: no tag`);
        const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
        const declared = (op.parameters ?? [])
          .filter((p) => p.in === 'path')
          .map((p) => p.name)
          .sort();
        if (JSON.stringify(templated) !== JSON.stringify(declared)) problems.push(`${where}: templates ${templated}, declares ${declared}`);
        for (const p of (op.parameters ?? []).filter((p) => p.in === 'path'))
          if (p.required !== true) problems.push(`${where}: ${p.name} not required`);
      }
      expect(problems).toEqual([]);
    });

    it('declares, with a description, every tag its operations use', () => {
      const used = [...new Set(allOperations(doc).flatMap(({ op }) => op.tags ?? []))].sort();
      const declared = (doc.tags ?? []).filter((t) => t.description).map((t) => t.name);
      expect(used.filter((t) => !declared.includes(t))).toEqual([]);
    });

    it('declares both ways in: a bearer token, and the session cookie whose writes need the X-CSRF-Token header', async () => {
      const schemes = doc.components?.securitySchemes ?? {};
      const bearerScheme = Object.entries(schemes).find(([, s]) => s.type === 'http' && s.scheme?.toLowerCase() === 'bearer');
      const cookieScheme = Object.entries(schemes).find(([, s]) => s.type === 'apiKey' && s.in === 'cookie' && s.name === 'relais_session');
      expect(bearerScheme, 'an http bearer scheme').toBeDefined();
      expect(cookieScheme, 'an apiKey scheme in the relais_session cookie').toBeDefined();
      expect(doc.security).toEqual(expect.arrayContaining([{ [bearerScheme![0]]: [] }, { [cookieScheme![0]]: [] }]));

      // The server refuses a cookie-authenticated write without the header…
      const res = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${account}/senders`,
        headers: session.headers,
        payload: { sender: 'NoCsrf' },
      });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('CSRF_FAILED');
      // …so a write that accepts the session must say so: the session paired with an apiKey scheme in the
      // X-CSRF-Token header (one requirement object), or an X-CSRF-Token header parameter.
      const csrfSchemes = Object.entries(schemes)
        .filter(([, s]) => s.type === 'apiKey' && s.in === 'header' && s.name?.toLowerCase() === 'x-csrf-token')
        .map(([name]) => name);
      const silent: string[] = [];
      for (const { method, path, op } of allOperations(doc)) {
        if (method === 'GET' || path === '/api/v1/auth/sign-in') continue;
        const requirements = op.security ?? doc.security ?? [];
        const bySession = requirements.filter((r) => cookieScheme![0] in r);
        if (bySession.length === 0) continue;
        const headerParameter = (op.parameters ?? []).some((p) => p.in === 'header' && p.name.toLowerCase() === 'x-csrf-token');
        const paired = bySession.every((r) => csrfSchemes.some((c) => c in r));
        if (!headerParameter && !paired) silent.push(`${method} ${path}`);
      }
      expect(silent).toEqual([]);
    });

    it('does not offer a bearer token to operations that refuse every API token', async () => {
      const r = recorder();
      const sessionOnly: [Method, string, unknown?][] = [
        ['GET', '/api/v1/auth/me'],
        ['GET', '/api/v1/ovh/applications'],
        ['GET', '/api/v1/ovh/credentials'],
        ['GET', '/api/v1/accounts/{account}/tokens'],
        ['PATCH', '/api/v1/accounts/{account}', { description: 'by a token' }],
      ];
      const wrong: string[] = [];
      for (const [method, template, body] of sessionOnly) {
        const res = await r.call(method, template, { body });
        expect(res.statusCode, `${method} ${template} with an account token`).toBe(403);
        const requirements = operationOf(doc, method, template)?.security ?? doc.security ?? [];
        if (requirements.some((req) => 'bearer' in req))
          wrong.push(`${method} ${template}: documented with bearer, answers 403 to any token`);
      }
      expect(wrong).toEqual([]);
    });

    // --- Coverage -------------------------------------------------------------------------------

    it('documents every /api/v1 route the server answers', () => {
      const routes = serverRoutes(ctx.app.printRoutes({ commonPrefix: false }));
      expect(routes.length).toBeGreaterThan(30);
      const missing = routes
        .filter((r) => r.path.startsWith('/api/v1/') && r.method !== 'HEAD')
        .filter((r) => !operationOf(doc, r.method, toTemplate(r.path)))
        .map((r) => `${r.method} ${r.path}`);
      expect(missing).toEqual([]);
    });

    it('describes no operation the server does not answer', () => {
      const ghosts = allOperations(doc)
        .filter(({ method, path }) => !ctx.app.hasRoute({ method, url: path.replace(/\{(\w+)\}/g, ':$1') }))
        .map(({ method, path }) => `${method} ${path}`);
      expect(ghosts).toEqual([]);
      expect(Object.keys(doc.paths).every((p) => p.startsWith('/api/v1/'))).toBe(true);
    });

    // --- Real answers against the documented schemas --------------------------------------------

    it('history pages: every filter, every sort and both cursors answer the documented shape', async () => {
      const r = recorder();
      const filters: Record<string, string | string[]>[] = [
        {},
        { user: 'apiuser' },
        { user: '-' },
        { channel: 'api,http2sms' },
        { sender: 'Promo' },
        { receiver: '+33612340001' },
        { receiver: '+3361234000*' },
        { status: 'delivered,failed' },
        { tag: 'promo' },
        { from: '2024-05-02', to: '2024-05-03T23:59:59' },
        { from: '2024-05-01T10:00:00+02:00' },
        { q: 'été' },
        { ids: `${rowIds[0]},${rowIds[1]}` },
        { ids: [String(rowIds[2]), String(rowIds[3])] },
      ];
      const sorts = Object.keys(SORT_COLUMNS).flatMap((k) => [k, `+${k}`, `-${k}`]);
      for (const filter of filters) {
        const res = await r.call('GET', OUTGOING, { query: { ...filter, limit: '5' } });
        expect(res.statusCode, JSON.stringify(filter)).toBe(200);
      }
      for (const sort of sorts) {
        const first = await r.call('GET', OUTGOING, { query: { sort, limit: '5' } });
        expect(first.statusCode, sort).toBe(200);
        const next = await r.call('GET', OUTGOING, { query: { sort, limit: '5', cursor: first.json().nextCursor } });
        expect(next.statusCode).toBe(200);
        const prev = await r.call('GET', OUTGOING, { query: { sort, limit: '5', cursor: next.json().prevCursor } });
        expect(prev.json().data).toEqual(first.json().data);
      }
      // An SMS user's token sees its own rows.
      expect((await r.call('GET', OUTGOING, { headers: bearer(userToken) })).statusCode).toBe(200);
      expect(r.problems).toEqual([]);
    });

    it('one message, the count, statistics, the deletion audit and JSON lines answer the documented shape', async () => {
      const r = recorder();
      for (const id of rowIds.slice(0, 6)) expect((await r.call('GET', `${OUTGOING}/{id}`, { params: { id } })).statusCode).toBe(200);
      expect((await r.call('GET', `${OUTGOING}/count`, { query: { status: 'failed' } })).json()).toEqual({ total: 4 });
      const stats = await r.call('GET', '/api/v1/accounts/{account}/stats', { query: { from: '2024-04-30', to: '2024-05-06' } });
      expect(stats.statusCode).toBe(200);
      expect((await r.call('GET', '/api/v1/accounts/{account}/stats')).statusCode).toBe(200);
      expect((await r.call('GET', '/api/v1/accounts/{account}/deletions', { query: { limit: '10' } })).statusCode).toBe(200);
      const jsonl = await r.call('GET', `${OUTGOING}.jsonl`, { query: { limit: '3' } });
      expect(jsonl.statusCode).toBe(200);
      const outgoingSchema = deref(doc, doc.paths[`${OUTGOING}/{id}`].get.responses['200'].content!['application/json'].schema) as object;
      for (const line of jsonl.body.trimEnd().split('\n')) expect(schemaErrors(outgoingSchema, JSON.parse(line))).toEqual([]);
      // (The validation itself sees a wrong row.)
      expect(schemaErrors(outgoingSchema, { ...JSON.parse(jsonl.body.split('\n')[0]), status: 'lost' })).not.toEqual([]);
      const csv = await ctx.app.inject({ url: `/api/v1/accounts/${account}/outgoing.csv`, headers: owner.auth });
      expect(csv.statusCode).toBe(200);
      expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(csv.body.split('\n')[0]).toBe('date;sender;receiver;message;status');
      // The JSON answers above are validated; the CSV and JSON lines only for their status here (next test).
      expect(r.problems.filter((p) => !p.includes('.csv') && !p.includes('.jsonl'))).toEqual([]);
    });

    it('declares the media types of the CSV and JSON-lines downloads', async () => {
      const r = recorder();
      await r.call('GET', `${OUTGOING}.csv`, { query: { format: 'detailed', limit: '3' } });
      await r.call('GET', `${OUTGOING}.csv`, { query: { all: 'true', status: 'delivered' } });
      await r.call('GET', `${OUTGOING}.jsonl`, { query: { sort: '-receiver' } });
      expect(r.problems).toEqual([]);
    });

    it('send jobs answer the documented shape, by an account token, an SMS user token and the session', async () => {
      const r = recorder();
      const jobs = '/api/v1/accounts/{account}/jobs';
      const job = { message: 'Votre code : 123456', receivers: ['+33612345678', '0612345679', 'not a number'], sender: 'Relais' };
      const byToken = await r.call('POST', jobs, { body: { ...job, tag: 'codes', priority: 'low', validityPeriod: 60 } });
      expect(byToken.statusCode).toBe(200);
      expect(byToken.json().invalidReceivers).toEqual(['not a number']);
      const byUser = await r.call('POST', jobs, { headers: bearer(userToken), body: { ...job, coding: '8bit', class: 'flash' } });
      expect(byUser.statusCode).toBe(200);
      const bySession = await r.call('POST', jobs, {
        headers: session.writeHeaders,
        body: { ...job, differedPeriod: 60, noStopClause: true },
      });
      expect(bySession.statusCode).toBe(200);
      const reply = await r.call('POST', jobs, { body: { message: 'Répondez OUI', receivers: ['+33612345670'], senderForResponse: true } });
      expect(reply.statusCode).toBe(200);
      const sent = await r.call('GET', OUTGOING, { query: { tag: 'codes' } });
      expect(sent.json().data).toHaveLength(2);
      expect(r.problems).toEqual([]);
    });

    it('SMS users, senders and tokens: create, read, change and delete answer the documented statuses and shapes', async () => {
      const r = recorder();
      const users = '/api/v1/accounts/{account}/users';
      expect((await r.call('POST', users, { body: { login: 'crmuser' } })).statusCode).toBe(201);
      expect(
        (
          await r.call('POST', users, {
            body: { login: 'shopuser', password: 'a long password', ipRestrictions: ['192.0.2.0/24'], quota: 500 },
          })
        ).statusCode,
      ).toBe(201);
      expect((await r.call('GET', users)).statusCode).toBe(200);
      expect((await r.call('GET', `${users}/{login}`, { params: { login: 'crmuser' } })).statusCode).toBe(200);
      const patched = await r.call('PATCH', `${users}/{login}`, {
        params: { login: 'crmuser' },
        body: { generatePassword: true, quota: null },
      });
      expect(patched.statusCode).toBe(200);
      expect(
        (await r.call('PATCH', `${users}/{login}`, { params: { login: 'crmuser' }, body: { callbackUrl: 'https://example.com/cb' } }))
          .statusCode,
      ).toBe(200);
      expect((await r.call('DELETE', `${users}/{login}`, { params: { login: 'shopuser' } })).statusCode).toBe(204);
      expect((await r.call('GET', users, { headers: bearer(userToken) })).statusCode).toBe(200);

      const senders = '/api/v1/accounts/{account}/senders';
      expect((await r.call('POST', senders, { body: { sender: 'MyShop', description: 'Boutique' } })).statusCode).toBe(201);
      expect((await r.call('POST', senders, { body: { sender: '+33612345678', status: 'disable' } })).statusCode).toBe(201);
      expect((await r.call('GET', senders)).statusCode).toBe(200);
      expect((await r.call('GET', `${senders}/{sender}`, { params: { sender: 'MyShop' } })).statusCode).toBe(200);
      expect((await r.call('PATCH', `${senders}/{sender}`, { params: { sender: 'MyShop' }, body: { status: 'disable' } })).statusCode).toBe(
        200,
      );
      expect((await r.call('DELETE', `${senders}/{sender}`, { params: { sender: 'MyShop' } })).statusCode).toBe(204);

      const tokens = '/api/v1/accounts/{account}/tokens';
      const created = await r.call('POST', tokens, { headers: session.writeHeaders, body: { name: 'CRM', user: 'crmuser' } });
      expect(created.statusCode).toBe(201);
      expect((await r.call('POST', tokens, { headers: session.writeHeaders, body: {} })).statusCode).toBe(201);
      expect((await r.call('GET', tokens, { headers: session.headers })).statusCode).toBe(200);
      const revoked = await r.call('DELETE', `${tokens}/{id}`, { headers: session.writeHeaders, params: { id: created.json().id } });
      expect(revoked.statusCode).toBe(204);
      expect(r.problems).toEqual([]);
    });

    it('accounts, credit changes and the auth routes answer the documented shapes', async () => {
      const r = recorder();
      expect((await r.call('GET', '/api/v1/accounts')).statusCode).toBe(200);
      expect((await r.call('GET', '/api/v1/accounts', { headers: session.headers })).statusCode).toBe(200);
      expect((await r.call('GET', '/api/v1/accounts/{account}')).statusCode).toBe(200);
      const patch = {
        description: 'Boutique en ligne',
        timezone: 'Europe/Paris',
        defaultCountry: 'FR',
        storeText: true,
        redactAfterDays: 365,
        retentionDays: null,
        callbackUrl: 'https://example.com/account-status',
      };
      const patched = await r.call('PATCH', '/api/v1/accounts/{account}', { headers: session.writeHeaders, body: patch });
      expect(patched.statusCode).toBe(200);
      expect(patched.json()).toMatchObject(patch);
      expect((await r.call('GET', '/api/v1/accounts/{account}/credit-changes', { query: { limit: '5' } })).statusCode).toBe(200);
      expect((await r.call('GET', '/api/v1/auth/me', { headers: session.headers })).statusCode).toBe(200);
      const signedIn = await r.call('POST', '/api/v1/auth/sign-in', {
        headers: {},
        body: { email: owner.customer.email, password: owner.password },
        remoteAddress: '10.1.2.3',
      });
      expect(signedIn.statusCode).toBe(200);
      const cookie = signedIn.cookies.find((c) => c.name === 'relais_session')!;
      const out = await r.call('POST', '/api/v1/auth/sign-out', {
        headers: { cookie: `relais_session=${cookie.value}`, 'x-csrf-token': signedIn.json().csrfToken },
      });
      expect(out.statusCode).toBe(204);
      expect(r.problems).toEqual([]);
    });

    it("the customer's OVH API keys: applications, consumer keys and a consumer key request answer the documented shapes", async () => {
      const r = recorder();
      const apps = '/api/v1/ovh/applications';
      const created = await r.call('POST', apps, { headers: session.writeHeaders, body: { name: 'CRM', description: 'notre CRM' } });
      expect(created.statusCode).toBe(201);
      const { id, appKey } = created.json();
      const key = await r.call('POST', `${apps}/{id}/credentials`, {
        headers: session.writeHeaders,
        params: { id },
        body: { rules: [{ method: 'GET', path: '/sms/*' }], validity: 3600, allowedIps: ['192.0.2.0/24'] },
      });
      expect(key.statusCode).toBe(201);
      expect((await r.call('GET', apps, { headers: session.headers })).statusCode).toBe(200);
      expect((await r.call('GET', '/api/v1/ovh/credentials', { headers: session.headers })).statusCode).toBe(200);
      for (const decision of ['validate', 'refuse']) {
        const asked = await ctx.app.inject({
          method: 'POST',
          url: '/1.0/auth/credential',
          headers: { 'x-ovh-application': appKey },
          payload: { accessRules: [{ method: 'POST', path: '/sms/*' }], redirection: 'https://example.com/back' },
        });
        expect(asked.statusCode).toBe(200);
        const token = new URL(asked.json().validationUrl).searchParams.get('credentialToken')!;
        const requests = '/api/v1/ovh/credential-requests/{token}';
        expect((await r.call('GET', requests, { headers: session.headers, params: { token } })).statusCode).toBe(200);
        const body = decision === 'validate' ? { validity: null } : undefined;
        expect(
          (await r.call('POST', `${requests}/${decision}`, { headers: session.writeHeaders, params: { token }, body })).statusCode,
        ).toBe(200);
      }
      const revoked = await r.call('DELETE', '/api/v1/ovh/credentials/{id}', {
        headers: session.writeHeaders,
        params: { id: key.json().id },
      });
      expect(revoked.statusCode).toBe(204);
      expect((await r.call('DELETE', `${apps}/{id}`, { headers: session.writeHeaders, params: { id } })).statusCode).toBe(204);
      expect(r.problems).toEqual([]);
    });

    it('deletion by ids and redaction answer the documented shape', async () => {
      const r = recorder();
      const ids = await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: owner.account.id, status: 'pending', tag: 'del' }),
        buildOutgoing({ account_id: owner.account.id, status: 'delivered', tag: 'del' }),
        buildOutgoing({ account_id: owner.account.id, status: 'delivered', tag: 'redact' }),
      ]);
      const deleted = await r.call('POST', `${OUTGOING}/delete`, { body: { ids: [ids[0], ids[1], 999_999_999] } });
      expect(deleted.json()).toEqual({ deleted: 2, refundedCredits: 1 });
      const redacted = await r.call('POST', `${OUTGOING}/redact`, { body: { ids: [ids[2]] } });
      expect(redacted.json()).toEqual({ redacted: 1, pending: [] });
      expect((await r.call('GET', `${OUTGOING}/{id}`, { params: { id: ids[2] } })).json().message).toBeNull();
      const audit = await r.call('GET', '/api/v1/accounts/{account}/deletions');
      expect(audit.json().data.map((e: { kind: string }) => e.kind)).toEqual(expect.arrayContaining(['ids', 'redact']));
      expect(r.problems).toEqual([]);
    });

    it('deletion by filter: the synchronous answer, the 202 job and its progress answer the documented shapes', async () => {
      const r = recorder();
      const bulk = await seedCustomerWithAccount(ctx.app);
      await insertOutgoing(
        ctx.database,
        Array.from({ length: 5_002 }, () => buildOutgoing({ account_id: bulk.account.id, status: 'delivered', tag: 'bulk' })),
      );
      await insertOutgoing(ctx.database, [buildOutgoing({ account_id: bulk.account.id, status: 'failed', tag: 'small' })]);
      const params = { account: bulk.account.name };
      const small = await r.call('POST', `${OUTGOING}/delete`, { headers: bulk.auth, params, body: { filter: { tag: 'small' } } });
      expect(small.json()).toEqual({ deleted: 1 });
      const large = await r.call('POST', `${OUTGOING}/delete`, {
        headers: bulk.auth,
        params,
        body: { filter: { tag: 'bulk', status: 'delivered' } },
      });
      expect(large.statusCode).toBe(202);
      const jobId = large.json().job.id;
      expect(
        (await r.call('GET', `${OUTGOING}/delete-jobs/{id}`, { headers: bulk.auth, params: { ...params, id: jobId } })).statusCode,
      ).toBe(200);
      await ctx.app.services.history.waitForDeleteJob(jobId);
      const done = await r.call('GET', `${OUTGOING}/delete-jobs/{id}`, { headers: bulk.auth, params: { ...params, id: jobId } });
      expect(done.json()).toMatchObject({ status: 'done', deleted: 5_002, total: 5_002, error: null });
      const audit = await r.call('GET', '/api/v1/accounts/{account}/deletions', { headers: bulk.auth, params });
      expect(audit.json().data.find((e: { deleteJobId: number | null }) => e.deleteJobId === jobId)?.filter).toMatchObject({
        tag: 'bulk',
        status: 'delivered',
      });
      expect(r.problems).toEqual([]);
    });

    it('DELETE /outgoing/{id} answers a status the document gives', async () => {
      const r = recorder();
      const [id] = await insertOutgoing(ctx.database, [buildOutgoing({ account_id: owner.account.id, status: 'pending' })]);
      const res = await r.call('DELETE', `${OUTGOING}/{id}`, { params: { id } });
      expect(res.statusCode).toBe(204);
      expect(r.problems).toEqual([]);
    });

    // --- Errors -------------------------------------------------------------------------------

    /** Drives one answer of every error status the native API gives, each from the route a client would call. */
    async function provokeErrors(r: ReturnType<typeof recorder>): Promise<{ res: LightMyRequestResponse; what: string }[]> {
      const app = ctx.app;
      const poor = await seedCustomerWithAccount(app, { account: { credits: 0 } });
      await createSender(app, poor.account, { sender: 'Relais' });
      const disabled = await seedCustomerWithAccount(app);
      await createSender(app, disabled.account, { sender: 'Relais' });
      await app.services.accounts.update(SYSTEM_ACTOR, disabled.account.name, { status: 'disable' });
      const fenced = await createSmsUser(app, account, { ipRestrictions: ['192.0.2.1'] });
      const fencedToken = await createToken(app, account, { user: fenced.login });
      const jobs = '/api/v1/accounts/{account}/jobs';
      const job = { message: 'Bonjour', receivers: ['+33612345678'], sender: 'Relais' };
      const answers: { res: LightMyRequestResponse; what: string }[] = [];
      const note = async (what: string, answer: Promise<LightMyRequestResponse>) => answers.push({ what, res: await answer });

      await note('no credentials', r.call('GET', OUTGOING, { headers: {} }));
      await note('a wrong token', r.call('GET', OUTGOING, { headers: bearer('rls_not-a-token') }));
      await note(
        'a wrong password',
        r.call('POST', '/api/v1/auth/sign-in', { headers: {}, body: { email: owner.customer.email, password: 'wrong password' } }),
      );
      await note(
        'no X-CSRF-Token',
        r.call('POST', '/api/v1/accounts/{account}/senders', { headers: session.headers, body: { sender: 'Csrf' } }),
      );
      await note('an SMS user reading the audit', r.call('GET', '/api/v1/accounts/{account}/deletions', { headers: bearer(userToken) }));
      await note('outside the IP restrictions', r.call('GET', OUTGOING, { headers: bearer(fencedToken) }));
      await note(
        'a disabled account',
        r.call('POST', jobs, { headers: disabled.auth, params: { account: disabled.account.name }, body: job }),
      );
      await note('no credits', r.call('POST', jobs, { headers: poor.auth, params: { account: poor.account.name }, body: job }));
      await note('an unknown account', r.call('GET', OUTGOING, { params: { account: 'sms-zz99999-9' } }));
      await note('an unknown message', r.call('GET', `${OUTGOING}/{id}`, { params: { id: 999_999_999 } }));
      await note('an unknown delete job', r.call('GET', `${OUTGOING}/delete-jobs/{id}`, { params: { id: 999_999 } }));
      await note('an unknown user', r.call('GET', '/api/v1/accounts/{account}/users/{login}', { params: { login: 'nobody' } }));
      await note(
        'an unknown sender',
        r.call('PATCH', '/api/v1/accounts/{account}/senders/{sender}', { params: { sender: 'Nobody' }, body: {} }),
      );
      await note(
        'an unknown token',
        r.call('DELETE', '/api/v1/accounts/{account}/tokens/{id}', { headers: session.writeHeaders, params: { id: 999_999 } }),
      );
      await note('an existing login', r.call('POST', '/api/v1/accounts/{account}/users', { body: { login: 'apiuser' } }));
      await note('an existing sender', r.call('POST', '/api/v1/accounts/{account}/senders', { body: { sender: 'Relais' } }));
      await note('a missing message', r.call('POST', jobs, { body: { receivers: ['+33612345678'], sender: 'Relais' } }));
      await note('no valid receiver', r.call('POST', jobs, { body: { ...job, receivers: ['hello'] } }));
      await note('an unknown sender in a job', r.call('POST', jobs, { body: { ...job, sender: 'Inconnu' } }));
      await note('an unknown sort', r.call('GET', OUTGOING, { query: { sort: 'colour' } }));
      await note('a forged cursor', r.call('GET', OUTGOING, { query: { cursor: 'abc' } }));
      await note('an unknown status', r.call('GET', OUTGOING, { query: { status: 'lost' } }));
      await note('limit 0', r.call('GET', OUTGOING, { query: { limit: '0' } }));
      await note(
        '1,001 ids',
        r.call('GET', `${OUTGOING}/count`, { query: { ids: Array.from({ length: 1001 }, (_, i) => String(i + 1)).join(',') } }),
      );
      await note(
        '500 days of statistics',
        r.call('GET', '/api/v1/accounts/{account}/stats', { query: { from: '2023-01-01', to: '2024-06-01' } }),
      );
      await note('neither ids nor filter', r.call('POST', `${OUTGOING}/delete`, { body: {} }));
      await note(
        'a body over 16 MB',
        r.call('POST', jobs, {
          headers: { ...owner.auth, 'content-type': 'application/json' },
          payload: `{"message":"${'a'.repeat(17 * 1024 * 1024)}"}`,
        }),
      );
      await note('an XML body', r.call('POST', jobs, { headers: { ...owner.auth, 'content-type': 'application/xml' }, payload: '<job/>' }));
      await note(
        'broken JSON',
        r.call('POST', jobs, { headers: { ...owner.auth, 'content-type': 'application/json' }, payload: '{"message":' }),
      );
      // Sign-in failures from one address beyond SIGN_IN_FAILURES_PER_CLIENT (10): 429.
      let limited: LightMyRequestResponse | undefined;
      for (let i = 0; i < 12 && limited?.statusCode !== 429; i++) {
        limited = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/auth/sign-in',
          payload: { email: `nobody-${i}@example.com`, password: 'guess guess' },
          remoteAddress: '10.66.66.66',
        });
      }
      r.problems.push(...answerProblems(doc, limited!, 'POST', '/api/v1/auth/sign-in'));
      answers.push({ what: 'too many failed sign-ins', res: limited! });
      return answers;
    }

    it('error answers carry the catalogue shape { error: { code, message } } and the status the catalogue gives their code', async () => {
      const answers = await provokeErrors(recorder());
      const statuses = new Set(answers.map((a) => a.res.statusCode));
      for (const status of [400, 401, 402, 403, 404, 409, 413, 429]) expect(statuses.has(status), String(status)).toBe(true);
      const problems: string[] = [];
      for (const { what, res } of answers) {
        if (res.statusCode < 400) {
          problems.push(`${what}: answered ${res.statusCode}`);
          continue;
        }
        const errors = schemaErrors(ERROR_BODY, res.json());
        if (errors.length) problems.push(`${what}: ${errors.join('; ')}`);
        const code = res.json().error?.code as ErrorCode;
        if (HTTP_STATUS[code] !== res.statusCode)
          problems.push(`${what}: ${code} answered with ${res.statusCode}, the catalogue says ${HTTP_STATUS[code]}`);
      }
      expect(problems).toEqual([]);
    });

    it('documents every error status a route answers, with the error schema', async () => {
      const r = recorder();
      await provokeErrors(r);
      // One line per (operation, status) is enough to show it.
      expect([...new Set(r.problems.map((p) => p.replace(/:.*/, '')))]).toEqual([]);
    });

    it("sends error answers exactly as the error handler builds them, the services' own codes and sentences included", async () => {
      const r = recorder();
      const answers = await provokeErrors(r);
      // A rule the document gives but a service checks answers that service's code and sentence (not the validator's).
      const own: [Method, string, Record<string, string | string[]>, unknown, ErrorCode, string | RegExp][] = [
        ['GET', OUTGOING, { sort: 'colour' }, undefined, 'INVALID_SORT', /^cannot sort by "colour" \(sortable: date, /],
        ['GET', OUTGOING, { sort: ' é\u0001"' }, undefined, 'INVALID_SORT', 'cannot sort by "é\u0001"" (sortable: '],
        ['GET', OUTGOING, { tag: 'x'.repeat(501) }, undefined, 'INVALID_FILTER', 'tag is too long (at most 500 characters)'],
        [
          'GET',
          OUTGOING,
          { ids: Array.from({ length: 1001 }, (_, i) => String(i + 1)) },
          undefined,
          'TOO_MANY_IDS',
          /^ids may list at most 1000/,
        ],
        ['POST', `${OUTGOING}/redact`, {}, { ids: Array.from({ length: 10_001 }, (_, i) => i + 1) }, 'TOO_MANY_IDS', /^at most 10000 ids/],
        ['POST', `${OUTGOING}/delete`, {}, {}, 'VALIDATION_FAILED', 'give either "ids" or "filter"'],
        [
          'POST',
          '/api/v1/accounts/{account}/jobs',
          {},
          { message: 'Bonjour', receivers: ['+33612345678'] },
          'INVALID_SENDER',
          /^sender is missing/,
        ],
      ];
      for (const [method, template, query, body, code, message] of own) {
        const res = await r.call(method, template, { query, body });
        answers.push({ what: `${method} ${template} ${JSON.stringify(query).slice(0, 60)}`, res });
        expect(res.json().error.code, JSON.stringify(query).slice(0, 60)).toBe(code);
        expect(res.json().error.message).toMatch(message);
      }
      const xml = answers.find((a) => a.what === 'an XML body')!.res;
      expect([xml.statusCode, xml.json().error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
      // The response schemas of the errors (4XX, 5XX) drop nothing and change no byte: what JSON.stringify gives.
      for (const { what, res } of answers) {
        const { code, message } = res.json().error;
        expect(res.body, what).toBe(JSON.stringify({ error: { code, message } }));
        expect(res.headers['content-type'], what).toBe('application/json; charset=utf-8');
      }
      expect(r.problems).toEqual([]);
    });

    it('gives every operation a stable camelCase operationId (the method names of generated clients)', () => {
      const ids = Object.fromEntries(allOperations(doc).map(({ method, path, op }) => [`${method} ${path}`, op.operationId]));
      const a = '/api/v1/accounts/{account}';
      expect(ids).toEqual({
        'POST /api/v1/auth/sign-in': 'signIn',
        'POST /api/v1/auth/sign-out': 'signOut',
        'GET /api/v1/auth/me': 'getMe',
        'GET /api/v1/accounts': 'listAccounts',
        [`GET ${a}`]: 'getAccount',
        [`PATCH ${a}`]: 'updateAccount',
        [`GET ${a}/credit-changes`]: 'listCreditChanges',
        [`GET ${a}/users`]: 'listUsers',
        [`POST ${a}/users`]: 'createUser',
        [`GET ${a}/users/{login}`]: 'getUser',
        [`PATCH ${a}/users/{login}`]: 'updateUser',
        [`DELETE ${a}/users/{login}`]: 'deleteUser',
        [`GET ${a}/senders`]: 'listSenders',
        [`POST ${a}/senders`]: 'createSender',
        [`GET ${a}/senders/{sender}`]: 'getSender',
        [`PATCH ${a}/senders/{sender}`]: 'updateSender',
        [`DELETE ${a}/senders/{sender}`]: 'deleteSender',
        [`GET ${a}/tokens`]: 'listTokens',
        [`POST ${a}/tokens`]: 'createToken',
        [`DELETE ${a}/tokens/{id}`]: 'revokeToken',
        [`GET ${a}/outgoing`]: 'listOutgoing',
        [`GET ${a}/outgoing/count`]: 'countOutgoing',
        [`GET ${a}/outgoing/users`]: 'listOutgoingUsers',
        [`GET ${a}/outgoing/{id}`]: 'getOutgoing',
        [`DELETE ${a}/outgoing/{id}`]: 'deleteOutgoing',
        [`POST ${a}/outgoing/delete`]: 'deleteOutgoingMany',
        [`POST ${a}/outgoing/redact`]: 'redactOutgoing',
        [`GET ${a}/outgoing/delete-jobs/{id}`]: 'getDeleteJob',
        [`GET ${a}/deletions`]: 'listDeletions',
        [`GET ${a}/outgoing.csv`]: 'exportOutgoingCsv',
        [`GET ${a}/outgoing.jsonl`]: 'exportOutgoingJsonl',
        [`GET ${a}/stats`]: 'getStats',
        [`POST ${a}/jobs`]: 'createJob',
        'GET /api/v1/ovh/applications': 'listOvhApplications',
        'POST /api/v1/ovh/applications': 'createOvhApplication',
        'DELETE /api/v1/ovh/applications/{id}': 'deleteOvhApplication',
        'POST /api/v1/ovh/applications/{id}/credentials': 'createOvhCredential',
        'GET /api/v1/ovh/credentials': 'listOvhCredentials',
        'DELETE /api/v1/ovh/credentials/{id}': 'revokeOvhCredential',
        'GET /api/v1/ovh/credential-requests/{token}': 'getOvhCredentialRequest',
        'POST /api/v1/ovh/credential-requests/{token}/validate': 'validateOvhCredentialRequest',
        'POST /api/v1/ovh/credential-requests/{token}/refuse': 'refuseOvhCredentialRequest',
      });
      for (const id of Object.values(ids)) expect(id).toMatch(/^[a-z][a-zA-Z0-9]*$/);
    });

    // --- Requests: what the document says is valid is what the server accepts --------------------

    // (Changed from the first review, which sent { message, receivers } to /jobs and {} to /outgoing/delete as
    // "minimal": the contract refuses both, INVALID_SENDER without a sender or senderForResponse (README), and
    // VALIDATION_FAILED without ids or filter. The document now says so (anyOf / oneOf), so the test checks
    // that the document and the server agree both ways.)
    it('accepts a body holding only the fields the document requires, and the document refuses what the server refuses', async () => {
      const r = recorder();
      const [redactable, deletable] = await insertOutgoing(ctx.database, [
        buildOutgoing({ account_id: owner.account.id, status: 'delivered' }),
        buildOutgoing({ account_id: owner.account.id, status: 'delivered' }),
      ]);
      const jobs = '/api/v1/accounts/{account}/jobs';
      const text = { message: 'Bonjour', receivers: ['+33612345678'] };
      const bodySchema = (method: Method, template: string) =>
        deref(doc, operationOf(doc, method, template)!.requestBody!.content['application/json'].schema!) as object;
      const minimal: [Method, string, unknown, Record<string, string>?][] = [
        ['POST', jobs, { ...text, sender: 'Relais' }],
        ['POST', jobs, { ...text, senderForResponse: true }],
        ['POST', `${OUTGOING}/delete`, { ids: [deletable] }],
        ['POST', `${OUTGOING}/delete`, { filter: { tag: 'nothing-here' } }],
        ['POST', `${OUTGOING}/redact`, { ids: [redactable] }],
        ['POST', '/api/v1/accounts/{account}/users', { login: 'minimal' }],
        ['POST', '/api/v1/accounts/{account}/senders', { sender: 'Minimal' }],
        ['POST', '/api/v1/accounts/{account}/tokens', {}, session.writeHeaders],
        ['PATCH', '/api/v1/accounts/{account}', {}, session.writeHeaders],
        ['POST', '/api/v1/ovh/applications', { name: 'minimal' }, session.writeHeaders],
      ];
      const refused: string[] = [];
      for (const [method, template, body, headers] of minimal) {
        expect(
          schemaErrors(bodySchema(method, template), body),
          `${method} ${template}: the document accepts ${JSON.stringify(body)}`,
        ).toEqual([]);
        const res = await r.call(method, template, { body, headers });
        if (res.statusCode >= 400)
          refused.push(`${method} ${template} ${JSON.stringify(body)} → ${res.statusCode} ${res.json().error.code}`);
      }
      expect(refused).toEqual([]);
      // What the contract refuses, the document refuses too, and the server answers the code it always gave.
      const invalid: [string, unknown, ErrorCode][] = [
        [jobs, text, 'INVALID_SENDER'],
        [jobs, { ...text, senderForResponse: false }, 'INVALID_SENDER'],
        [`${OUTGOING}/delete`, {}, 'VALIDATION_FAILED'],
        [`${OUTGOING}/delete`, { ids: [deletable], filter: { tag: 'nothing-here' } }, 'VALIDATION_FAILED'],
      ];
      for (const [template, body, code] of invalid) {
        expect(schemaErrors(bodySchema('POST', template), body), `the document refuses ${JSON.stringify(body)}`).not.toEqual([]);
        const res = await r.call('POST', template, { body });
        expect(res.json().error.code, `POST ${template} ${JSON.stringify(body)}`).toBe(code);
      }
      expect(r.problems).toEqual([]);
    });

    it('lists as enums the words the server takes and gives: statuses, channels, priorities, codings, classes', async () => {
      const outgoing = doc.paths[`${OUTGOING}/{id}`].get.responses['200'].content!['application/json'].schema!;
      const row = deref(doc, outgoing) as { properties: Record<string, { enum?: string[] }> };
      expect(row.properties.status.enum).toEqual([...OUTGOING_STATUSES]);
      expect(row.properties.channel.enum).toEqual([...CHANNELS]);
      const stats = deref(doc, doc.paths['/api/v1/accounts/{account}/stats'].get.responses['200'].content!['application/json'].schema) as {
        properties: { days: { items: { properties: Record<string, unknown> } } };
      };
      expect(Object.keys(stats.properties.days.items.properties).sort()).toEqual(['day', ...OUTGOING_STATUSES].sort());
      const query = doc.paths[OUTGOING].get.parameters!;
      for (const word of OUTGOING_STATUSES) expect(query.find((p) => p.name === 'status')!.description).toContain(word);
      for (const word of CHANNELS) expect(query.find((p) => p.name === 'channel')!.description).toContain(word);
      // The server takes every word the document lists.
      const r = recorder();
      for (const status of OUTGOING_STATUSES)
        expect((await r.call('GET', `${OUTGOING}/count`, { query: { status } })).statusCode).toBe(200);
      for (const channel of CHANNELS) expect((await r.call('GET', `${OUTGOING}/count`, { query: { channel } })).statusCode).toBe(200);
      const jobBody = deref(doc, doc.paths['/api/v1/accounts/{account}/jobs'].post.requestBody!.content['application/json'].schema) as {
        properties: Record<string, { anyOf?: { enum: string[] }[] }>;
      };
      for (const field of ['priority', 'coding', 'class']) {
        for (const value of jobBody.properties[field].anyOf!.flatMap((b) => b.enum)) {
          const body = { message: 'Bonjour', receivers: ['+33612345678'], sender: 'Relais', [field]: value };
          expect((await r.call('POST', '/api/v1/accounts/{account}/jobs', { body })).statusCode, `${field}=${value}`).toBe(200);
        }
      }
      expect(r.problems).toEqual([]);
    });

    it('documents the sort keys the server accepts, and only those', async () => {
      const sortParameter = doc.paths[OUTGOING].get.parameters!.find((p) => p.name === 'sort')!;
      const documented = sortParameter.schema!;
      const accepted = Object.keys(SORT_COLUMNS).flatMap((k) => [k, `+${k}`, `-${k}`]);
      for (const sort of accepted) {
        const res = await ctx.app.inject({ url: `/api/v1/accounts/${account}/outgoing`, query: { sort, limit: '1' }, headers: owner.auth });
        expect(res.statusCode, sort).toBe(200);
        expect(schemaErrors(documented, sort), `the document refuses sort=${sort}`).toEqual([]);
      }
      const refused = await ctx.app.inject({ url: `/api/v1/accounts/${account}/outgoing`, query: { sort: 'colour' }, headers: owner.auth });
      expect(refused.json().error.code).toBe('INVALID_SORT');
      expect(schemaErrors(documented, 'colour'), 'the document accepts sort=colour, which the server refuses').not.toEqual([]);
    });

    it('lists as enums the closed sets of words the answers carry: encoding, account status, audit kind', () => {
      const json = (path: string, method: string, status = '200') =>
        deref(doc, doc.paths[path][method].responses[status].content!['application/json'].schema) as SchemaObject;
      const row = json(`${OUTGOING}/{id}`, 'get') as { properties: Record<string, SchemaObject> };
      const report = json('/api/v1/accounts/{account}/jobs', 'post') as { properties: Record<string, SchemaObject> };
      const accountSchema = json('/api/v1/accounts/{account}', 'get') as { properties: Record<string, SchemaObject> };
      const audit = json('/api/v1/accounts/{account}/deletions', 'get') as {
        properties: { data: { items: { properties: Record<string, SchemaObject> } } };
      };
      expect({
        'Outgoing.encoding': row.properties.encoding.enum,
        'SendReport.encoding': report.properties.encoding.enum,
        'Account.status': accountSchema.properties.status.enum,
        'Audit.kind': audit.properties.data.items.properties.kind.enum,
      }).toEqual({
        'Outgoing.encoding': [...ENCODINGS],
        'SendReport.encoding': [...ENCODINGS],
        'Account.status': ['enable', 'disable'],
        'Audit.kind': ['ids', 'filter', 'redact'],
      });
    });

    it('documents the page limits as the server enforces them: limit 1–1000, 100,000 receivers', async () => {
      const r = recorder();
      for (const template of [OUTGOING, '/api/v1/accounts/{account}/deletions', '/api/v1/accounts/{account}/credit-changes']) {
        const limit = doc.paths[template].get.parameters!.find((p) => p.name === 'limit')!.schema!;
        expect(limit, template).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000 });
        expect((await r.call('GET', template, { query: { limit: '1000' } })).statusCode, template).toBe(200);
        expect((await r.call('GET', template, { query: { limit: '1001' } })).statusCode, template).toBe(400);
      }
      const job = deref(doc, doc.paths['/api/v1/accounts/{account}/jobs'].post.requestBody!.content['application/json'].schema) as {
        properties: { receivers: SchemaObject; message: SchemaObject; tag: SchemaObject };
        required: string[];
      };
      expect(job.properties.receivers).toMatchObject({ minItems: 1, maxItems: 100_000 });
      expect(job.properties.message).toMatchObject({ maxLength: 5_000 });
      expect(job.properties.tag).toMatchObject({ maxLength: 64 });
      expect(job.required).toEqual(expect.arrayContaining(['message', 'receivers']));
      const tooMany = Array.from({ length: 100_001 }, (_, i) => `+336${String(10_000_000 + i)}`);
      const res = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${account}/jobs`,
        headers: owner.auth,
        payload: { message: 'Bonjour', receivers: tooMany, sender: 'Relais' },
      });
      expect(res.statusCode).toBe(400);
    });

    it('documents the id-list limits the server enforces: 10,000 ids to delete or redact, 1,000 ids in a filter', async () => {
      const body = (path: string) =>
        deref(doc, doc.paths[path].post.requestBody!.content['application/json'].schema) as { properties: { ids: SchemaObject } };
      const ids = (n: number) => Array.from({ length: n }, (_, i) => 900_000_000 + i);
      // The server: 10,000 pass, 10,001 are refused.
      const post = (path: string, n: number) =>
        ctx.app.inject({
          method: 'POST',
          url: `/api/v1/accounts/${account}/outgoing/${path}`,
          headers: owner.auth,
          payload: { ids: ids(n) },
        });
      expect((await post('delete', 10_000)).statusCode).toBe(200);
      expect((await post('delete', 10_001)).json().error.code).toBe('TOO_MANY_IDS');
      expect((await post('redact', 10_001)).json().error.code).toBe('TOO_MANY_IDS');
      const listed = await ctx.app.inject({
        url: `/api/v1/accounts/${account}/outgoing`,
        query: { ids: ids(1001).join(',') },
        headers: owner.auth,
      });
      expect(listed.json().error.code).toBe('TOO_MANY_IDS');
      // The document.
      const queryIds = doc.paths[OUTGOING].get.parameters!.find((p) => p.name === 'ids')!.schema!;
      expect({
        'delete ids': body(`${OUTGOING}/delete`).properties.ids.maxItems,
        'redact ids': body(`${OUTGOING}/redact`).properties.ids.maxItems,
        'query ids': queryIds.maxItems,
      }).toEqual({ 'delete ids': 10_000, 'redact ids': 10_000, 'query ids': 1_000 });
    });

    it('documents the length limit of the filter texts the server enforces (500 characters)', async () => {
      const receiver = `+33${'6'.repeat(498)}`;
      const res = await ctx.app.inject({ url: `/api/v1/accounts/${account}/outgoing`, query: { receiver }, headers: owner.auth });
      expect(res.json().error.code).toBe('INVALID_FILTER');
      const parameters = doc.paths[OUTGOING].get.parameters!;
      const undocumented = ['user', 'channel', 'sender', 'receiver', 'status', 'tag', 'from', 'to', 'q']
        .map((name) => parameters.find((p) => p.name === name)!)
        .filter((p) => schemaErrors(p.schema!, receiver).length === 0)
        .map((p) => p.name);
      expect(undocumented).toEqual([]);
    });

    // --- Serialization: nothing promised is dropped --------------------------------------------

    it('serializes every field the contracts promise (no field dropped by the response schemas)', async () => {
      const app = ctx.app;
      const list = await app.inject({ url: `/api/v1/accounts/${account}/outgoing`, query: { limit: '3' }, headers: owner.auth });
      expect(Object.keys(list.json()).sort()).toEqual(PAGE_KEYS);
      const rows = list.json().data as Record<string, unknown>[];
      for (const row of rows) expect(Object.keys(row).sort()).toEqual(PUBLIC_OUTGOING_KEYS);
      // The JSON lines export writes its records by hand: the list must carry the same fields and values.
      const jsonl = await app.inject({ url: `/api/v1/accounts/${account}/outgoing.jsonl`, query: { limit: '3' }, headers: owner.auth });
      expect(
        jsonl.body
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l)),
      ).toEqual(rows);
      const one = await app.inject({ url: `/api/v1/accounts/${account}/outgoing/${rows[0].id}`, headers: owner.auth });
      expect(one.json()).toEqual(rows[0]);

      const job = await app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${account}/jobs`,
        headers: owner.auth,
        payload: { message: 'Bonjour 😀', receivers: ['+33612345678'], sender: 'Relais' },
      });
      expect(Object.keys(job.json()).sort()).toEqual(SEND_REPORT_KEYS);
      expect(job.json()).toMatchObject({ encoding: 'ucs2', parts: 1 });

      const stats = await app.inject({
        url: `/api/v1/accounts/${account}/stats`,
        query: { from: '2024-05-01', to: '2024-05-02' },
        headers: owner.auth,
      });
      expect(Object.keys(stats.json()).sort()).toEqual(STATS_KEYS);
      expect(Object.keys(stats.json().days[0]).sort()).toEqual(['day', ...OUTGOING_STATUSES].sort());

      await app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${account}/outgoing/delete`,
        headers: owner.auth,
        payload: { filter: { tag: 'nothing-here' } },
      });
      const audit = await app.inject({ url: `/api/v1/accounts/${account}/deletions`, headers: owner.auth });
      for (const entry of audit.json().data) expect(Object.keys(entry).sort()).toEqual(AUDIT_KEYS);

      const me = await app.inject({ url: '/api/v1/auth/me', headers: session.headers });
      expect(Object.keys(me.json()).sort()).toEqual(['accounts', 'csrfToken', 'customer', 'httpsPort', 'stopClause']);
      const user = await app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${account}/users`,
        headers: owner.auth,
        payload: { login: 'generated' },
      });
      expect(user.json().password).toEqual(expect.any(String));
      const renewed = await app.inject({
        method: 'PATCH',
        url: `/api/v1/accounts/${account}/users/generated`,
        headers: owner.auth,
        payload: { generatePassword: true },
      });
      expect(renewed.json().password).toEqual(expect.any(String));
      const token = await app.inject({
        method: 'POST',
        url: `/api/v1/accounts/${account}/tokens`,
        headers: session.writeHeaders,
        payload: { name: 'x' },
      });
      expect(token.json().token).toMatch(/^rls_/);
      const ovhApp = await app.inject({
        method: 'POST',
        url: '/api/v1/ovh/applications',
        headers: session.writeHeaders,
        payload: { name: 'y' },
      });
      expect(ovhApp.json().appSecret).toEqual(expect.any(String));
    });
  },
  { config: fastAuthConfig },
);
