/**
 * Socket.IO protocol v5 packet types, shared by the encoder and the decoder.
 * The shapes match socket.io-parser 4.2 so that a custom parser of that shape
 * (for example socket.io-msgpack-parser) can be swapped in.
 */

/** Socket.IO protocol revision implemented here. */
export const protocol = 5;

export enum PacketType {
  CONNECT = 0,
  DISCONNECT = 1,
  EVENT = 2,
  ACK = 3,
  CONNECT_ERROR = 4,
  BINARY_EVENT = 5,
  BINARY_ACK = 6,
}

export interface Packet {
  type: PacketType;
  nsp: string;
  data?: unknown;
  id?: number;
  attachments?: number;
}

/** Same signature as JSON.stringify's replacer function. */
export type Replacer = (this: unknown, key: string, value: unknown) => unknown;

/** Same signature as JSON.parse's reviver function. */
export type Reviver = (this: unknown, key: string, value: unknown) => unknown;

/**
 * Event names socket.io reserves: the server refuses to `emit` them
 * (`"connect" is a reserved event name`).
 */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "disconnecting",
  "newListener",
  "removeListener",
]);

/**
 * Event names the decoder refuses when they arrive from a client: the reserved
 * names plus "error" (emitting "error" on a server-side EventEmitter without an
 * error listener throws, which crashed older servers).
 */
export const CLIENT_RESERVED_EVENTS: ReadonlySet<string> = new Set([...RESERVED_EVENTS, "error"]);
