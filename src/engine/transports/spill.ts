/**
 * What a WebSocket keeps for a peer that does not read (docs/limits.md, "How the send buffer is counted").
 *
 * Once the network socket holds more than its high-water mark, writing each frame to it would keep one Buffer
 * plus one queue entry per packet, and keeping the packets themselves in the session's queue keeps their strings:
 * both live on the V8 heap, which grows to about twice what it holds. Instead the frames' bytes are copied into
 * fixed-size chunks allocated outside the heap, frames split across chunk boundaries as TCP allows, and each full
 * chunk is handed to the socket (which holds it until the peer reads). A lagging session thus costs its bytes,
 * rounded up to one chunk, and no per-packet object; the application's strings die young.
 */
import type { Socket as NetSocket } from "node:net";
import type { Frame } from "../frame";

/** Bytes of one chunk: small enough that a briefly lagging session costs little, large enough to batch. */
export const SPILL_CHUNK_BYTES = 16 * 1024;

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
  append(raw: NetSocket, frame: Frame, done?: WriteDone): void {
    if (Buffer.isBuffer(frame)) {
      this.copy(raw, frame);
    } else {
      for (const part of frame as readonly Buffer[]) this.copy(raw, part);
    }
    if (done !== undefined) (this.done ??= []).push(done);
  }

  private copy(raw: NetSocket, bytes: Buffer): void {
    let offset = 0;
    while (offset < bytes.length) {
      const chunk = (this.chunk ??= Buffer.allocUnsafeSlow(SPILL_CHUNK_BYTES));
      const n = bytes.copy(chunk, this.used, offset);
      this.used += n;
      offset += n;
      if (this.used === SPILL_CHUNK_BYTES) this.writeTo(raw);
    }
  }

  /** Hands the current chunk (what is used of it) to the socket. */
  writeTo(raw: NetSocket): void {
    const chunk = this.chunk;
    if (chunk === null || this.used === 0) return;
    const done = this.done;
    const bytes = this.used === SPILL_CHUNK_BYTES ? chunk : chunk.subarray(0, this.used);
    this.chunk = null;
    this.used = 0;
    this.done = null;
    if (done === null) raw.write(bytes);
    else raw.write(bytes, (err) => runAll(done, err));
  }

  /** Drops what is held (the connection is gone or being terminated). */
  clear(): void {
    this.chunk = null;
    this.used = 0;
    this.done = null;
  }
}

function runAll(done: readonly WriteDone[], err?: Error | null): void {
  for (let i = 0; i < done.length; i++) (done[i] as WriteDone)(err);
}
