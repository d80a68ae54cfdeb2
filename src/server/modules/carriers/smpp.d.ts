// Types for the parts of the `smpp` package (farhadi/node-smpp 0.5, CommonJS, untyped) that Relais uses.
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer } from 'node:net';

  namespace smpp {
    type PduCallback = (pdu: PDU) => void;

    /** One PDU; decoded fields (mandatory and TLVs) are properties named as in the SMPP 3.4 spec. */
    class PDU {
      /** A new PDU of a command, or one decoded from a buffer. */
      constructor(command: string | Buffer, options?: Record<string, unknown>);
      toBuffer(): Buffer;
      command: string;
      command_id: number;
      command_status: number;
      sequence_number: number;
      message_id?: string;
      system_id?: string;
      password?: string;
      esm_class?: number;
      data_coding?: number | null;
      source_addr?: string;
      destination_addr?: string;
      short_message?: unknown;
      message_payload?: unknown;
      receipted_message_id?: string;
      message_state?: number;
      network_error_code?: Buffer;
      [field: string]: unknown;
      isResponse(): boolean;
      /** The response PDU to this request (generic_nack for an unknown command). */
      response(options?: Record<string, unknown>): PDU;
    }

    /** One SMPP connection, client side (`connect`) or server side (`createServer`). Emits `connect`, `pdu`, `<command>`, `error`, `close`. */
    class Session extends EventEmitter {
      socket: import('node:net').Socket;
      /** Writes a PDU (a request gets the next sequence number); false when the socket is not writable. */
      send(pdu: PDU, responseCallback?: PduCallback, sendCallback?: PduCallback): boolean;
      close(callback?: () => void): void;
      destroy(callback?: () => void): void;
      pause(): void;
      resume(): void;
      bind_transceiver(options: Record<string, unknown>, responseCallback?: PduCallback): boolean;
      bind_transmitter(options: Record<string, unknown>, responseCallback?: PduCallback): boolean;
      bind_receiver(options: Record<string, unknown>, responseCallback?: PduCallback): boolean;
      submit_sm(options: Record<string, unknown>, responseCallback?: PduCallback): boolean;
      deliver_sm(options: Record<string, unknown>, responseCallback?: PduCallback): boolean;
      enquire_link(options?: Record<string, unknown>, responseCallback?: PduCallback): boolean;
      unbind(options?: Record<string, unknown>, responseCallback?: PduCallback): boolean;
    }

    interface Server extends NetServer {
      sessions: Session[];
    }

    function connect(
      options: {
        host: string;
        port: number;
        /** SMPP over TLS; the other fields are tls.connect's (ca, servername…). */
        tls?: boolean;
        ca?: string;
        servername?: string;
        auto_enquire_link_period?: number;
      },
      listener?: () => void,
    ): Session;
    function createServer(options?: Record<string, unknown>, listener?: (session: Session) => void): Server;

    /** command_status values by name (ESME_ROK, ESME_RTHROTTLED, …). */
    const errors: Record<string, number>;
    /** GSM 03.38 coder (0 = default table). */
    const gsmCoder: {
      encode(text: string, table: number): Buffer;
      decode(bytes: Buffer, table: number): string;
    };
  }

  export = smpp;
}
