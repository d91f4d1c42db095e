/** Serving polling requests of sessions another node owns: the route interface and its implementations. */
export type { ForwardingRoute } from "./route";
export { redisForwarding, RedisForwardingRoute, type RedisForwardingOptions } from "./redis";
export { clusterForwarding, ClusterForwardingRoute, FORWARDING_SOURCE } from "./cluster";
