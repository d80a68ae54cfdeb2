import type { Kysely } from 'kysely';
import type { DB, OvhApplicationRow, OvhCredentialRow } from '../../db/schema.js';
import type { AccessRule } from './ovh-signature.js';

/** An OVH application as listed (its secret is never stored: see deriveApplicationSecret). */
export interface OvhApplication {
  id: number;
  customerId: number;
  appKey: string;
  name: string;
  description: string;
  /** secretCheck (ovh-signature.ts) of the server secret it was made with. */
  secretCheck: string;
  createdAt: number;
}

export type OvhCredentialStatus = 'pendingValidation' | 'validated' | 'refused';

/** A consumer key as listed (never the key nor its hash). */
export interface OvhCredential {
  id: number;
  applicationId: number;
  application: { name: string; description: string; appKey: string; customerId: number };
  customerId: number | null;
  status: OvhCredentialStatus;
  rules: AccessRule[];
  allowedIps: string[] | null;
  redirection: string | null;
  createdAt: number;
  validatedAt: number | null;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

type CredentialRow = Omit<OvhCredentialRow, 'id' | 'key_hash' | 'validation_hash' | 'lookup'> & {
  id: number;
  app_name: string;
  app_description: string;
  app_key: string;
  app_customer_id: number;
};

function toCredential(row: CredentialRow): OvhCredential {
  return {
    id: row.id,
    applicationId: row.application_id,
    application: { name: row.app_name, description: row.app_description, appKey: row.app_key, customerId: row.app_customer_id },
    customerId: row.customer_id,
    status: row.status as OvhCredentialStatus,
    rules: JSON.parse(row.rules) as AccessRule[],
    allowedIps: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
    redirection: row.redirection,
    createdAt: row.created_at,
    validatedAt: row.validated_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
  };
}

const APPLICATION_COLUMNS = ['id', 'customer_id', 'app_key', 'name', 'description', 'secret_check', 'created_at'] as const;

function toApplication(row: Omit<OvhApplicationRow, 'id'> & { id: number }): OvhApplication {
  return {
    id: row.id,
    customerId: row.customer_id,
    appKey: row.app_key,
    name: row.name,
    description: row.description,
    secretCheck: row.secret_check,
    createdAt: row.created_at,
  };
}

/** The `ovh_applications` and `ovh_credentials` tables. */
export function createOvhKeysRepository(db: Kysely<DB>) {
  const selectCredentials = () =>
    db
      .selectFrom('ovh_credentials as c')
      .innerJoin('ovh_applications as a', 'a.id', 'c.application_id')
      .select([
        'c.id',
        'c.application_id',
        'c.customer_id',
        'c.status',
        'c.rules',
        'c.allowed_ips',
        'c.redirection',
        'c.created_at',
        'c.validated_at',
        'c.expires_at',
        'c.last_used_at',
        'a.name as app_name',
        'a.description as app_description',
        'a.app_key',
        'a.customer_id as app_customer_id',
      ]);

  return {
    async insertApplication(input: Omit<OvhApplication, 'id'>): Promise<OvhApplication> {
      const row = await db
        .insertInto('ovh_applications')
        .values({
          customer_id: input.customerId,
          app_key: input.appKey,
          name: input.name,
          description: input.description,
          secret_check: input.secretCheck,
          created_at: input.createdAt,
        })
        .returning(APPLICATION_COLUMNS)
        .executeTakeFirstOrThrow();
      return toApplication(row);
    },

    /** The newest application of any customer (to check that a server secret is the one in use). */
    async latestApplication(): Promise<OvhApplication | undefined> {
      const row = await db.selectFrom('ovh_applications').select(APPLICATION_COLUMNS).orderBy('id', 'desc').limit(1).executeTakeFirst();
      return row && toApplication(row);
    },

    async findApplicationByKey(appKey: string): Promise<OvhApplication | undefined> {
      const row = await db.selectFrom('ovh_applications').select(APPLICATION_COLUMNS).where('app_key', '=', appKey).executeTakeFirst();
      return row && toApplication(row);
    },

    async findApplication(customerId: number, id: number): Promise<OvhApplication | undefined> {
      const row = await db
        .selectFrom('ovh_applications')
        .select(APPLICATION_COLUMNS)
        .where('customer_id', '=', customerId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row && toApplication(row);
    },

    /** A customer's applications, oldest first, each with its number of validated consumer keys. */
    async listApplications(customerId: number): Promise<Array<OvhApplication & { credentials: number }>> {
      const rows = await db
        .selectFrom('ovh_applications as a')
        .select(['a.id', 'a.customer_id', 'a.app_key', 'a.name', 'a.description', 'a.secret_check', 'a.created_at'])
        .select((eb) =>
          eb
            .selectFrom('ovh_credentials as c')
            .whereRef('c.application_id', '=', 'a.id')
            .where('c.status', '=', 'validated')
            .select((e) => e.fn.countAll<number | string>().as('n'))
            .as('credentials'),
        )
        .where('a.customer_id', '=', customerId)
        .orderBy('a.id')
        .execute();
      return rows.map((row) => ({ ...toApplication(row), credentials: Number(row.credentials ?? 0) }));
    },

    /** Deletes an application and (cascade) its consumer keys; false when it was not the customer's. */
    async deleteApplication(customerId: number, id: number): Promise<boolean> {
      await db
        .deleteFrom('ovh_credentials')
        .where('application_id', '=', id)
        .where((eb) => eb.exists(eb.selectFrom('ovh_applications').select('id').where('id', '=', id).where('customer_id', '=', customerId)))
        .execute();
      const result = await db.deleteFrom('ovh_applications').where('customer_id', '=', customerId).where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async insertCredential(
      input: Pick<
        OvhCredential,
        'applicationId' | 'customerId' | 'status' | 'rules' | 'allowedIps' | 'redirection' | 'createdAt' | 'validatedAt' | 'expiresAt'
      > & { lookup: string; keyHash: string; validationHash: string },
    ): Promise<number> {
      const row = await db
        .insertInto('ovh_credentials')
        .values({
          application_id: input.applicationId,
          customer_id: input.customerId,
          lookup: input.lookup,
          key_hash: input.keyHash,
          validation_hash: input.validationHash,
          status: input.status,
          rules: JSON.stringify(input.rules),
          allowed_ips: input.allowedIps === null ? null : JSON.stringify(input.allowedIps),
          redirection: input.redirection,
          created_at: input.createdAt,
          validated_at: input.validatedAt,
          expires_at: input.expiresAt,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    /** The consumer key whose first characters are `lookup`, with its hash (for verification only). */
    async findForVerification(lookup: string): Promise<{ credential: OvhCredential; keyHash: string } | undefined> {
      const row = await selectCredentials().select('c.key_hash').where('c.lookup', '=', lookup).executeTakeFirst();
      return row && { credential: toCredential(row), keyHash: row.key_hash };
    },

    /** The consumer key `id` with its hash: read again to see a revocation or expiry by another process. */
    async findByIdForVerification(id: number): Promise<{ credential: OvhCredential; keyHash: string } | undefined> {
      const row = await selectCredentials().select('c.key_hash').where('c.id', '=', id).executeTakeFirst();
      return row && { credential: toCredential(row), keyHash: row.key_hash };
    },

    async findByValidationHash(validationHash: string): Promise<OvhCredential | undefined> {
      const row = await selectCredentials().where('c.validation_hash', '=', validationHash).executeTakeFirst();
      return row && toCredential(row);
    },

    /** Validates or refuses a pending consumer key; false when it was no longer pending (a second click, another tab). */
    async decide(
      id: number,
      decision: { status: 'validated'; customerId: number; validatedAt: number; expiresAt: number | null } | { status: 'refused' },
    ): Promise<boolean> {
      const result = await db
        .updateTable('ovh_credentials')
        .set(
          decision.status === 'validated'
            ? {
                status: 'validated',
                customer_id: decision.customerId,
                validated_at: decision.validatedAt,
                expires_at: decision.expiresAt,
              }
            : { status: 'refused' },
        )
        .where('id', '=', id)
        .where('status', '=', 'pendingValidation')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    /** The consumer keys validated by a customer, newest first. */
    async listCredentials(customerId: number): Promise<OvhCredential[]> {
      const rows = await selectCredentials()
        .where('c.customer_id', '=', customerId)
        .where('c.status', '=', 'validated')
        .orderBy('c.id', 'desc')
        .execute();
      return rows.map(toCredential);
    },

    /** Revokes (deletes) a consumer key the customer validated; false when there is none. */
    async deleteCredential(customerId: number, id: number): Promise<boolean> {
      const result = await db.deleteFrom('ovh_credentials').where('id', '=', id).where('customer_id', '=', customerId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    /** Forgets the requests never validated (pending or refused) made before `before`; answers how many. */
    async purgeUnvalidated(before: number): Promise<number> {
      const result = await db
        .deleteFrom('ovh_credentials')
        .where('status', '!=', 'validated')
        .where('created_at', '<', before)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async markUsed(id: number, at: number): Promise<void> {
      await db.updateTable('ovh_credentials').set({ last_used_at: at }).where('id', '=', id).execute();
    },
  };
}

export type OvhKeysRepository = ReturnType<typeof createOvhKeysRepository>;
