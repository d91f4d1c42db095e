/**
 * Engine.IO protocol v4 packets (the codec behind `EIO4` in protocol.ts): the seven packet types, their text form (type digit + data), the binary form
 * (a WebSocket binary frame carries a message's bytes as they are; polling carries them as "b" + base64), and the
 * polling payload (packets joined by the record separator \x1e).
 */
import { EngineErrorMessages } from "./errors";
import type { PreparedMessage } from "./prepared";

export type PacketType =
  "open" | "close" | "ping" | "pong" | "message" | "upgrade" | "noop" | "error";

export type RawData = string | Buffer;

export interface PacketOptions {
  /** Allow compression of this packet (polling `httpCompression`); default true. */
  compress?: boolean;
  /** A complete WebSocket frame built ahead of time (engine.io/socket.io-adapter compatibility). */
  wsPreEncodedFrame?: readonly Buffer[];
}

export interface Packet {
  type: PacketType;
  data?: RawData;
  options?: PacketOptions;
  /** Set when the packet was sent from a {@link PreparedMessage}: its cached encodings are used. */
  prepared?: PreparedMessage;
}

export const SEPARATOR = "\x1e";

const TYPE_CHARS: Readonly<Record<PacketType, string>> = {
  open: "0",
  close: "1",
  ping: "2",
  pong: "3",
  message: "4",
  upgrade: "5",
  noop: "6",
  error: "",
};

/** The packet type as its character code; 0 for "error", which has no type character. */
export const TYPE_CODES: Readonly<Record<PacketType, number>> = {
  open: 48,
  close: 49,
  ping: 50,
  pong: 51,
  message: 52,
  upgrade: 53,
  noop: 54,
  error: 0,
};

/** The packet type as its digit; "error", which has none, is written as a message (the text of an error reply). */
export const TYPE_DIGITS: Readonly<Record<PacketType, number>> = {
  open: 0,
  close: 1,
  ping: 2,
  pong: 3,
  message: 4,
  upgrade: 5,
  noop: 6,
  error: 4,
};

/** The packet types by their digit (0-6), the same in Engine.IO 3 and 4. */
export const TYPES_BY_CHAR: readonly PacketType[] = [
  "open",
  "close",
  "ping",
  "pong",
  "message",
  "upgrade",
  "noop",
];

const ERROR_PACKET: Packet = Object.freeze({
  type: "error",
  data: EngineErrorMessages.PARSER_ERROR,
}) as Packet;

/** The WebSocket form of a packet: a string for text frames, a Buffer for a binary message frame. */
export function encodeForWebSocket(packet: Packet): RawData {
  const data = packet.data;
  if (data === undefined) return TYPE_CHARS[packet.type];
  if (typeof data === "string") return TYPE_CHARS[packet.type] + data;
  return data;
}

/** The polling form of one packet (binary data becomes "b" + base64). */
export function encodeForPolling(packet: Packet): string {
  if (packet.prepared !== undefined) return packet.prepared.pollingPacket;
  const data = packet.data;
  if (data === undefined) return TYPE_CHARS[packet.type];
  if (typeof data === "string") return TYPE_CHARS[packet.type] + data;
  return "b" + data.toString("base64");
}

/** Joins packets into one polling payload. */
export function encodePayload(packets: readonly Packet[]): string {
  if (packets.length === 1) return encodeForPolling(packets[0] as Packet);
  let out = "";
  for (let i = 0; i < packets.length; i++) {
    if (i > 0) out += SEPARATOR;
    out += encodeForPolling(packets[i] as Packet);
  }
  return out;
}

/** Decodes one text packet; an unknown type yields an `error` packet. */
export function decodeText(text: string): Packet {
  const code = text.charCodeAt(0);
  if (code === 98 /* b */) return { type: "message", data: Buffer.from(text.slice(1), "base64") };
  const type = TYPES_BY_CHAR[code - 48];
  if (type === undefined) return ERROR_PACKET;
  return text.length > 1 ? { type, data: text.slice(1) } : { type };
}

/** Decodes a WebSocket message: text frames carry a typed packet, binary frames a binary message. */
export function decodeWebSocketMessage(data: RawData): Packet {
  if (typeof data === "string") return decodeText(data);
  return { type: "message", data };
}

/** Decodes a polling payload. Decoding stops at the first bad packet, which ends the list as an `error` packet. */
export function decodePayload(payload: string): Packet[] {
  const packets: Packet[] = [];
  let start = 0;
  for (;;) {
    const end = payload.indexOf(SEPARATOR, start);
    const packet = decodeText(end === -1 ? payload.slice(start) : payload.slice(start, end));
    packets.push(packet);
    if (packet.type === "error" || end === -1) return packets;
    start = end + 1;
  }
}
