/**
 * Engine.IO protocol v3 packets (the codec behind `EIO3` in protocol.ts), spoken by socket.io-client 2.x:
 * - a packet's text form is the same as in v4 (type digit + data); binary data in text is "b" + type digit + base64;
 * - a WebSocket binary frame carries the type byte (4 for a message) before the bytes;
 * - a polling payload frames every packet with its length: as text, `<length>:<packet>` where the length counts
 *   UTF-16 code units; as binary (a session whose client supports it and a flush with binary data), each packet is
 *   `<0 string | 1 binary> <decimal digits, one byte each> 0xFF <bytes>` where the length counts bytes (a binary
 *   packet's bytes start with its type byte).
 */
import { EngineErrorMessages } from "./errors";
import { type Packet, type RawData, TYPE_DIGITS, TYPES_BY_CHAR } from "./packet";
import type { EngineProtocol } from "./protocol";

const ERROR_PACKET: Packet = Object.freeze({
  type: "error",
  data: EngineErrorMessages.PARSER_ERROR,
}) as Packet;

/** engine.io refuses a binary payload length with more digits than this. */
const MAX_LENGTH_DIGITS = 310;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** A packet's text form: type digit + data, or "b" + type digit + base64 for binary data. */
export function encodeTextV3(packet: Packet): string {
  const data = packet.data;
  const type = TYPE_DIGITS[packet.type];
  if (data === undefined) return String(type);
  if (typeof data === "string") return type + data;
  return "b" + type + data.toString("base64");
}

/** `text` framed for a text payload: its UTF-16 length, ":", itself. */
export function frameTextV3(text: string): string {
  return text.length + ":" + text;
}

/** A packet in a text payload; a prepared (broadcast) message brings its frame, cached for `protocol`. */
function framedText(packet: Packet, protocol: EngineProtocol): string {
  if (packet.prepared !== undefined) return packet.prepared.pollingFor(protocol);
  return frameTextV3(encodeTextV3(packet));
}

/** Packets to a text polling payload. */
function encodeTextPayloadV3(packets: readonly Packet[], protocol: EngineProtocol): string {
  if (packets.length === 1) return framedText(packets[0] as Packet, protocol);
  let out = "";
  for (let i = 0; i < packets.length; i++) out += framedText(packets[i] as Packet, protocol);
  return out;
}

function lengthDigits(length: number): number[] {
  const digits: number[] = [];
  for (const char of String(length)) digits.push(char.charCodeAt(0) - 48);
  return digits;
}

/**
 * Packets to a polling payload for a client that takes binary: the binary payload format when one of them
 * carries binary data, the text format otherwise (as engine.io decides per flush).
 */
export function encodePayloadV3(
  packets: readonly Packet[],
  supportsBinary: boolean,
  protocol: EngineProtocol,
): RawData {
  if (!supportsBinary || !packets.some((packet) => Buffer.isBuffer(packet.data))) {
    return encodeTextPayloadV3(packets, protocol);
  }
  const parts: Buffer[] = [];
  for (const packet of packets) {
    const data = packet.data;
    if (Buffer.isBuffer(data)) {
      parts.push(
        Buffer.from([1, ...lengthDigits(data.length + 1), 0xff, TYPE_DIGITS[packet.type]]),
        data,
      );
    } else {
      const bytes = Buffer.from(encodeTextV3(packet));
      parts.push(Buffer.from([0, ...lengthDigits(bytes.length), 0xff]), bytes);
    }
  }
  return Buffer.concat(parts);
}

/** Decodes one text packet (with the "b" + type + base64 form of binary data). */
export function decodeTextV3(text: string): Packet {
  if (text.charCodeAt(0) === 98 /* b */) {
    const type = TYPES_BY_CHAR[text.charCodeAt(1) - 48];
    if (type === undefined) return ERROR_PACKET;
    return { type, data: Buffer.from(text.slice(2), "base64") };
  }
  const type = TYPES_BY_CHAR[text.charCodeAt(0) - 48];
  if (type === undefined) return ERROR_PACKET;
  return text.length > 1 ? { type, data: text.slice(1) } : { type };
}

/** Decodes a WebSocket message: a binary frame starts with the packet's type byte. */
export function decodeWebSocketV3(data: RawData): Packet {
  if (typeof data === "string") return decodeTextV3(data);
  const type = TYPES_BY_CHAR[data[0] ?? -1];
  if (type === undefined) return ERROR_PACKET;
  return { type, data: data.subarray(1) };
}

/** A packet as one WebSocket message: binary data gets its type byte. */
export function encodeForWebSocketV3(packet: Packet): RawData {
  const data = packet.data;
  if (Buffer.isBuffer(data)) {
    return Buffer.concat([Buffer.from([TYPE_DIGITS[packet.type]]), data]);
  }
  return data === undefined ? String(TYPE_DIGITS[packet.type]) : TYPE_DIGITS[packet.type] + data;
}

/** Decodes a polling body (text or binary payload); a bad packet ends the list as an `error` packet. */
export function decodePayloadV3(body: RawData): Packet[] {
  return typeof body === "string" ? decodeTextPayload(body) : decodeBinaryPayload(body);
}

function decodeTextPayload(payload: string): Packet[] {
  const packets: Packet[] = [];
  if (payload.length === 0) return [ERROR_PACKET];
  let at = 0;
  while (at < payload.length) {
    const colon = payload.indexOf(":", at);
    const digits = payload.slice(at, colon);
    if (colon === -1 || digits === "" || !/^\d+$/.test(digits)) {
      packets.push(ERROR_PACKET);
      return packets;
    }
    const length = Number(digits);
    const start = colon + 1;
    if (length === 0 || start + length > payload.length) {
      packets.push(ERROR_PACKET);
      return packets;
    }
    const packet = decodeTextV3(payload.slice(start, start + length));
    packets.push(packet);
    if (packet.type === "error") return packets;
    at = start + length;
  }
  return packets;
}

function decodeBinaryPayload(payload: Buffer): Packet[] {
  const packets: Packet[] = [];
  let at = 0;
  while (at < payload.length) {
    const isString = payload[at] === 0;
    if (!isString && payload[at] !== 1) return [...packets, ERROR_PACKET];
    at++;
    let length = 0;
    let digits = 0;
    while (at < payload.length && payload[at] !== 0xff) {
      const digit = payload[at] as number;
      if (digit > 9 || ++digits > MAX_LENGTH_DIGITS) return [...packets, ERROR_PACKET];
      length = length * 10 + digit;
      at++;
    }
    if (at >= payload.length || digits === 0 || at + 1 + length > payload.length) {
      return [...packets, ERROR_PACKET];
    }
    at++; // 0xFF
    const bytes = payload.subarray(at, at + length);
    at += length;
    let packet: Packet;
    if (isString) {
      let text: string;
      try {
        text = strictUtf8.decode(bytes);
      } catch {
        return [...packets, ERROR_PACKET];
      }
      packet = decodeTextV3(text);
    } else {
      packet = decodeWebSocketV3(bytes);
    }
    packets.push(packet);
    if (packet.type === "error") return packets;
  }
  return packets;
}
