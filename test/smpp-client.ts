import smpp from 'smpp';

/** An SMPP client on loopback (the `smpp` package), with promise-returning requests. */
export class SmppClient {
  readonly delivered: smpp.PDU[] = [];
  /** command_status to answer the next deliver_sm with (then ESME_ROK again). */
  refuseNextDeliver: number | null = null;
  private constructor(readonly session: smpp.Session) {
    session.on('deliver_sm', (pdu: smpp.PDU) => {
      this.delivered.push(pdu);
      const status = this.refuseNextDeliver ?? 0;
      this.refuseNextDeliver = null;
      session.send(pdu.response({ command_status: status }));
    });
    // The server ends the session (it is stopping): answered, then the connection closes.
    session.on('unbind', (pdu: smpp.PDU) => {
      session.send(pdu.response());
      session.close();
    });
    session.on('error', () => {});
  }

  /**
   * Connects to `port` on loopback, from `localAddress` (any 127.x address: per-address limits tell them
   * apart); over TLS with `tls`, checking the server's certificate against `tls.ca`.
   */
  static async open(port: number, localAddress = '127.0.0.1', host = '127.0.0.1', tls?: { ca: string }): Promise<SmppClient> {
    const session = await new Promise<smpp.Session>((resolve, reject) => {
      const options = { host, port, localAddress, ...(tls ? { tls: true, ca: tls.ca } : {}) };
      const s = smpp.connect(options as { host: string; port: number }, () => resolve(s));
      s.once('error', reject);
    });
    return new SmppClient(session);
  }

  request(command: string, fields: Record<string, unknown> = {}): Promise<smpp.PDU> {
    return new Promise((resolve, reject) => {
      const sent = (this.session as unknown as Record<string, (f: object, cb: (pdu: smpp.PDU) => void) => boolean>)[command].call(
        this.session,
        fields,
        resolve,
      );
      if (!sent) reject(new Error(`${command} not written: connection closed`));
    });
  }

  closed(): Promise<void> {
    return new Promise((resolve) => {
      if (this.session.socket.destroyed) resolve();
      else this.session.socket.once('close', () => resolve());
    });
  }

  close(): void {
    this.session.destroy();
  }
}

/** Closes these clients (emptying the list) and waits until each connection is gone. */
export async function closeClients(clients: SmppClient[]): Promise<void> {
  for (const c of clients.splice(0)) {
    c.close();
    await c.closed();
  }
}
