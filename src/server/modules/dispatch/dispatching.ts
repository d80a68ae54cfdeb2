import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../../clock.js';
import { type Carrier, createCarrier } from '../carriers/carrier.js';
import type { CallbacksRepository } from './callbacks.repository.js';
import { type CallbacksWorker, createCallbacksWorker } from './callbacks.service.js';
import type { DispatchRepository } from './dispatch.repository.js';
import { createDispatcher, type Dispatcher, type DispatchLog } from './dispatcher.service.js';

/** A lease owner unique to this process: host, pid and a random part (a restarted process is a new owner). */
export function processOwner(role: string): string {
  return `${hostname()}/${process.pid}/${role}/${randomBytes(4).toString('hex')}`;
}

export interface Dispatching {
  carrier: Carrier;
  dispatcher: Dispatcher;
  callbacks: CallbacksWorker;
  /** Graceful: stops claiming, waits a few seconds for submits in flight, closes the carrier, stops the callbacks. */
  stop(): Promise<void>;
}

/**
 * The `dispatcher` service of a process (RELAIS_SERVICES): the carrier named by `carrierSpec`
 * (RELAIS_CARRIER), the dispatcher woken by every accepted job, and the callbacks worker woken by
 * every queued callback.
 */
export async function startDispatching(args: {
  carrierSpec: string;
  services: {
    dispatch: DispatchRepository;
    callbacks: CallbacksRepository;
    onAccepted(listener: () => void): () => void;
    /**
     * `callbackPrivate`: whether callbacks may reach loopback and private addresses (RELAIS_CALLBACK_PRIVATE);
     * `dispatchLeaseMs`: how long a claim lasts without renewal (RELAIS_DISPATCH_LEASE_MS).
     */
    config?: { callbackPrivate?: boolean; dispatchLeaseMs?: number };
  };
  clock: Clock;
  log: DispatchLog;
  stopTimeoutMs?: number;
}): Promise<Dispatching> {
  const { services, clock, log } = args;
  const carrier = createCarrier(args.carrierSpec, { clock, log });
  const callbacks = createCallbacksWorker({
    repository: services.callbacks,
    clock,
    owner: processOwner('callbacks'),
    log,
    allowPrivate: services.config?.callbackPrivate ?? false,
  });
  const dispatcher = createDispatcher({
    repository: services.dispatch,
    carrier,
    clock,
    owner: processOwner('dispatcher'),
    log,
    ...(services.config?.dispatchLeaseMs === undefined ? {} : { leaseMs: services.config.dispatchLeaseMs }),
    onCallbacksQueued: () => callbacks.wake(),
  });
  const unsubscribe = services.onAccepted(() => dispatcher.wake());
  callbacks.start();
  await dispatcher.start();
  const timeout = args.stopTimeoutMs ?? 5000;
  return {
    carrier,
    dispatcher,
    callbacks,
    async stop() {
      unsubscribe();
      await dispatcher.stop(timeout);
      await carrier.close();
      await callbacks.stop(timeout);
    },
  };
}
