/**
 * Switchyard: the Socket.IO 4 server API. `import { Server } from "switchyard"` replaces
 * `import { Server } from "socket.io"`.
 */
export { Server } from "./server/server";
export type { ServerOptions, ServerReservedEventsMap, Parser } from "./server/server";
export { Namespace } from "./server/namespace";
export type { NamespaceReservedEventsMap, Middleware } from "./server/namespace";
export { ParentNamespace } from "./server/parent-namespace";
export { Socket, RECOVERABLE_DISCONNECT_REASONS } from "./server/socket";
export type {
  DisconnectReason,
  Handshake,
  ExtendedError,
  Event,
  SocketReservedEventsMap,
} from "./server/socket";
export { BroadcastOperator } from "./server/broadcast";
export { RemoteSocket } from "./server/remote-socket";
export { Adapter } from "./adapter/adapter";
export { SessionAwareAdapter } from "./adapter/session-aware";
export type {
  ConnectionStateRecovery,
  ConnectionStateRecoveryOptions,
  SessionToPersist,
  SessionStoreStats,
} from "./adapter/sessions";
export type {
  AdapterConstructor,
  BroadcastFlags,
  BroadcastOptions,
  Room,
  SocketId,
  SocketDescription,
  Session,
} from "./adapter/adapter";
export type {
  DefaultEventsMap,
  EventsMap,
  EventNames,
  EventParams,
  DecorateAcknowledgements,
  DecorateAcknowledgementsWithMultipleResponses,
} from "./server/typed-events";
export * as parser from "./parser";
export const protocol = 5;
export {
  redisForwarding,
  RedisForwardingRoute,
  clusterForwarding,
  ClusterForwardingRoute,
} from "./forwarding";
export type { ForwardingRoute, RedisForwardingOptions } from "./forwarding";
export { ChannelName } from "./diagnostics";
export type {
  AckMessage,
  AdapterErrorMessage,
  AdapterRequestMessage,
  AdapterRequestOutcome,
  BroadcastMessage,
  ConnectionMessage,
  DisconnectMessage,
  EngineCloseMessage,
  EngineOpenMessage,
  EnginePacketInMessage,
  EnginePacketOutMessage,
  EngineRefusedMessage,
  EngineUpgradeMessage,
  EventInMessage,
  EventOutMessage,
} from "./diagnostics";
