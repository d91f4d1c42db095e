/**
 * The Socket.IO layer's limits (docs/limits.md lists every limit of every layer): their options, defaults, and
 * the texts a client or an application sees when one is hit.
 */
import { TokenBucket } from "../util/token-bucket";

/** A per-connection limit on incoming Socket.IO packets (opt-in). */
export interface PacketRateLimit {
  /** Packets per second, sustained. */
  rate: number;
  /** Packets allowed at once above the rate (the bucket's size); default `rate`. */
  burst?: number;
  /**
   * What happens to a packet over the limit: "drop" ignores it (default), "disconnect" closes the connection with
   * the disconnect reason "rate limit exceeded".
   */
  onLimit?: "drop" | "disconnect";
}

export interface LimitOptions {
  /** Acks one socket may await at once; default 10000. Past it, `emit()` returns false and the ack gets an error. */
  maxPendingAcks: number;
  /** Namespaces one connection may be connected or connecting to at once; default 100. */
  maxNamespacesPerConnection: number;
  /** Incoming packets per connection; default off. */
  packetRateLimit: PacketRateLimit | undefined;
  /** ms `io.close()` waits for the adapters to close before it finishes anyway; default 5000. */
  closeTimeout: number;
}

export const DEFAULT_MAX_PENDING_ACKS = 10_000;
export const DEFAULT_MAX_NAMESPACES_PER_CONNECTION = 100;
export const DEFAULT_CLOSE_TIMEOUT = 5000;

export const LimitErrorMessage = {
  /** The ack of an emit past `maxPendingAcks` receives an Error with this message. */
  TOO_MANY_PENDING_ACKS: "too many pending acknowledgements",
  /** The CONNECT_ERROR of a CONNECT past `maxNamespacesPerConnection`. */
  TOO_MANY_NAMESPACES: "too many namespaces",
} as const;

export function resolveLimits(opts: Partial<LimitOptions>): LimitOptions {
  return {
    maxPendingAcks: opts.maxPendingAcks ?? DEFAULT_MAX_PENDING_ACKS,
    maxNamespacesPerConnection:
      opts.maxNamespacesPerConnection ?? DEFAULT_MAX_NAMESPACES_PER_CONNECTION,
    packetRateLimit: opts.packetRateLimit,
    closeTimeout: opts.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
  };
}

/** The bucket of one connection, or undefined when the limit is off. */
export function packetBucket(limit: PacketRateLimit | undefined): TokenBucket | undefined {
  if (limit === undefined) return undefined;
  return new TokenBucket(limit.rate, limit.burst ?? limit.rate);
}

/** Resolves after `ms` (unref'd: it never keeps the process alive) with `undefined`. */
export function deadline(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
