/**
 * `switchyard/redis-streams-adapter`: cluster Switchyard nodes (and official socket.io nodes running
 * `@socket.io/redis-streams-adapter` 0.3) over Redis Streams, with connection state recovery across nodes.
 *
 *   import { createClient } from "redis";
 *   import { createAdapter } from "switchyard/redis-streams-adapter";
 *   const client = createClient({ url }); await client.connect();
 *   const io = new Server({ adapter: createAdapter(client), connectionStateRecovery: {} });
 */
export {
  createAdapter,
  RedisStreamsAdapter,
  REDIS_ANSWER_DEADLINE_MS,
  hashCode,
  streamFor,
  streamsToRead,
} from "./adapter";
export { SESSION_WRITES_IN_FLIGHT } from "./session-writer";
export type { RedisStreamsAdapterOptions } from "./adapter";
export type { RedisClient } from "../redis/client";
export { MessageType, RequestTimeoutError } from "../../adapter/cluster";
