import { describe, expect, it } from 'vitest';
import { systemClock } from '../../clock.js';
import type { ClaimedMessage, DispatchOutcome, SettleResult } from './dispatch.repository.js';
import { manualCarrier, memoryLog, waitFor } from './dispatch-testing.js';
import { createDispatcher, type DispatcherDeps } from './dispatcher.service.js';

// What a crash can send twice: the parts handed to the carrier whose outcome is not committed yet.
// The dispatcher keeps them within the carrier's window, until the commit, not only until the answer.

const claimed = (id: number, text: string): ClaimedMessage => ({
  id,
  sender: 'Relais',
  receiver: '+33612345678',
  text,
  encoding: 'gsm7',
  messageClass: null,
  validUntil: null,
  attempts: 0,
  status: 'pending',
});

describe('dispatcher: parts submitted and not yet recorded', () => {
  it('stay within the carrier window until their outcome is committed', async () => {
    // Message 1 has two parts, the others one.
    const queue = [claimed(1, 'x'.repeat(200)), ...[2, 3, 4, 5, 6].map((id) => claimed(id, 'Hello'))];
    const commits: { outcomes: readonly DispatchOutcome[]; commit: () => void }[] = [];
    const repository: DispatcherDeps['repository'] = {
      claim: async (_owner, _now, limit) => queue.splice(0, limit),
      settle: (_owner, batch) =>
        new Promise<SettleResult>((resolve) => {
          const outcomes = batch.outcomes ?? [];
          commits.push({
            outcomes,
            commit: () => resolve({ recorded: outcomes.map(() => true), parked: [], messages: [], callbacks: 0 }),
          });
        }),
      extendLeases: async () => 0,
      sweepEarlyReceipts: async () => ({ applied: 0, dropped: 0 }),
      expireUnconfirmed: async () => ({ expired: 0, partsDropped: 0 }),
    };
    // The carrier itself would take everything at once; its declared window is 3 parts.
    const manual = manualCarrier();
    Object.defineProperty(manual.carrier, 'window', { value: 3 });
    const written = (n: number) => () => commits.flatMap((c) => c.outcomes).length === n;
    const dispatcher = createDispatcher({
      repository,
      carrier: manual.carrier,
      clock: systemClock,
      owner: 'o',
      log: memoryLog().log,
      pollMs: 5,
    });
    await dispatcher.start();
    try {
      await waitFor(() => manual.pending.length === 2, 'two messages (three parts) submitted');
      expect(manual.pending.map((p) => p.message.id)).toEqual([1, 2]);

      // Answered by the carrier, not yet committed: still nothing more is submitted.
      manual.acceptAll('c');
      await waitFor(written(2), 'the outcomes written');
      await new Promise((r) => setTimeout(r, 50));
      expect(manual.pending).toEqual([]);

      // Committed: the next three go.
      for (const c of commits.splice(0)) c.commit();
      await waitFor(() => manual.pending.length === 3, 'three more submitted');
      expect(manual.pending.map((p) => p.message.id)).toEqual([3, 4, 5]);
      manual.acceptAll('c');
      await waitFor(written(3), 'the outcomes written');
      for (const c of commits.splice(0)) c.commit();
      await waitFor(() => manual.pending.length === 1, 'the last one submitted');
      manual.acceptAll('c');
      await waitFor(written(1), 'the outcome written');
      for (const c of commits.splice(0)) c.commit();
    } finally {
      await dispatcher.stop(1000);
    }
  });
});
