/**
 * `switchyard/postgres-adapter`: cluster Switchyard nodes (and official socket.io nodes) over PostgreSQL.
 *
 *   import { Pool } from "pg";
 *   import { createAdapter } from "switchyard/postgres-adapter";
 *   const io = new Server({ adapter: createAdapter(new Pool(), { channelPrefix: "socket.io" }) });
 *
 * Speaks the wire of `@socket.io/postgres-adapter` 0.5; `@socket.io/postgres-emitter` reaches its nodes.
 */
export { createAdapter, PostgresAdapter } from "./postgres-adapter";
export type { PostgresAdapterOptions } from "./postgres-adapter";
export type {
  PostgresPool,
  PostgresPoolClient,
  PostgresNotification,
  PostgresQueryResult,
} from "./pubsub";
export { MessageType, RequestTimeoutError } from "../../adapter/cluster";
