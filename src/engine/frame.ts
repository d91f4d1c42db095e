/**
 * WebSocket frames built by the engine: final, unmasked, uncompressed (server to client, perMessageDeflate off).
 * The one framer of the engine: pre-framed broadcasts (prepared.ts) and single packets (the WebSocket transport)
 * both come from here, and are written by ws-internals.ts's `writeFrames`.
 */

/** Binary payloads up to this size are copied into the frame's buffer; larger ones are sent as [header, payload]. */
const MAX_COPY = 16 * 1024;

/** A complete frame: one buffer, or [header, payload] (engine.io's `wsPreEncodedFrame` has this shape too). */
export type Frame = Buffer | readonly Buffer[];

/** A frame's bytes on the wire. */
export function frameLength(frame: Frame): number {
  if (Buffer.isBuffer(frame)) return frame.length;
  let length = 0;
  for (let i = 0; i < frame.length; i++) length += (frame[i] as Buffer).length;
  return length;
}

const OP_TEXT = 0x81; // FIN + text
const OP_BINARY = 0x82; // FIN + binary

function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

function writeHeader(frame: Buffer, first: number, length: number): void {
  frame[0] = first;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
}

/**
 * Writes the header of a text or binary frame of `length` payload bytes to `target` (at least 10 bytes); returns
 * the header's length.
 */
export function writeFrameHeader(target: Buffer, binary: boolean, length: number): number {
  writeHeader(target, binary ? OP_BINARY : OP_TEXT, length);
  return headerLength(length);
}

/**
 * A text frame of `prefix` (a character code, or 0 for none) followed by `text`, in one buffer.
 */
export function frameText(prefix: number, text: string | undefined): Buffer {
  const textLength = text === undefined ? 0 : Buffer.byteLength(text);
  const length = (prefix === 0 ? 0 : 1) + textLength;
  const header = headerLength(length);
  const frame = Buffer.allocUnsafe(header + length);
  writeHeader(frame, OP_TEXT, length);
  let offset = header;
  if (prefix !== 0) frame[offset++] = prefix;
  if (text !== undefined) frame.write(text, offset, textLength, "utf8");
  return frame;
}

/**
 * A binary frame of `prefix` (a byte, or -1 for none) followed by `data`: one buffer when small, else
 * [header, data] without copying the payload.
 */
export function frameBinary(prefix: number, data: Buffer): Frame {
  const extra = prefix === -1 ? 0 : 1;
  const length = extra + data.length;
  const header = headerLength(length);
  if (length > MAX_COPY) {
    const head = Buffer.allocUnsafe(header + extra);
    writeHeader(head, OP_BINARY, length);
    if (extra === 1) head[header] = prefix;
    return [head, data];
  }
  const frame = Buffer.allocUnsafe(header + length);
  writeHeader(frame, OP_BINARY, length);
  if (extra === 1) frame[header] = prefix;
  data.copy(frame, header + extra);
  return frame;
}
