import { EventEmitter } from "node:events";
import createDebug from "debug";
import { setOwn, toBuffer } from "./binary";
import { CLIENT_RESERVED_EVENTS, PacketType, type Packet, type Reviver } from "./types";

const debug = createDebug("switchyard:parser");

export interface DecoderOptions {
  /** Passed to JSON.parse for every payload. */
  reviver?: Reviver;
  /** Most attachments a binary packet may announce (default 10). */
  maxAttachments?: number;
}

/** Digits an ack id may have: every id up to Number.MAX_SAFE_INTEGER fits. */
const MAX_ID_DIGITS = 16;
/** Digits an attachment count may have before it is refused as absurd. */
const MAX_COUNT_DIGITS = 6;

const TYPE_NAMES = [
  "CONNECT",
  "DISCONNECT",
  "EVENT",
  "ACK",
  "CONNECT_ERROR",
  "BINARY_EVENT",
  "BINARY_ACK",
];

/** Own keys a CONNECT / CONNECT_ERROR object must not define (they shadow Object.prototype). */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(Object.prototype),
  "prototype",
]);

const hasOwn = Object.prototype.hasOwnProperty;

type Container = Record<string, unknown> | unknown[];

/** Where a placeholder sits, to put its attachment there once it has arrived. */
interface Slot {
  parent: Container;
  key: string | number;
  num: number;
}

interface Pending {
  packet: Packet;
  expected: number;
  slots: Slot[];
  buffers: Buffer[];
}

/** @internal Where a decoder hands its packets directly, instead of emitting "decoded". */
export interface DecodedSink {
  _ondecoded(packet: Packet): void;
}

class ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ParseError";
  }
}

/**
 * Decodes Socket.IO v5 frames into packets and emits each complete packet as
 * "decoded". Binary packets are emitted once all their attachments arrived, as
 * EVENT / ACK (as socket.io-parser does) with Buffers in place of placeholders.
 * Any invalid input makes `add` throw an Error; the caller closes the connection.
 */
export class Decoder extends EventEmitter {
  private readonly reviver: Reviver | undefined;
  private readonly maxAttachments: number;
  private pending: Pending | null = null;
  /** @internal Receives the packets instead of "decoded" listeners, when set. */
  _sink: DecodedSink | null = null;

  constructor(opts?: DecoderOptions | Reviver) {
    super();
    const options: DecoderOptions = typeof opts === "function" ? { reviver: opts } : (opts ?? {});
    this.reviver = options.reviver;
    const max = options.maxAttachments ?? 10;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new TypeError(`maxAttachments must be a non-negative integer, got ${String(max)}`);
    }
    this.maxAttachments = max;
  }

  /** Feeds one frame: a packet string, or one attachment of the binary packet in progress. */
  add(chunk: string | Buffer | ArrayBuffer | ArrayBufferView): void {
    if (typeof chunk === "string") {
      if (this.pending !== null) {
        const { expected, buffers } = this.pending;
        this.pending = null;
        throw new ParseError(
          `got a text packet while waiting for binary attachments (${buffers.length} of ${expected} received)`,
        );
      }
      const packet = this.decodeString(chunk);
      if (packet.attachments !== undefined) return;
      if (debug.enabled) debug("decoded %s as %j", chunk, packet);
      this.deliver(packet);
    } else if (ArrayBuffer.isView(chunk) || chunk instanceof ArrayBuffer) {
      const pending = this.pending;
      if (pending === null)
        throw new ParseError("got binary data when no binary packet was announced");
      pending.buffers.push(toBuffer(chunk));
      if (pending.buffers.length < pending.expected) return;
      this.pending = null;
      const packet = pending.packet;
      for (const slot of pending.slots) {
        const buffer = pending.buffers[slot.num];
        if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = buffer;
        else setOwn(slot.parent, slot.key as string, buffer);
      }
      packet.type = packet.type === PacketType.BINARY_EVENT ? PacketType.EVENT : PacketType.ACK;
      delete packet.attachments;
      if (debug.enabled) debug("decoded binary packet with %d attachment(s)", pending.expected);
      this.deliver(packet);
    } else {
      this.pending = null;
      throw new ParseError(`cannot decode a chunk of type ${describe(chunk)}`);
    }
  }

  /**
   * @internal Decodes one chunk for `sink`, on a decoder shared by every connection that is not in the middle of
   * a binary packet (a connection then holds no decoder of its own). When the chunk announces attachments, the
   * packet in progress moves to a new decoder, returned, which the connection keeps until they have arrived.
   */
  _decodeFor(
    sink: DecodedSink,
    chunk: string | Buffer | ArrayBuffer | ArrayBufferView,
  ): Decoder | undefined {
    this._sink = sink;
    try {
      this.add(chunk);
    } catch (err) {
      this.pending = null;
      throw err;
    } finally {
      this._sink = null;
    }
    const pending = this.pending;
    if (pending === null) return undefined;
    this.pending = null;
    const own = new Decoder({ reviver: this.reviver, maxAttachments: this.maxAttachments });
    own.pending = pending;
    own._sink = sink;
    return own;
  }

  /** @internal Whether a binary packet is waiting for attachments. */
  get _waiting(): boolean {
    return this.pending !== null;
  }

  private deliver(packet: Packet): void {
    const sink = this._sink;
    if (sink !== null) sink._ondecoded(packet);
    else this.emit("decoded", packet);
  }

  /** Drops a binary packet still waiting for attachments. */
  destroy(): void {
    this.pending = null;
  }

  private decodeString(str: string): Packet {
    const len = str.length;
    if (len === 0) throw new ParseError("unknown packet type: empty packet");
    const type = str.charCodeAt(0) - 48;
    if (type < 0 || type > 6)
      throw new ParseError(`unknown packet type ${JSON.stringify(str.charAt(0))}`);
    const name = TYPE_NAMES[type];
    let i = 1;

    let attachments: number | undefined;
    if (type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK) {
      const start = i;
      while (i < len && isDigit(str.charCodeAt(i))) i++;
      if (i === start || str.charCodeAt(i) !== 45 /* - */) {
        throw new ParseError(`Illegal attachments: ${name} must start with "<count>-"`);
      }
      if (i - start > MAX_COUNT_DIGITS)
        throw new ParseError(`too many attachments (max ${this.maxAttachments})`);
      attachments = Number(str.slice(start, i));
      if (attachments < 1)
        throw new ParseError(`Illegal attachments: ${name} announces ${attachments}`);
      if (attachments > this.maxAttachments) {
        throw new ParseError(
          `too many attachments: ${attachments} announced, max ${this.maxAttachments}`,
        );
      }
      i++;
    }

    let nsp = "/";
    if (str.charCodeAt(i) === 47 /* / */) {
      const comma = str.indexOf(",", i);
      const end = comma === -1 ? len : comma;
      nsp = str.slice(i, end);
      checkNamespace(nsp);
      i = comma === -1 ? len : comma + 1;
    }

    let id: number | undefined;
    if (i < len && isDigit(str.charCodeAt(i))) {
      const start = i;
      while (i < len && isDigit(str.charCodeAt(i))) i++;
      if (i - start > MAX_ID_DIGITS)
        throw new ParseError(`invalid ack id: more than ${MAX_ID_DIGITS} digits`);
      id = Number(str.slice(start, i));
      if (!Number.isSafeInteger(id))
        throw new ParseError(`invalid ack id: ${id} is not a safe integer`);
      if (
        type !== PacketType.EVENT &&
        type !== PacketType.ACK &&
        type !== PacketType.BINARY_EVENT &&
        type !== PacketType.BINARY_ACK
      ) {
        throw new ParseError(`invalid payload: a ${name} packet has no ack id`);
      }
    }

    let data: unknown;
    const hasData = i < len;
    if (hasData) {
      try {
        data = JSON.parse(str.slice(i), this.reviver);
      } catch (err) {
        throw new ParseError(
          `invalid payload: ${err instanceof Error ? err.message : "JSON.parse failed"}`,
        );
      }
    }
    checkPayload(type, hasData, data, id);

    const packet: Packet = { type, nsp };
    if (id !== undefined) packet.id = id;
    if (hasData) packet.data = data;
    if (attachments !== undefined) {
      packet.attachments = attachments;
      this.pending = {
        packet,
        expected: attachments,
        slots: findPlaceholders(data as unknown[], attachments),
        buffers: [],
      };
    }
    return packet;
  }
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return Object.prototype.toString.call(value).slice(8, -1);
  return typeof value;
}

function checkNamespace(nsp: string): void {
  for (let j = 1; j < nsp.length; j++) {
    const c = nsp.charCodeAt(j);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      throw new ParseError(
        `invalid namespace: control character U+${c.toString(16).padStart(4, "0")}`,
      );
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = nsp.charCodeAt(j + 1);
      if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff))
        throw new ParseError("invalid namespace: lone surrogate");
      j++;
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkNoPrototypeKeys(name: string, value: Record<string, unknown>): void {
  for (const key of Object.keys(value)) {
    if (PROTOTYPE_KEYS.has(key))
      throw new ParseError(`invalid payload: ${name} object must not define "${key}"`);
  }
}

function checkPayload(
  type: PacketType,
  hasData: boolean,
  data: unknown,
  id: number | undefined,
): void {
  switch (type) {
    case PacketType.CONNECT:
      if (!hasData) return;
      if (!isPlainObject(data))
        throw new ParseError(
          `invalid payload: CONNECT payload must be an object, got ${describe(data)}`,
        );
      checkNoPrototypeKeys("CONNECT", data);
      return;
    case PacketType.DISCONNECT:
      if (hasData) throw new ParseError("invalid payload: a DISCONNECT packet has no payload");
      return;
    case PacketType.CONNECT_ERROR:
      if (typeof data === "string") return;
      if (!isPlainObject(data)) {
        throw new ParseError(
          `invalid payload: CONNECT_ERROR payload must be a string or an object, got ${hasData ? describe(data) : "nothing"}`,
        );
      }
      checkNoPrototypeKeys("CONNECT_ERROR", data);
      return;
    case PacketType.EVENT:
    case PacketType.BINARY_EVENT: {
      if (!Array.isArray(data) || data.length === 0) {
        throw new ParseError(
          `invalid payload: event payload must be a non-empty array, got ${hasData ? describe(data) : "nothing"}`,
        );
      }
      const event: unknown = data[0];
      if (typeof event === "string") {
        if (CLIENT_RESERVED_EVENTS.has(event))
          throw new ParseError(`invalid payload: "${event}" is a reserved event name`);
      } else if (typeof event !== "number") {
        throw new ParseError(
          `invalid payload: event name must be a string or a number, got ${describe(event)}`,
        );
      }
      return;
    }
    case PacketType.ACK:
    case PacketType.BINARY_ACK:
      if (id === undefined) throw new ParseError("invalid payload: an ACK packet needs an ack id");
      if (!Array.isArray(data))
        throw new ParseError(
          `invalid payload: ACK payload must be an array, got ${hasData ? describe(data) : "nothing"}`,
        );
      return;
  }
}

/**
 * Finds and validates every placeholder of a binary packet's data (walked
 * without recursion, so any nesting depth is fine).
 */
function findPlaceholders(data: unknown[], attachments: number): Slot[] {
  const slots: Slot[] = [];
  const stack: Container[] = [data];
  let container: Container | undefined;
  while ((container = stack.pop()) !== undefined) {
    if (Array.isArray(container)) {
      for (let k = 0; k < container.length; k++) visit(container, k, container[k]);
    } else {
      for (const k of Object.keys(container)) visit(container, k, container[k]);
    }
  }
  return slots;

  function visit(parent: Container, key: string | number, value: unknown): void {
    if (typeof value !== "object" || value === null) return;
    if (Array.isArray(value)) {
      stack.push(value);
      return;
    }
    const obj = value as Record<string, unknown>;
    if (hasOwn.call(obj, "_placeholder") && obj._placeholder === true) {
      slots.push({ parent, key, num: checkPlaceholder(obj, attachments) });
    } else {
      stack.push(obj);
    }
  }
}

function checkPlaceholder(obj: Record<string, unknown>, attachments: number): number {
  const keys = Object.keys(obj);
  if (keys.length !== 2 || !hasOwn.call(obj, "num")) {
    throw new ParseError(
      `illegal attachments: a placeholder has exactly the keys _placeholder and num, got ${keys.join(", ")}`,
    );
  }
  const num = obj.num;
  if (typeof num !== "number" || !Number.isInteger(num) || num < 0 || num >= attachments) {
    throw new ParseError(
      `illegal attachments: placeholder num ${JSON.stringify(num)} is not an integer in [0, ${attachments - 1}]`,
    );
  }
  return num;
}
