/**
 * The Redis commands of the streams adapter over either client the user brings: `redis` (node-redis 4/5) or
 * `ioredis`. Commands are sent raw (`sendCommand` / `call`), so both clients put the same bytes on the wire and
 * both replies have the same shape (RESP arrays of strings).
 */
import type { RedisClient } from "../redis/client";

interface Closable {
  on(event: string, listener: (...args: never[]) => void): unknown;
  duplicate(): Closable;
  connect?(): Promise<unknown>;
  destroy?(): unknown;
  disconnect?(): unknown;
}

interface NodeRedisClient extends Closable {
  sendCommand(args: string[]): Promise<unknown>;
  multi(): { get(key: string): { del(key: string): { exec(): Promise<unknown[]> } } };
}

interface IoRedisClient extends Closable {
  call(command: string, ...args: string[]): Promise<unknown>;
  multi(): { get(key: string): { del(key: string): { exec(): Promise<unknown[] | null> } } };
}

/** One stream entry: its id and its fields. */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

/** node-redis has camel-case commands (ioredis also has a `sendCommand`, taking a Command object). */
function isNodeRedis(client: object): client is NodeRedisClient {
  return typeof (client as { pSubscribe?: unknown }).pSubscribe === "function";
}

function isIoRedis(client: object): client is IoRedisClient {
  return typeof (client as { call?: unknown }).call === "function";
}

export function checkClient(client: RedisClient): void {
  if (!isNodeRedis(client) && !isIoRedis(client))
    throw new TypeError("expected a client of the `redis` (v4/v5) or `ioredis` package");
}

/** Sends one command; the reply as the client gives it (strings, arrays, null). */
export function command(client: RedisClient, args: string[]): Promise<unknown> {
  if (isNodeRedis(client)) return client.sendCommand(args);
  return (client as IoRedisClient).call(args[0] as string, ...args.slice(1));
}

/** GET then DEL in one MULTI (works before Redis 6.2's GETDEL, as the official adapter does). */
export async function getAndDelete(client: RedisClient, key: string): Promise<string | null> {
  const replies = await (client as NodeRedisClient | IoRedisClient)
    .multi()
    .get(key)
    .del(key)
    .exec();
  const first: unknown = replies?.[0];
  // ioredis answers [[err, value], [err, count]], node-redis [value, count]
  const value = Array.isArray(first) ? (first[1] as unknown) : first;
  if (Array.isArray(first) && first[0]) throw first[0] as Error;
  return typeof value === "string" ? value : null;
}

/** Parses the entries of an XRANGE reply (or of one stream of an XREAD reply). */
export function parseEntries(raw: unknown): StreamEntry[] {
  if (!Array.isArray(raw)) return [];
  const entries: StreamEntry[] = [];
  for (const item of raw) {
    if (!Array.isArray(item) || typeof item[0] !== "string" || !Array.isArray(item[1])) continue;
    const flat = item[1] as unknown[];
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = String(flat[i + 1]);
    entries.push({ id: item[0], fields });
  }
  return entries;
}

/** Parses an XREAD reply: stream name → entries (null when the read timed out). */
export function parseRead(raw: unknown): Array<[string, StreamEntry[]]> {
  if (!Array.isArray(raw)) return [];
  const out: Array<[string, StreamEntry[]]> = [];
  for (const item of raw) {
    if (Array.isArray(item) && typeof item[0] === "string")
      out.push([item[0], parseEntries(item[1])]);
  }
  return out;
}

/**
 * A new connection with the same options (`duplicate()`), connected; its errors go to `onError` (a client
 * without an error listener would throw them). `created` gets it before it connects (to close it meanwhile).
 */
export async function duplicate(
  client: RedisClient,
  onError: (err: unknown) => void,
  created?: (copy: RedisClient) => void,
): Promise<RedisClient> {
  const copy = (client as Closable).duplicate();
  copy.on("error", onError);
  created?.(copy);
  if (isNodeRedis(copy)) await copy.connect?.();
  // ioredis connects by itself, unless created with lazyConnect
  else if ((copy as { options?: { lazyConnect?: boolean } }).options?.lazyConnect)
    await copy.connect?.();
  return copy;
}

/**
 * Whether the client takes its connection for open and usable (node-redis `isReady`, ioredis `status` "ready"):
 * false while it connects or reconnects, when a command would wait in its offline queue.
 */
export function isReady(client: RedisClient): boolean {
  if (isNodeRedis(client)) return (client as { isReady?: boolean }).isReady === true;
  return (client as { status?: string }).status === "ready";
}

/** Closes a connection at once (a blocked XREAD on it fails). */
export function disconnect(client: RedisClient): void {
  const c = client as Closable;
  try {
    if (c.destroy) c.destroy();
    else c.disconnect?.();
  } catch {
    // already closed
  }
}
