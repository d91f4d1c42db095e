/**
 * One small interface over the two Redis clients users bring: `redis` (node-redis 4/5, standalone or cluster)
 * and `ioredis` (Redis or Cluster). The adapters only publish, subscribe in buffer mode and count subscribers.
 */

/** A connected `redis` (node-redis 4/5) or `ioredis` client, or a cluster of either. */
export type RedisClient = object;

/** Receives a message in buffer mode, with the channel it came on. */
export type ChannelHandler = (channel: string, message: Buffer) => void;

type NodeRedisListener = (message: Buffer, channel: Buffer) => void;

interface EventSource {
  on(event: string, listener: (...args: never[]) => void): unknown;
  off?(event: string, listener: (...args: never[]) => void): unknown;
  removeListener?(event: string, listener: (...args: never[]) => void): unknown;
}

/** node-redis's (un)subscribe calls for channels, patterns and shard channels, all in buffer mode. */
type NodeRedisSubscription = (
  channels: string | string[],
  listener: NodeRedisListener,
  bufferMode: true,
) => Promise<void>;

interface NodeRedis extends EventSource {
  publish(channel: string, message: string | Buffer): Promise<unknown>;
  sPublish?(channel: string, message: string | Buffer): Promise<unknown>;
  subscribe: NodeRedisSubscription;
  pSubscribe: NodeRedisSubscription;
  sSubscribe?: NodeRedisSubscription;
  unsubscribe: NodeRedisSubscription;
  pUnsubscribe: NodeRedisSubscription;
  sUnsubscribe?: NodeRedisSubscription;
  sendCommand(args: string[]): Promise<unknown>;
  masters?: unknown[];
  nodeClient?(node: unknown): NodeRedis | Promise<NodeRedis>;
}

interface IoRedis extends EventSource {
  publish(channel: string, message: string | Buffer): Promise<unknown>;
  spublish?(channel: string, message: string | Buffer): Promise<unknown>;
  subscribe(...channels: string[]): Promise<unknown>;
  psubscribe(...patterns: string[]): Promise<unknown>;
  ssubscribe?(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  punsubscribe(...patterns: string[]): Promise<unknown>;
  sunsubscribe?(...channels: string[]): Promise<unknown>;
  call(command: string, ...args: string[]): Promise<unknown>;
  isCluster?: boolean;
  nodes?(role: "master"): IoRedis[];
  /** "wait", "connecting", "connect" (handshake), "ready", "close", "reconnecting", "end". */
  status?: string;
}

function isNodeRedis(client: object): client is NodeRedis {
  return typeof (client as { pSubscribe?: unknown }).pSubscribe === "function";
}

function isIoRedis(client: object): client is IoRedis {
  return typeof (client as { psubscribe?: unknown }).psubscribe === "function";
}

function detach(source: EventSource, event: string, listener: (...args: never[]) => void): void {
  if (source.off) source.off(event, listener);
  else source.removeListener?.(event, listener);
}

type Fanned = (...args: never[]) => void;
const fans = new WeakMap<EventSource, Map<string, { listeners: Set<Fanned>; shared: Fanned }>>();

/**
 * Listens to `event` of a client shared by many adapters (one per namespace) through a single listener, so
 * that a server with many namespaces does not trip the EventEmitter leak warning. Returns the detach function.
 */
function listen(source: EventSource, event: string, listener: Fanned): () => void {
  let byEvent = fans.get(source);
  if (!byEvent) {
    byEvent = new Map();
    fans.set(source, byEvent);
  }
  const events = byEvent;
  let entry = events.get(event);
  if (!entry) {
    const listeners = new Set<Fanned>();
    const shared = (...args: never[]) => {
      for (const l of listeners) l(...args);
    };
    entry = { listeners, shared };
    events.set(event, entry);
    source.on(event, shared);
  }
  const { listeners, shared } = entry;
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && events.get(event)?.shared === shared) {
      events.delete(event);
      detach(source, event, shared);
    }
  };
}

/**
 * The (un)subscriptions held back from one ioredis connection during its handshake, in call order.
 *
 * ioredis (5.8.2 to at least 5.9.2, redis/ioredis#2037) writes a (S|P)SUBSCRIBE at once while its connection is
 * in status "connect" (TCP open, handshake running), ahead of its own ready check (INFO) and of the commands in
 * its offline queue. Redis puts the connection in subscriber mode, the ready check is refused, ioredis fails every
 * command it held (the namespaces' first subscriptions among them) and reconnects knowing none of the channels:
 * the node no longer hears the others. So nothing of ours is handed to a connection in that status: it is held
 * until the status changes, then handed over in order. At "ready" ioredis has already written its offline queue
 * (the "ready" event comes a tick after), so the held calls follow what was queued before them; at "close" or
 * "end" they go to the offline queue or fail as any command would.
 */
interface HeldCall {
  send(): Promise<unknown>;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

const held = new WeakMap<IoRedis, HeldCall[]>();
const STATUS_EVENTS = ["ready", "close", "end", "reconnecting"] as const;

/** Hands `send` to the connection now, or once it has left its handshake (see HeldCall). */
function whenOutOfHandshake(client: IoRedis, send: () => Promise<unknown>): Promise<unknown> {
  let calls = held.get(client);
  if (!calls) {
    if (client.isCluster || client.status !== "connect") return send();
    const waiting: HeldCall[] = [];
    calls = waiting;
    held.set(client, waiting);
    const release = () => {
      if (client.status === "connect") return; // an event of an earlier connection: still in a handshake
      held.delete(client);
      for (const event of STATUS_EVENTS) detach(client, event, release);
      for (const call of waiting) {
        let sent: Promise<unknown>;
        try {
          sent = call.send();
        } catch (err) {
          sent = Promise.reject(err);
        }
        sent.then(call.resolve, call.reject);
      }
    };
    for (const event of STATUS_EVENTS) client.on(event, release);
  }
  const queue = calls;
  return new Promise((resolve, reject) => queue.push({ send, resolve, reject }));
}

function parseCount(reply: unknown): number {
  // PUBSUB NUMSUB / SHARDNUMSUB reply: [channel, count]
  const count = Array.isArray(reply) ? Number(String(reply[1])) : NaN;
  if (!Number.isFinite(count)) throw new Error(`unexpected PUBSUB reply: ${String(reply)}`);
  return count;
}

/**
 * The pub/sub operations of one adapter over a pub client and a sub client. Each instance keeps its own
 * listeners, so the adapters of several namespaces share the clients and unsubscribe only what they subscribed.
 */
export class RedisTransport {
  private readonly kind: "node-redis" | "ioredis";
  // node-redis: one buffer-mode listener per subscription kind (its identity is needed to unsubscribe)
  private readonly channelHandlers = new Map<string, ChannelHandler>();
  private readonly patternHandlers = new Map<string, ChannelHandler>();
  private readonly shardHandlers = new Map<string, ChannelHandler>();
  private readonly detachers: Array<() => void> = [];

  constructor(
    readonly pub: RedisClient,
    readonly sub: RedisClient,
    private readonly onError: (err: unknown) => void,
  ) {
    if (isNodeRedis(pub) && isNodeRedis(sub)) this.kind = "node-redis";
    else if (isIoRedis(pub) && isIoRedis(sub)) this.kind = "ioredis";
    else throw new TypeError("expected two clients of the `redis` (v4/v5) or `ioredis` package");

    const errorListener = (err: unknown) => onError(err);
    for (const client of new Set([pub, sub]) as Set<EventSource>) {
      this.detachers.push(listen(client, "error", errorListener));
    }
    if (this.kind === "ioredis") {
      const ioSub = sub as IoRedis;
      const onMessage = (channel: Buffer, message: Buffer) =>
        this.channelHandlers.get(channel.toString())?.(channel.toString(), message);
      const onPMessage = (pattern: Buffer, channel: Buffer, message: Buffer) =>
        this.patternHandlers.get(pattern.toString())?.(channel.toString(), message);
      const onSMessage = (channel: Buffer, message: Buffer) =>
        this.shardHandlers.get(channel.toString())?.(channel.toString(), message);
      this.detachers.push(
        listen(ioSub, "messageBuffer", onMessage),
        listen(ioSub, "pmessageBuffer", onPMessage),
        listen(ioSub, "smessageBuffer", onSMessage),
      );
      if (!ioSub.isCluster) {
        let reconnecting = false;
        this.detachers.push(
          listen(ioSub, "close", () => (reconnecting = true)),
          listen(ioSub, "ready", () => {
            if (!reconnecting) return;
            reconnecting = false;
            this.subscribeAgain();
          }),
        );
      }
    }
  }

  /**
   * After an ioredis connection closed and is ready again, subscribes every channel, pattern and shard channel
   * this transport wants once more. ioredis resubscribes by itself only what Redis had confirmed on a connection
   * that had been ready, and not at all with `autoResubscribe: false`; a subscription it failed meanwhile (a
   * failed handshake, `maxRetriesPerRequest`) is lost otherwise. Subscribing a channel twice is harmless in
   * Redis; the cost is one more command per channel per reconnection.
   */
  private subscribeAgain(): void {
    const sub = this.sub as IoRedis;
    const failed = (err: unknown) => this.onError(err);
    const channels = [...this.channelHandlers.keys()];
    if (channels.length > 0)
      whenOutOfHandshake(sub, () => sub.subscribe(...channels)).catch(failed);
    for (const pattern of this.patternHandlers.keys())
      whenOutOfHandshake(sub, () => sub.psubscribe(pattern)).catch(failed);
    const ssubscribe = sub.ssubscribe?.bind(sub);
    if (ssubscribe)
      for (const channel of this.shardHandlers.keys())
        whenOutOfHandshake(sub, () => ssubscribe(channel)).catch(failed);
  }

  private readonly nodeListeners = new Map<string, NodeRedisListener>();

  private nodeListener(key: string, handler: ChannelHandler): NodeRedisListener {
    let listener = this.nodeListeners.get(key);
    if (!listener) {
      listener = (message: Buffer, channel: Buffer) => handler(channel.toString(), message);
      this.nodeListeners.set(key, listener);
    }
    return listener;
  }

  publish(channel: string, message: string | Buffer): Promise<unknown> {
    return (this.pub as NodeRedis | IoRedis).publish(channel, message);
  }

  spublish(channel: string, message: string | Buffer): Promise<unknown> {
    if (this.kind === "node-redis") {
      const pub = this.pub as NodeRedis;
      if (!pub.sPublish)
        return Promise.reject(new Error("this `redis` client has no sPublish (needs >= 4.6)"));
      return pub.sPublish(channel, message);
    }
    const pub = this.pub as IoRedis;
    if (!pub.spublish)
      return Promise.reject(new Error("this `ioredis` client has no spublish (needs >= 5.3)"));
    return pub.spublish(channel, message);
  }

  subscribe(channels: string[], handler: ChannelHandler): Promise<unknown> {
    for (const c of channels) this.channelHandlers.set(c, handler);
    if (this.kind === "ioredis") {
      const sub = this.sub as IoRedis;
      return whenOutOfHandshake(sub, () => sub.subscribe(...channels));
    }
    const sub = this.sub as NodeRedis;
    return Promise.all(
      channels.map((c) => sub.subscribe(c, this.nodeListener(`c:${c}`, handler), true)),
    );
  }

  psubscribe(pattern: string, handler: ChannelHandler): Promise<unknown> {
    this.patternHandlers.set(pattern, handler);
    if (this.kind === "ioredis") {
      const sub = this.sub as IoRedis;
      return whenOutOfHandshake(sub, () => sub.psubscribe(pattern));
    }
    return (this.sub as NodeRedis).pSubscribe(
      pattern,
      this.nodeListener(`p:${pattern}`, handler),
      true,
    );
  }

  ssubscribe(channel: string, handler: ChannelHandler): Promise<unknown> {
    this.shardHandlers.set(channel, handler);
    if (this.kind === "ioredis") {
      const sub = this.sub as IoRedis;
      const ssubscribe = sub.ssubscribe?.bind(sub);
      if (!ssubscribe) return Promise.reject(new Error("this `ioredis` client has no ssubscribe"));
      return whenOutOfHandshake(sub, () => ssubscribe(channel));
    }
    const sub = this.sub as NodeRedis;
    if (!sub.sSubscribe)
      return Promise.reject(new Error("this `redis` client has no sSubscribe (needs >= 4.6)"));
    return sub.sSubscribe(channel, this.nodeListener(`s:${channel}`, handler), true);
  }

  unsubscribe(channels: string[]): Promise<unknown> {
    for (const c of channels) this.channelHandlers.delete(c);
    if (this.kind === "ioredis") {
      const sub = this.sub as IoRedis;
      return whenOutOfHandshake(sub, () => sub.unsubscribe(...channels));
    }
    const sub = this.sub as NodeRedis;
    // one channel per call: node-redis mishandles several channels with a listener (node-redis#2052)
    return Promise.all(
      channels.map((c) => this.nodeUnsubscribe(`c:${c}`, (l) => sub.unsubscribe(c, l, true))),
    );
  }

  punsubscribe(pattern: string): Promise<unknown> {
    this.patternHandlers.delete(pattern);
    if (this.kind === "ioredis") {
      const sub = this.sub as IoRedis;
      return whenOutOfHandshake(sub, () => sub.punsubscribe(pattern));
    }
    const sub = this.sub as NodeRedis;
    return this.nodeUnsubscribe(`p:${pattern}`, (l) => sub.pUnsubscribe(pattern, l, true));
  }

  sunsubscribe(channel: string): Promise<unknown> {
    this.shardHandlers.delete(channel);
    if (this.kind === "ioredis") {
      const sub = this.sub as IoRedis;
      const sunsubscribe = sub.sunsubscribe?.bind(sub);
      if (!sunsubscribe) return Promise.resolve();
      return whenOutOfHandshake(sub, () => sunsubscribe(channel));
    }
    const sub = this.sub as NodeRedis;
    return this.nodeUnsubscribe(
      `s:${channel}`,
      (l) => sub.sUnsubscribe?.(channel, l, true) ?? Promise.resolve(),
    );
  }

  private nodeUnsubscribe(
    key: string,
    run: (listener: NodeRedisListener) => Promise<void>,
  ): Promise<unknown> {
    const listener = this.nodeListeners.get(key);
    if (!listener) return Promise.resolve();
    this.nodeListeners.delete(key);
    return run(listener);
  }

  /** `PUBSUB NUMSUB|SHARDNUMSUB channel`, summed over the masters of a cluster. */
  async countSubscribers(kind: "NUMSUB" | "SHARDNUMSUB", channel: string): Promise<number> {
    if (this.kind === "ioredis") {
      const pub = this.pub as IoRedis;
      if (pub.isCluster && pub.nodes) {
        const counts = await Promise.all(
          pub.nodes("master").map((n) => n.call("PUBSUB", kind, channel)),
        );
        return counts.reduce<number>((sum, reply) => sum + parseCount(reply), 0);
      }
      return parseCount(await pub.call("PUBSUB", kind, channel));
    }
    const pub = this.pub as NodeRedis;
    if (Array.isArray(pub.masters) && pub.nodeClient) {
      const nodeClient = pub.nodeClient.bind(pub);
      const counts = await Promise.all(
        pub.masters.map(async (master) =>
          (await nodeClient(master)).sendCommand(["PUBSUB", kind, channel]),
        ),
      );
      return counts.reduce<number>((sum, reply) => sum + parseCount(reply), 0);
    }
    return parseCount(await pub.sendCommand(["PUBSUB", kind, channel]));
  }

  /** Removes this transport's client listeners (subscriptions are removed by the unsubscribe calls). */
  detach(): void {
    for (const run of this.detachers.splice(0)) run();
  }
}
