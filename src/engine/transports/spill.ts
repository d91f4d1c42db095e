/**
 * What a WebSocket keeps for a peer that does not read (docs/limits.md, "How the send buffer is counted").
 *
 * Once the network socket holds more than its high-water mark, writing each small frame to it would keep one
 * Buffer plus one queue entry per packet, and keeping the packets themselves in the session's queue keeps their
 * strings: both live on the V8 heap, which grows to about twice what it holds. Instead the bytes of the frames
 * built for this session alone are copied into fixed-size chunks allocated outside the heap (a frame may be split
 * across two chunks, as TCP allows), and each full chunk is handed to the socket, which holds it until the peer
 * reads. A lagging session thus costs its bytes plus one chunk, and no object per packet; the application's
 * strings die young. A broadcast's frame, shared by all its targets, is copied too: handing it to the socket
 * would keep a queue entry on the heap per frame and target, several times a small frame's own bytes, so that a
 * stalled reader of small broadcasts held far more than its bound. Large frames are not copied: the transport
 * hands them to the socket as they are, after the chunk being filled.
 *
 * The same chunks (`allocateChunk`) hold the packets a lagging session queues while its transport cannot take them
 * (packet-spill.ts), and a `Spill` writes those packets' polling form to an HTTP response.
 */
import type { Frame } from "../frame";

/**
 * Where full chunks go: the network socket (a WebSocket's), an HTTP response (a polling response rendered from a
 * session's spilled packets, packet-spill.ts) or a compression stream in front of one.
 */
export interface ChunkSink {
  write(chunk: Buffer, done?: (err?: Error | null) => void): boolean;
}

/** Bytes of one chunk: small enough that a briefly lagging session costs little, large enough to batch. */
export const SPILL_CHUNK_BYTES = 16 * 1024;
/** Frames at least this long are not copied: they are off-heap already, and one queue entry for that many bytes is cheap. */
export const SPILL_COPY_MAX = 4 * 1024;

type WriteDone = (err?: Error | null) => void;

export class Spill {
  private chunk: Buffer | null = null;
  private used = 0;
  /** Completions of the frames that end in the current chunk. */
  private done: WriteDone[] | null = null;

  /** Bytes waiting in the current chunk (the socket counts the chunks it was handed). */
  get length(): number {
    return this.used;
  }

  /** Copies a frame in; `done` runs once the chunk holding its last byte is written. */
  append(sink: ChunkSink, frame: Frame, done?: WriteDone): void {
    if (Buffer.isBuffer(frame)) this.copy(sink, frame);
    else for (let i = 0; i < frame.length; i++) this.copy(sink, frame[i] as Buffer);
    if (done !== undefined) (this.done ??= []).push(done);
  }

  private copy(sink: ChunkSink, frame: Buffer): void {
    let offset = 0;
    while (offset < frame.length) {
      const chunk = (this.chunk ??= allocateChunk());
      const n = frame.copy(chunk, this.used, offset);
      this.used += n;
      offset += n;
      if (this.used === SPILL_CHUNK_BYTES) this.writeTo(sink);
    }
  }

  /**
   * Hands what the current chunk holds to the socket: a full chunk as it is, a partial one as an exact copy (the
   * chunk stays for the next frames, until `release`).
   */
  writeTo(sink: ChunkSink): void {
    const chunk = this.chunk;
    if (chunk === null || this.used === 0) return;
    const done = this.done;
    let bytes = chunk;
    if (this.used === SPILL_CHUNK_BYTES) {
      this.chunk = null;
    } else {
      bytes = Buffer.allocUnsafeSlow(this.used);
      chunk.copy(bytes, 0, 0, this.used);
    }
    this.used = 0;
    this.done = null;
    if (done === null) sink.write(bytes);
    else sink.write(bytes, (err) => runAll(done, err));
  }

  /** Writes what is held and drops the chunk: the peer caught up. */
  release(sink: ChunkSink): void {
    this.writeTo(sink);
    this.chunk = null;
  }

  /** Drops what is held (the connection is gone or being terminated). */
  clear(): void {
    this.chunk = null;
    this.used = 0;
    this.done = null;
  }
}

/**
 * A chunk whose memory goes back to the operating system once it is collected. A Buffer from `allocUnsafeSlow`
 * comes from malloc, and glibc keeps freed 16 KiB blocks in the process for later: a reader that lagged by 32 MiB
 * left the process 32 MiB larger for good. V8 maps a resizable ArrayBuffer's memory itself and unmaps it when the
 * buffer dies; the chunk is never resized.
 */
export function allocateChunk(): Buffer {
  return Buffer.from(new ArrayBuffer(SPILL_CHUNK_BYTES, { maxByteLength: SPILL_CHUNK_BYTES }));
}

function runAll(done: readonly WriteDone[], err?: Error | null): void {
  for (let i = 0; i < done.length; i++) (done[i] as WriteDone)(err);
}
