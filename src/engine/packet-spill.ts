/**
 * The packets of a lagging session, kept as bytes outside the V8 heap until its transport can take them
 * (docs/limits.md, "How the send buffer is counted").
 *
 * A session whose transport cannot take packets (polling between requests, a WebSocket with perMessageDeflate
 * waiting for the peer, a session in the middle of an upgrade) queues them. A packet object and its string cost the
 * V8 heap about 1.3 times their bytes, and the heap grows further around them. Once the queue is past
 * `sendBufferHighWaterMark` (the peer is lagging), the session stops keeping objects: each further packet's bytes are
 * copied into 16 KiB chunks outside the heap (the chunks of spill.ts), as one record:
 *
 *   flags (1 byte: type digit, BINARY, NO_COMPRESS) | length (4 bytes, little-endian) | payload
 *
 * where the payload is the packet's Engine.IO 4 WebSocket form: for a typed packet its type digit and its data in
 * UTF-8 (which is also its polling form), for binary data its bytes. Every transport renders records to its own
 * wire form when it sends them (polling: separators and "b" + base64; a WebSocket: one message or frame per record),
 * in order, after the packets queued before the spill began. Records may span chunks; a chunk is dropped once read.
 */
import type { EngineTrafficCounter } from "../diagnostics";
import type { Packet, PacketType } from "./packet";
import { TYPE_DIGITS, TYPES_BY_CHAR } from "./packet";
import { allocateChunk, SPILL_CHUNK_BYTES } from "./transports/spill";

const TYPE_MASK = 0x07;
/** The payload is binary data (a binary WebSocket frame, "b" + base64 in a polling payload). */
export const RECORD_BINARY = 0x08;
/** The packet was sent with `compress: false`. */
export const RECORD_NO_COMPRESS = 0x10;
/** Flags and length. */
const HEADER_BYTES = 5;

/** Scratch for a record header being written or read (records are handled one at a time). */
const header = Buffer.alloc(HEADER_BYTES);

export class PacketSpill {
  /** Chunks not yet read; read ones are set to null. The last one is being filled. */
  private chunks: (Buffer | null)[] = [];
  /** Bytes used in the last chunk. */
  private filled = SPILL_CHUNK_BYTES;
  /** Read position: chunk index and offset in it. */
  private readChunk = 0;
  private readOffset = 0;
  /** Records not yet read. */
  count = 0;
  /** Bytes held by the records not yet read (headers included): what the session counts. */
  bytes = 0;
  /** Bytes of the records' polling forms, separators not included. */
  pollingBytes = 0;
  /** Some record may be compressed (a polling response's `httpCompression`): one was sent without `compress: false`. */
  compressible = false;
  /** The last record read by `next()`: its flags and payload (a view into a chunk, or a copy when it spans chunks). */
  flags = 0;
  payload: Buffer = header;

  /** Copies a packet in; returns the bytes it takes. */
  push(packet: Packet): number {
    const data = packet.prepared !== undefined ? packet.prepared.data : packet.data;
    let flags = TYPE_DIGITS[packet.type];
    const options = packet.options;
    if (options !== undefined && options.compress === false) flags |= RECORD_NO_COMPRESS;
    else if (options !== undefined) this.compressible = true;
    let length: number;
    if (data === undefined) length = 1;
    else if (typeof data === "string") length = 1 + Buffer.byteLength(data);
    else {
      flags |= RECORD_BINARY;
      length = data.length;
    }
    header[0] = flags;
    header.writeUInt32LE(length, 1);
    this.write(header);
    if (Buffer.isBuffer(data)) {
      this.write(data);
      this.pollingBytes += 1 + Math.ceil(length / 3) * 4;
    } else {
      this.writeByte(48 + (flags & TYPE_MASK));
      if (data !== undefined) this.writeText(data, length - 1);
      this.pollingBytes += length;
    }
    this.count++;
    this.bytes += HEADER_BYTES + length;
    return HEADER_BYTES + length;
  }

  /** Reads the next record into `flags` and `payload`; false when none is left (the spill is then empty again). */
  next(): boolean {
    if (this.count === 0) return false;
    this.read(header, HEADER_BYTES);
    this.flags = header[0] as number;
    const length = header.readUInt32LE(1);
    if (this.readOffset === SPILL_CHUNK_BYTES && this.readChunk < this.chunks.length - 1) {
      this.chunks[this.readChunk++] = null;
      this.readOffset = 0;
    }
    const chunk = this.chunks[this.readChunk] as Buffer;
    const end = this.readChunk === this.chunks.length - 1 ? this.filled : SPILL_CHUNK_BYTES;
    if (end - this.readOffset >= length) {
      this.payload = chunk.subarray(this.readOffset, this.readOffset + length);
      this.readOffset += length;
    } else {
      this.payload = Buffer.allocUnsafe(length);
      this.read(this.payload, length);
    }
    this.count--;
    this.bytes -= HEADER_BYTES + length;
    this.pollingBytes -= this.flags & RECORD_BINARY ? 1 + Math.ceil(length / 3) * 4 : length;
    if (this.count === 0) this.reset();
    return true;
  }

  /** The last record read, as a packet (text data as a string), for a consumer that takes packets. */
  packet(): Packet {
    const flags = this.flags;
    const payload = this.payload;
    const packet: Packet = { type: TYPES_BY_CHAR[flags & TYPE_MASK] as PacketType };
    if (flags & RECORD_BINARY) packet.data = Buffer.from(payload);
    else if (payload.length > 1) packet.data = payload.toString("utf8", 1);
    packet.options = flags & RECORD_NO_COMPRESS ? NO_COMPRESS : COMPRESS;
    return packet;
  }

  /** @internal Counts the records as sent on `transport` (the metrics' traffic counter), without reading them. */
  countOut(counter: EngineTrafficCounter, transport: string): void {
    const chunks = this.chunks;
    const endOf = (index: number): number =>
      index === chunks.length - 1 ? this.filled : SPILL_CHUNK_BYTES;
    let chunk = this.readChunk;
    let offset = this.readOffset;
    const readByte = (): number => {
      if (offset === endOf(chunk)) {
        chunk++;
        offset = 0;
      }
      return (chunks[chunk] as Buffer)[offset++] as number;
    };
    for (let i = 0; i < this.count; i++) {
      const flags = readByte();
      const length =
        readByte() + readByte() * 0x100 + readByte() * 0x10000 + readByte() * 0x1000000;
      for (let skip = length; skip > 0;) {
        if (offset === endOf(chunk)) {
          chunk++;
          offset = 0;
        }
        const n = Math.min(skip, endOf(chunk) - offset);
        offset += n;
        skip -= n;
      }
      const type = TYPES_BY_CHAR[flags & TYPE_MASK] as PacketType;
      counter.countOutBytes(transport, type, flags & RECORD_BINARY ? length + 1 : length);
    }
  }

  /** Reads every record as a packet (empties the spill). */
  drainPackets(into: Packet[]): Packet[] {
    while (this.next()) into.push(this.packet());
    return into;
  }

  /** Drops everything. */
  clear(): void {
    this.count = 0;
    this.bytes = 0;
    this.reset();
  }

  private reset(): void {
    this.chunks = [];
    this.filled = SPILL_CHUNK_BYTES;
    this.readChunk = 0;
    this.readOffset = 0;
    this.pollingBytes = 0;
    this.compressible = false;
  }

  /** The chunk being filled, with room for at least one byte. */
  private room(): Buffer {
    if (this.filled === SPILL_CHUNK_BYTES) {
      this.chunks.push(allocateChunk());
      this.filled = 0;
    }
    return this.chunks[this.chunks.length - 1] as Buffer;
  }

  private write(bytes: Buffer): void {
    let offset = 0;
    while (offset < bytes.length) {
      const n = bytes.copy(this.room(), this.filled, offset);
      this.filled += n;
      offset += n;
    }
  }

  private writeByte(byte: number): void {
    const chunk = this.room();
    chunk[this.filled++] = byte;
  }

  /** Writes a string of `length` UTF-8 bytes: in place when it fits the chunk, else through a transient copy. */
  private writeText(text: string, length: number): void {
    const chunk = this.room();
    if (SPILL_CHUNK_BYTES - this.filled >= length) {
      this.filled += chunk.write(text, this.filled, "utf8");
      return;
    }
    this.write(Buffer.from(text, "utf8"));
  }

  /** Copies the next `length` bytes to `target`, dropping each chunk read to its end. */
  private read(target: Buffer, length: number): void {
    let copied = 0;
    while (copied < length) {
      const last = this.readChunk === this.chunks.length - 1;
      const end = last ? this.filled : SPILL_CHUNK_BYTES;
      if (this.readOffset === end) {
        this.chunks[this.readChunk++] = null;
        this.readOffset = 0;
        continue;
      }
      const chunk = this.chunks[this.readChunk] as Buffer;
      const n = Math.min(length - copied, end - this.readOffset);
      chunk.copy(target, copied, this.readOffset, this.readOffset + n);
      copied += n;
      this.readOffset += n;
    }
  }
}

const COMPRESS = Object.freeze({ compress: true });
const NO_COMPRESS = Object.freeze({ compress: false });
