/**
 * The Redis route for forwarded requests: one channel per node, `<key>#<nodeId>#`, and one for requests whose
 * owner is not known yet, `<key>#all#`. It reuses the application's Redis clients (those given to the adapter:
 * a publishing one and a subscribed one, of `redis` or `ioredis`), in buffer mode; each message is one
 * wire.ts Buffer, published as is.
 */
import { randomBytes } from "node:crypto";
import createDebug from "debug";
import { type RedisClient, RedisTransport } from "../adapters/redis/client";
import type { ForwardingRoute } from "./route";

const debug = createDebug("switchyard:forwarding:redis");

export interface RedisForwardingOptions {
  /** The channels' prefix; default "switchyard-fwd". */
  key?: string;
  /** This node's id; default 16 random hex digits. */
  nodeId?: string;
}

export class RedisForwardingRoute implements ForwardingRoute {
  readonly nodeId: string;
  /** Resolves once this node's channels are subscribed. */
  ready: Promise<void> = Promise.resolve();
  private readonly transport: RedisTransport;
  private readonly key: string;
  private channels: string[] = [];

  constructor(pub: RedisClient, sub: RedisClient, opts: RedisForwardingOptions = {}) {
    this.nodeId = opts.nodeId ?? randomBytes(8).toString("hex");
    this.key = opts.key ?? "switchyard-fwd";
    this.transport = new RedisTransport(pub, sub, (err) =>
      debug("redis error: %s", (err as Error)?.message),
    );
  }

  private channel(node: string | null): string {
    return `${this.key}#${node ?? "all"}#`;
  }

  send(to: string | null, message: Buffer): void {
    this.transport.publish(this.channel(to), message).catch((err: unknown) => {
      debug("publish failed: %s", (err as Error)?.message);
    });
  }

  listen(handler: (message: Buffer) => void): void {
    this.channels = [this.channel(this.nodeId), this.channel(null)];
    this.ready = this.transport
      .subscribe(this.channels, (_channel, message) => handler(message))
      .then(() => undefined);
    this.ready.catch((err: unknown) => debug("subscribe failed: %s", (err as Error)?.message));
  }

  close(): void {
    if (this.channels.length > 0) {
      this.transport.unsubscribe(this.channels).catch(() => undefined);
      this.channels = [];
    }
    this.transport.detach();
  }
}

/** The Redis route for the engine's `forwarding` option, over the application's `pub` and `sub` clients. */
export function redisForwarding(
  pub: RedisClient,
  sub: RedisClient,
  opts?: RedisForwardingOptions,
): RedisForwardingRoute {
  return new RedisForwardingRoute(pub, sub, opts);
}
