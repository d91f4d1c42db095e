/**
 * The one pool of random bytes for ids: refilled 4 KiB at a time (one `randomFillSync` per ~270 ids instead of
 * one per id), each byte handed out once. Each layer keeps the id format it has always had:
 * - Engine.IO session ids: 12 random bytes and a 24-bit counter (engine.io's base64id shape);
 * - Socket.IO socket ids: 15 random bytes.
 * Both are 20 base64url characters.
 */
import { randomFillSync } from "node:crypto";

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/** Reserves `length` fresh random bytes of the pool and returns where they start. */
function take(length: number): number {
  if (offset + length > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += length;
  return start;
}

/** `byteLength` random bytes (at most 4096) as base64url. */
export function randomBase64Url(byteLength: number): string {
  if (byteLength > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} bytes`);
  const start = take(byteLength);
  return pool.toString("base64url", start, start + byteLength);
}

let sequence = 0;

/** An Engine.IO session id: 12 random bytes then a 24-bit counter, 20 base64url characters. */
export function generateSessionId(): string {
  sequence = (sequence + 1) & 0xffffff;
  // the counter overwrites the last 3 of 15 fresh bytes of the pool (handed out once): one flat string, encoded
  // at once, rather than two joined
  const start = take(15);
  pool.writeUIntBE(sequence, start + 12, 3);
  return pool.toString("base64url", start, start + 15);
}

/** A Socket.IO socket id: 15 random bytes, 20 base64url characters. */
export function generateSocketId(): string {
  return randomBase64Url(15);
}
