/** Reading an engine request without patching it: the query parameters the engine needs, and header checks. */
import { randomFillSync } from "node:crypto";

export interface EngineQuery {
  transport: string | undefined;
  sid: string | undefined;
  EIO: string | undefined;
}

export function parseQuery(url: string | undefined): EngineQuery {
  const start = url === undefined ? -1 : url.indexOf("?");
  const query: EngineQuery = { transport: undefined, sid: undefined, EIO: undefined };
  if (start === -1) return query;
  const search = (url as string).slice(start + 1);
  // escapes and "+" need URLSearchParams' decoding; plain queries (what clients send) are scanned directly
  if (search.includes("%") || search.includes("+")) {
    const params = new URLSearchParams(search);
    query.transport = params.get("transport") ?? undefined;
    query.sid = params.get("sid") ?? undefined;
    query.EIO = params.get("EIO") ?? undefined;
    return query;
  }
  let from = 0;
  while (from <= search.length) {
    let end = search.indexOf("&", from);
    if (end === -1) end = search.length;
    const eq = search.indexOf("=", from);
    const keyEnd = eq === -1 || eq > end ? end : eq;
    const value = keyEnd === end ? "" : search.slice(keyEnd + 1, end);
    switch (search.slice(from, keyEnd)) {
      case "transport":
        query.transport ??= value;
        break;
      case "sid":
        query.sid ??= value;
        break;
      case "EIO":
        query.EIO ??= value;
        break;
      default:
        break;
    }
    from = end + 1;
  }
  return query;
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
