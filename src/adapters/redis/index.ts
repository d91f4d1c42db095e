/**
 * `switchyard/redis-adapter`: cluster Switchyard nodes (and official socket.io nodes) over Redis.
 *
 *   import { createAdapter } from "switchyard/redis-adapter";
 *   const pub = createClient({ url }); const sub = pub.duplicate();
 *   await Promise.all([pub.connect(), sub.connect()]);
 *   const io = new Server({ adapter: createAdapter(pub, sub) });
 *
 * `createAdapter` speaks the wire format of `@socket.io/redis-adapter` 8.x (classic pub/sub),
 * `createShardedAdapter` the one of its `createShardedAdapter` (Redis 7 sharded pub/sub).
 */
export { createAdapter, RedisAdapter, RequestType } from "./redis-adapter";
export type { RedisAdapterOptions, RedisParser } from "./redis-adapter";
export { createShardedAdapter, ShardedRedisAdapter } from "./sharded-adapter";
export type { ShardedRedisAdapterOptions, SubscriptionMode } from "./sharded-adapter";
export type { RedisClient } from "./client";
export { MessageType, RequestTimeoutError } from "../../adapter/cluster";
