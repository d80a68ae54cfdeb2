import smpp from 'smpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/server/clock.js';
import type { Dialect } from '../src/server/db/database.js';
import { composeServices } from '../src/server/services.js';
import { testConfig } from './app.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from './database.js';
import { createAccount, createSender, createSmsUser } from './factories.js';
import { freePort, killAllRelaisProcesses, type ReceiptPump, startReceiptPump, startRelaisProcess, waitUntil } from './relais-process.js';
import { SmppClient } from './smpp-client.js';
import { startTestSmsc, type TestSmsc } from './smsc.js';

// The SMPP server in a real `relais serve`: a program submits a stream of messages asking for receipts;
// the process is killed with SIGKILL in the middle and started again on the same database. Every
// submit_sm answered with an id is in the history, and its receipt reaches the program after the restart.
// The carrier is the test SMSC, whose receipts wait for a Relais to acknowledge them (as a real SMSC's
// do): the built-in simulator's receipts die with the process.

const PASSWORD = 'smpp-crash-2024';
/** submit_sm awaiting their answer at most. */
const OUTSTANDING = 50;
/** The kill comes once this many submits were answered. */
const KILL_AFTER = 300;

for (const dialect of DIALECTS) {
  describe(`relais serve with the smpp service, killed while a program submits [${dialect}]`, () => {
    let database: TestDatabase;
    let systemId: string;
    let smsc: TestSmsc;
    let pump: ReceiptPump;

    beforeAll(async () => {
      database = await createTestDatabase(dialect as Dialect);
      const services = composeServices({ config: testConfig(), database, clock: systemClock });
      const account = await createAccount(services, { credits: 1_000_000 });
      await createSender(services, account, { sender: 'Relais' });
      await createSmsUser(services, account, { login: 'program', password: PASSWORD });
      systemId = `${account.name}:program`;
      smsc = await startTestSmsc({ behaviour: { responseDelayMs: 2 } });
      pump = startReceiptPump(smsc);
    });
    afterAll(async () => {
      await killAllRelaisProcesses();
      pump?.stop();
      await smsc?.close();
      await database?.close();
    });

    it('keeps every answered message and sends its receipt after the restart; stops gracefully', async () => {
      const smppPort = await freePort();
      const start = () =>
        startRelaisProcess({
          databaseUrl: database.url,
          carrier: smsc.url('window=10&tps=0&enquire=0&reconnect_min=0.05&reconnect_max=0.5&timeout=10'),
          // Claims left by the killed process return after 3 s instead of 30.
          env: { RELAIS_SERVICES: 'smpp,dispatcher', RELAIS_SMPP_PORT: String(smppPort), RELAIS_DISPATCH_LEASE_MS: '3000' },
        });
      let server = await start();
      expect(server.output()).toContain(`SMPP      127.0.0.1:${smppPort}  (bind with system_id ACCOUNT:LOGIN of an SMS user)`);

      const program = await SmppClient.open(smppPort);
      expect((await program.request('bind_transceiver', { system_id: systemId, password: PASSWORD })).command_status).toBe(
        smpp.errors.ESME_ROK,
      );
      const answered = new Set<string>();
      let outstanding = 0;
      let next = 0;
      let stopped = false;
      const pump = () => {
        while (!stopped && outstanding < OUTSTANDING) {
          outstanding++;
          const n = next++;
          program
            .request('submit_sm', {
              source_addr: 'Relais',
              dest_addr_ton: 1,
              destination_addr: `336${String(10_000_000 + n)}`,
              short_message: `Message ${n}`,
              registered_delivery: 1,
            })
            .then((resp) => {
              if (resp.command_status === smpp.errors.ESME_ROK) answered.add(String(resp.message_id));
              outstanding--;
              pump();
            })
            .catch(() => {
              stopped = true;
            });
        }
      };
      pump();
      await waitUntil(() => answered.size >= KILL_AFTER, `${KILL_AFTER} answered submits`, 60_000);
      await server.kill();
      stopped = true;
      await program.closed();
      const ids = [...answered];

      // Every answered message is in the history, whatever state the kill left it in.
      const stored = await database.db.selectFrom('outgoing').select('id').where('id', 'in', ids.map(Number)).execute();
      expect(stored.length).toBe(ids.length);
      // Submits in flight at the kill were not answered: the program sends them again (or they are here unanswered).
      expect(next).toBeGreaterThan(ids.length);

      server = await start();
      const receiver = await SmppClient.open(smppPort);
      expect((await receiver.request('bind_receiver', { system_id: systemId, password: PASSWORD })).command_status).toBe(
        smpp.errors.ESME_ROK,
      );
      const receipted = () => new Set([...program.delivered, ...receiver.delivered].map((p) => String(p.receipted_message_id)));
      await waitUntil(() => ids.every((id) => receipted().has(id)), 'a receipt for every answered message', 60_000);
      for (const p of receiver.delivered)
        expect((p.short_message as { message: string }).message).toMatch(/ stat:DELIVRD err:000 text:Message \d+$/);

      await server.stop();
      await receiver.closed();
      await expect(SmppClient.open(smppPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    }, 180_000);
  });
}
