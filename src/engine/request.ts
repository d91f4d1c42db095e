/** Reading an engine request without patching it: the query parameters the engine needs, and header checks. */
import { randomFillSync } from "node:crypto";

export interface EngineQuery {
  transport: string | undefined;
  sid: string | undefined;
  EIO: string | undefined;
}

export function parseQuery(url: string | undefined): EngineQuery {
  const start = url === undefined ? -1 : url.indexOf("?");
  if (start === -1) return { transport: undefined, sid: undefined, EIO: undefined };
  const params = new URLSearchParams((url as string).slice(start + 1));
  return {
    transport: params.get("transport") ?? undefined,
    sid: params.get("sid") ?? undefined,
    EIO: params.get("EIO") ?? undefined,
  };
}

/** Characters allowed in a header value (RFC 7230 field-content: HTAB, visible ASCII, obs-text). */
const INVALID_HEADER_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

export function isInvalidHeaderValue(value: string | undefined): boolean {
  return value !== undefined && INVALID_HEADER_CHAR.test(value);
}

const POOL_IDS = 256;
let pool = Buffer.alloc(0);
let poolOffset = 0;
let sequence = 0;

/** A 20-character URL-safe id: 12 random bytes and a 24-bit counter (the shape of engine.io's base64id). */
export function generateBase64Id(): string {
  if (poolOffset + 12 > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(12 * POOL_IDS));
    poolOffset = 0;
  }
  const id = Buffer.allocUnsafe(15);
  pool.copy(id, 0, poolOffset, poolOffset + 12);
  poolOffset += 12;
  sequence = (sequence + 1) & 0xffffff;
  id.writeUIntBE(sequence, 12, 3);
  return id.toString("base64url");
}
