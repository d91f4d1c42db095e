/**
 * `switchyard/adapter`: what an adapter author builds on (the counterpart of the `socket.io-adapter` package).
 *
 *   import { ClusterAdapterWithHeartbeat, type ClusterMessage } from "switchyard/adapter";
 *
 * - `Adapter`: the in-memory adapter and the contract the server calls (see adapter.ts);
 * - `ClusterAdapter`: the ClusterAdapter protocol; a transport implements `doPublish` / `doPublishResponse`;
 * - `ClusterAdapterWithHeartbeat`: the same with heartbeats (nodes known by uid, `serverCount()` from the
 *   nodes alive, requests ending early when a node goes away);
 * - the wire forms (`MessageType`, `encodeOptions`, ...) and `RequestTimeoutError`.
 *
 * src/adapter/README.md is the guide.
 */
export { Adapter } from "./adapter";
export type {
  AdapterConstructor,
  AdapterNamespace,
  AdapterPacket,
  AdapterSocket,
  AckExpectation,
  BroadcastFlags,
  BroadcastOptions,
  DeliveryFlags,
  EncodedPacket,
  Room,
  ServerSideEmitAck,
  Session,
  SocketDescription,
  SocketId,
} from "./adapter";
export { ClusterAdapter } from "./cluster";
export type { ClusterAdapterOptions } from "./cluster";
export { ClusterAdapterWithHeartbeat } from "./heartbeat";
export type { ClusterAdapterWithHeartbeatOptions } from "./heartbeat";
export { MultiNodeAdapter, RequestTimeoutError } from "./requests";
export type { AnswerCollector, ExpectedAnswers } from "./requests";
export {
  EMITTER_UID,
  MessageType,
  decodeOptions,
  describeSocket,
  encodeOptions,
  randomHexId,
  toPacket,
  wirePacket,
} from "./wire";
export type { ClusterMessage, WireOptions } from "./wire";
