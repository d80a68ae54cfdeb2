import type { Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { checkOneLine, excerpt } from '../../input-text.js';
import { type AccountsService, type Actor, assertAllowed } from './accounts.service.js';
import {
  isShortCode,
  SENDER_STATUSES,
  type Sender,
  type SenderStatus,
  type SendersRepository,
  type SenderType,
} from './senders.repository.js';

/**
 * The type of a sender value, or undefined when it is not one: `shortcode` for a short number (4 to 6
 * digits, no `+`), `numeric` for another number of up to 15 digits (optionally with `+`), `alpha` for up
 * to 11 of `A-Z a-z 0-9 space . -` with at least one letter.
 */
export function senderTypeOf(value: string): SenderType | undefined {
  if (isShortCode(value)) return 'shortcode';
  if (/^\+?\d{1,15}$/.test(value)) return 'numeric';
  if (/^[A-Za-z0-9 .-]{1,11}$/.test(value) && /[A-Za-z]/.test(value) && value.trim() === value) return 'alpha';
  return undefined;
}

function checkStatus(status: string): SenderStatus {
  if (!(SENDER_STATUSES as readonly string[]).includes(status)) {
    throw new AppError('VALIDATION_FAILED', `Invalid sender status "${excerpt(status)}": expected one of ${SENDER_STATUSES.join(', ')}`);
  }
  return status as SenderStatus;
}

/**
 * What a customer (or its token, or an OVH key) may set: enable or disable its own senders. `refused` and
 * `waitingValidation` are the operator's decisions (`relais sender …`): a sender in either state stays
 * there until the operator says otherwise, and a refused one is not deleted to be added again.
 */
function checkCustomerStatus(actor: Actor, current: SenderStatus | null, wanted: SenderStatus | undefined): void {
  if (actor.kind === 'system') return;
  if (current === 'refused' || current === 'waitingValidation') {
    if (wanted !== undefined && wanted !== current)
      throw new AppError(
        'FORBIDDEN',
        `This sender is ${current === 'refused' ? 'refused' : 'awaiting validation'} by the operator: only the operator may change its status (relais sender update)`,
      );
  } else if (wanted === 'refused' || wanted === 'waitingValidation') {
    throw new AppError('FORBIDDEN', `Only the operator sets a sender to ${wanted}; choose enable or disable`);
  }
}

function checkDescription(description: string): string {
  if (description.length > 200) throw new AppError('VALIDATION_FAILED', 'The description must be at most 200 characters');
  return checkOneLine('The description', description);
}

/** The senders (`from` values) of an account. New senders are enabled: the operator is the validator here. */
export function createSendersService(deps: {
  senders: SendersRepository;
  accounts: AccountsService;
  clock: Clock;
  /** Called after an account's senders changed (sending forgets what it read of them). */
  onChanged?: (accountId: number) => void;
}) {
  const { senders, accounts, clock } = deps;

  async function getSender(actor: Actor, accountName: string, value: string, permission: 'senders:read' | 'senders:write') {
    const account = await accounts.getAccount(actor, accountName);
    assertAllowed(actor, permission);
    const sender = await senders.find(account.id, value);
    if (!sender) throw new AppError('SENDER_NOT_FOUND', `No sender "${excerpt(value)}" in ${account.name}`);
    return sender;
  }

  return {
    async list(actor: Actor, accountName: string): Promise<Sender[]> {
      const account = await accounts.getAccount(actor, accountName);
      assertAllowed(actor, 'senders:read');
      return senders.list(account.id);
    },

    async get(actor: Actor, accountName: string, value: string): Promise<Sender> {
      return getSender(actor, accountName, value, 'senders:read');
    },

    /** Adds a sender; throws INVALID_SENDER for a malformed value, SENDER_EXISTS for a duplicate. */
    async create(actor: Actor, accountName: string, input: { sender: string; description?: string; status?: string }): Promise<Sender> {
      const account = await accounts.getAccount(actor, accountName);
      assertAllowed(actor, 'senders:write');
      const type = senderTypeOf(input.sender);
      if (!type) {
        throw new AppError(
          'INVALID_SENDER',
          `Invalid sender "${excerpt(input.sender)}": up to 11 letters, digits, spaces, dots or dashes with at least one letter, or a number of up to 15 digits`,
        );
      }
      const created = await senders.insert({
        accountId: account.id,
        sender: input.sender,
        description: checkDescription(input.description ?? ''),
        status: (() => {
          const status = checkStatus(input.status ?? 'enable');
          checkCustomerStatus(actor, null, status);
          return status;
        })(),
        type,
        createdAt: clock.now(),
      });
      deps.onChanged?.(account.id);
      return created;
    },

    async update(actor: Actor, accountName: string, value: string, patch: { description?: string; status?: string }): Promise<Sender> {
      const sender = await getSender(actor, accountName, value, 'senders:write');
      const status = patch.status === undefined ? undefined : checkStatus(patch.status);
      checkCustomerStatus(actor, sender.status, status);
      const updated = await senders.update(sender.id, {
        description: patch.description === undefined ? undefined : checkDescription(patch.description),
        status,
      });
      deps.onChanged?.(sender.accountId);
      if (!updated) throw new AppError('SENDER_NOT_FOUND', `No sender "${excerpt(value)}"`);
      return updated;
    },

    async delete(actor: Actor, accountName: string, value: string): Promise<void> {
      const sender = await getSender(actor, accountName, value, 'senders:write');
      if (actor.kind !== 'system' && sender.status === 'refused')
        throw new AppError('FORBIDDEN', 'This sender was refused by the operator: only the operator may remove it');
      await senders.delete(sender.id);
      deps.onChanged?.(sender.accountId);
    },
  };
}

export type SendersService = ReturnType<typeof createSendersService>;
