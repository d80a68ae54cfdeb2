import smpp from 'smpp';

// The `smpp` package, made safe against the bytes a peer (an SMSC, a customer's program) can send.
// Import it from here, never from 'smpp' directly, so these apply in every process that speaks SMPP.

const internals = smpp as unknown as {
  filters?: { time?: { decode?: (value: unknown) => unknown } };
  PDU: { commandLength?: (stream: unknown) => number | false; prototype: { fromBuffer?: (buffer: Buffer) => unknown } };
};

// An SMPP time the package cannot read (`1R`, a relative time too short) made it throw while decoding the
// PDU: the connection was then dropped (and an SMSC delivering such a receipt again dropped it again). It
// is an invalid date instead: the SMPP server refuses it with the field's status, the carrier ignores it.
const time = internals.filters?.time;
const decodeTime = time?.decode;
if (time && typeof decodeTime === 'function') {
  time.decode = function (this: unknown, value: unknown) {
    try {
      return decodeTime.call(this, value);
    } catch {
      return new Date(Number.NaN);
    }
  };
}

// A command_length under 16 (the header's size) made the package read a negative length and wait for
// ever: the connection stayed open but deaf. It is a decoding error now, and the connection is closed.
const commandLength = internals.PDU.commandLength;
if (typeof commandLength === 'function') {
  internals.PDU.commandLength = function (this: unknown, stream: unknown) {
    const length = commandLength.call(this, stream);
    if (length !== false && length < 16) throw new Error(`PDU length was too small (${length}, at least 16)`);
    return length;
  };
}

// The package decodes a PDU's fields as it sees fit (data_coding 1 read as GSM 03.38, an octet it cannot
// map read as a space, an SMPP time it half reads, sm_length ignored): the bytes a PDU was read from are
// kept for the commands it reads (submit_sm, data_sm, submit_multi), so that the SMPP server can read a
// customer's submit itself, strictly (`pduBytes`).
const bytesOf = new WeakMap<object, Buffer>();
const KEPT_COMMANDS = new Set([0x00000004, 0x00000103, 0x00000021]);
const fromBuffer = internals.PDU.prototype.fromBuffer;
if (typeof fromBuffer === 'function') {
  internals.PDU.prototype.fromBuffer = function (this: object, buffer: Buffer) {
    if (buffer.length >= 8 && KEPT_COMMANDS.has(buffer.readUInt32BE(4))) bytesOf.set(this, buffer);
    return fromBuffer.call(this, buffer);
  };
}

/** The bytes (header included) a submit_sm, data_sm or submit_multi was decoded from; undefined for any other PDU, or one made here. */
export function pduBytes(pdu: object): Buffer | undefined {
  return bytesOf.get(pdu);
}

export default smpp;
