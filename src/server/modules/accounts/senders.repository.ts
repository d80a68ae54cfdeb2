import type { Kysely, Selectable } from 'kysely';
import type { DB, SenderRow } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { isUniqueViolation } from './accounts.repository.js';

/** Sender statuses (OVH's words). Only `enable` senders may be used to send. */
export const SENDER_STATUSES = ['enable', 'disable', 'refused', 'waitingValidation'] as const;
export type SenderStatus = (typeof SENDER_STATUSES)[number];

/**
 * Sender types (OVH's words), derived from the value: `alpha` up to 11 characters, `shortcode` a short
 * number (4 to 6 digits, no `+`), `numeric` a phone number. (OVH's fourth, `virtual`, is a number it rents
 * out: Relais has none.)
 */
export type SenderType = 'alpha' | 'numeric' | 'shortcode';

/** A short number (`36180`): 4 to 6 digits, without `+`. */
export function isShortCode(value: string): boolean {
  return /^\d{4,6}$/.test(value);
}

/** A `from` value an account may use. */
export interface Sender {
  id: number;
  accountId: number;
  sender: string;
  description: string;
  status: SenderStatus;
  type: SenderType;
  createdAt: number;
}

const COLUMNS = ['id', 'account_id', 'sender', 'description', 'status', 'type', 'created_at'] as const;

type Row = Pick<Selectable<SenderRow>, (typeof COLUMNS)[number]>;

function toSender(row: Row): Sender {
  return {
    id: row.id,
    accountId: row.account_id,
    sender: row.sender,
    description: row.description,
    status: row.status as SenderStatus,
    // A short number stored before shortcodes had their type was stored as numeric.
    type: row.type === 'numeric' && isShortCode(row.sender) ? 'shortcode' : (row.type as SenderType),
    createdAt: row.created_at,
  };
}

/** The `senders` table. */
export function createSendersRepository(db: Kysely<DB>) {
  const findById = async (id: number): Promise<Sender | undefined> => {
    const row = await db.selectFrom('senders').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toSender(row);
  };
  return {
    /** Throws SENDER_EXISTS when the account already has this sender. */
    async insert(input: Omit<Sender, 'id'>): Promise<Sender> {
      try {
        const row = await db
          .insertInto('senders')
          .values({
            account_id: input.accountId,
            sender: input.sender,
            description: input.description,
            status: input.status,
            type: input.type,
            created_at: input.createdAt,
          })
          .returning(COLUMNS)
          .executeTakeFirstOrThrow();
        return toSender(row);
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError('SENDER_EXISTS', `The sender ${input.sender} already exists in this account`);
        throw error;
      }
    },

    findById,

    async find(accountId: number, sender: string): Promise<Sender | undefined> {
      const row = await db
        .selectFrom('senders')
        .select(COLUMNS)
        .where('account_id', '=', accountId)
        .where('sender', '=', sender)
        .executeTakeFirst();
      return row && toSender(row);
    },

    /** The senders of an account, by value. */
    async list(accountId: number): Promise<Sender[]> {
      const rows = await db.selectFrom('senders').select(COLUMNS).where('account_id', '=', accountId).orderBy('sender').execute();
      return rows.map(toSender);
    },

    async update(id: number, patch: { description?: string; status?: SenderStatus }): Promise<Sender | undefined> {
      const set: Partial<Pick<SenderRow, 'description' | 'status'>> = {};
      if (patch.description !== undefined) set.description = patch.description;
      if (patch.status !== undefined) set.status = patch.status;
      if (Object.keys(set).length > 0) await db.updateTable('senders').set(set).where('id', '=', id).execute();
      return findById(id);
    },

    async delete(id: number): Promise<boolean> {
      const result = await db.deleteFrom('senders').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}

export type SendersRepository = ReturnType<typeof createSendersRepository>;
