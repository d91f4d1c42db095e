/**
 * Socket ids: 15 random bytes as 20 base64url characters, cut from a pool refilled 256 ids at a time (one
 * `randomFillSync` per 256 sockets instead of one per socket).
 */
import { randomFillSync } from "node:crypto";

const ID_BYTES = 15;
const idPool = Buffer.alloc(ID_BYTES * 256);
let idOffset = idPool.length;

export function generateSocketId(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const id = idPool.toString("base64url", idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return id;
}
