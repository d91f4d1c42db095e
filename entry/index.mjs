// The ESM entry exports the same names as the CommonJS one (test/package/entries.test.ts keeps the two in step).
import switchyard from "./index.cjs";

export const {
  Server,
  Namespace,
  ParentNamespace,
  Socket,
  BroadcastOperator,
  RemoteSocket,
  Adapter,
  SessionAwareAdapter,
  RECOVERABLE_DISCONNECT_REASONS,
  parser,
  protocol,
  ChannelName,
  redisForwarding,
  RedisForwardingRoute,
  clusterForwarding,
  ClusterForwardingRoute,
} = switchyard;
export default switchyard;
