/**
 * The Redis Streams adapter, wire compatible with `@socket.io/redis-streams-adapter` 0.3.x: the ClusterAdapter
 * protocol, with broadcasts and room operations appended to a Redis stream (whose entry ids are the offsets of
 * connection state recovery) and requests / responses over pub/sub.
 *
 *   stream entry   XADD <stream> MAXLEN ~ <maxLen> * uid <uid> nsp <nsp> type <n> data <JSON | base64 msgpack>
 *   requests       PUBLISH <channelPrefix>#<nsp>#       msgpack({type, data, uid, nsp})
 *   responses      PUBLISH <channelPrefix>#<nsp>#<uid>#  msgpack({type, data, uid, nsp})
 *   sessions       SET <sessionKeyPrefix><pid> base64(msgpack({sid, pid, rooms, data})) PX <ms>
 *
 * Beyond the official adapter: the sessions of connected sockets are saved while they are connected (on
 * connect, on each join / leave, every `sessionSaveInterval` and on demand), so a client whose node died
 * recovers on another node; and with `streamCount` > 1 the streams the official naming writes to but never
 * reads (`<streamName>--<k>`, namespaces with a negative hash) are read as well. While Redis does not answer,
 * every wait is bounded (REDIS_ANSWER_DEADLINE_MS), session saves wait at most one per session (session-writer.ts),
 * and the reading and pub/sub connections have watchdogs that replace a connection gone silent.
 */
import createDebug from "debug";
import * as notepack from "notepack.io";
import {
  type AdapterNamespace,
  type AdapterPacket,
  type BroadcastOptions,
  type Room,
  type Session,
  type SessionToPersist,
  type SocketId,
} from "../../adapter/adapter";
import { isRecoverablePacket, shouldIncludePacket } from "../../adapter/sessions";
import {
  ClusterAdapter,
  MessageType,
  encodeOptions,
  isRecord,
  roomList,
  wirePacket,
  withTimeout,
  type ClusterAdapterOptions,
  type ClusterMessage,
} from "../../adapter/cluster";
import { AdapterErrorMessage } from "../../adapter/errors";
import { hasBinary } from "../../parser/binary";
import { RedisTransport, type RedisClient } from "../redis/client";
import {
  DEFAULT_MAX_PENDING_PUBLISHES,
  DEFAULT_MAX_PENDING_PUBLISH_BYTES,
  PUBLISH_REFUSED,
  PendingPublishes,
  publishBounds,
  type PublishBoundOptions,
} from "../redis/pending-publishes";
import {
  checkClient,
  command,
  disconnect,
  duplicate,
  getAndDelete,
  isReady,
  parseEntries,
  parseRead,
  type StreamEntry,
} from "./commands";
import { SessionWriter } from "./session-writer";

const debug = createDebug("switchyard:redis-streams");

export interface RedisStreamsAdapterOptions extends ClusterAdapterOptions, PublishBoundOptions {
  /** Name of the stream, or prefix of the streams when `streamCount` > 1. Default "socket.io". */
  streamName?: string;
  /** Number of streams; a namespace goes to one of them by the hash of its name. Default 1. */
  streamCount?: number;
  /** Prefix of the pub/sub channels of requests and responses. Default "socket.io". */
  channelPrefix?: string;
  /** SPUBLISH / SSUBSCRIBE (Redis 7) instead of PUBLISH / SUBSCRIBE. Default false. */
  useShardedPubSub?: boolean;
  /** `XADD … MAXLEN ~ maxLen`: how many entries a stream keeps (and so how far back a session recovers). Default 10000. */
  maxLen?: number;
  /** XREAD COUNT. Default 100. */
  readCount?: number;
  /** XREAD BLOCK, in ms. Default 5000. */
  blockTimeInMs?: number;
  /** Prefix of the session keys. Default "sio:session:". */
  sessionKeyPrefix?: string;
  /** Accepted for compatibility; unused (as in the official adapter, which has no heartbeat). */
  heartbeatInterval?: number;
  /** Accepted for compatibility; unused. */
  heartbeatTimeout?: number;
  /** Always JSON in the stream, never base64 msgpack (binary is then lost). Default false. */
  onlyPlaintext?: boolean;
  /**
   * Save the session of each connected socket (connection state recovery on), so that it can recover on another
   * node if this one dies. Default true.
   */
  saveLiveSessions?: boolean;
  /**
   * How often the sessions of connected sockets are saved again (their `socket.data`, and their expiry), in ms.
   * Default half of `maxDisconnectionDuration`.
   */
  sessionSaveInterval?: number;
  /**
   * At most this many sessions wait to be saved (or deleted) while Redis does not answer; past it the oldest
   * waiting save is dropped, reported once on the `error` event. Default 10000.
   */
  maxPendingSessionSaves?: number;
  /**
   * How often the pub/sub connection is checked with a PING, in ms; one unanswered within
   * REDIS_ANSWER_DEADLINE_MS is replaced by a new connection that subscribes again. 0 turns the check off.
   * Default 5000.
   */
  subscriberPingInterval?: number;
}

type ResolvedOptions = Required<Omit<RedisStreamsAdapterOptions, "sessionSaveInterval">> & {
  sessionSaveInterval?: number;
};

/** Java's String.hashCode (int32), the official adapter's stream routing. */
export function hashCode(s: string): number {
  let hash = 0;
  for (let i = 0; i < s.length; i++) hash = (hash * 31 + s.charCodeAt(i)) | 0;
  return hash;
}

/** The stream a namespace writes to, named as the official adapter names it (`-k` for a negative hash). */
export function streamFor(nsp: string, streamName: string, streamCount: number): string {
  if (streamCount === 1) return streamName;
  return `${streamName}-${hashCode(nsp) % streamCount}`;
}

/** Every stream a namespace may be written to: `name-0 … name-(N-1)` and `name--1 … name--(N-1)`. */
export function streamsToRead(streamName: string, streamCount: number): string[] {
  if (streamCount === 1) return [streamName];
  const names: string[] = [];
  for (let i = 0; i < streamCount; i++) names.push(`${streamName}-${i}`);
  for (let i = 1; i < streamCount; i++) names.push(`${streamName}--${i}`);
  return names;
}

const OFFSET = /^[0-9]+-[0-9]+$/;
/**
 * How long a step that a client or the application waits on waits for Redis's answer (a Redis client holds its
 * commands while it reconnects: node-redis's offline queue; ioredis's until `maxRetriesPerRequest`), then goes on
 * without it and reports the error on the `error` event: a broadcast is delivered locally without its offset, a
 * reconnecting client connects afresh (`socket.recovered === false`), `close()` stops waiting for its
 * unsubscriptions. It is also the margin the stream reader's watchdog adds to XREAD's BLOCK time. socket.io has no
 * option for it.
 */
export const REDIS_ANSWER_DEADLINE_MS = 2000;
const RESTORE_PAGE = 1000;
/** Kinds of messages that may carry binary (and so go to the stream as base64 msgpack). */
const MAY_CARRY_BINARY: ReadonlySet<number> = new Set([
  MessageType.BROADCAST,
  MessageType.FETCH_SOCKETS_RESPONSE,
  MessageType.SERVER_SIDE_EMIT,
  MessageType.SERVER_SIDE_EMIT_RESPONSE,
  MessageType.BROADCAST_ACK,
]);

function isEphemeral(message: ClusterMessage): boolean {
  if (message.type === MessageType.BROADCAST) return message.data?.requestId !== undefined;
  return (
    message.type === MessageType.SERVER_SIDE_EMIT || message.type === MessageType.FETCH_SOCKETS
  );
}

/** `ms-seq` → `ms-(seq+1)`: the first id after an offset (exclusive ranges need Redis 6.2). */
function nextOffset(offset: string): string {
  const dash = offset.indexOf("-");
  return `${offset.slice(0, dash)}-${BigInt(offset.slice(dash + 1)) + 1n}`;
}

const NO_ANSWER = Symbol("no answer");

/** What `promise` gives, or NO_ANSWER once `ms` have passed (a later rejection is then ignored). */
function answerWithin<T>(promise: Promise<T>, ms: number): Promise<T | typeof NO_ANSWER> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof NO_ANSWER>((resolve) => {
    timer = setTimeout(() => resolve(NO_ANSWER), ms);
    timer.unref?.();
  });
  promise.catch(() => {});
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref?.();
  });

/**
 * What the adapters of one `createAdapter` call share: the client, one connection for pub/sub, one connection
 * reading every stream in a single blocking XREAD, and the queue of session writes.
 */
class StreamsHub {
  readonly adapters = new Map<string, RedisStreamsAdapter>();
  /** The pub/sub connection, connected (a new promise when it is replaced). */
  sub: Promise<RedisClient>;
  /** The pub/sub connection once connected (adapters created later subscribe without waiting a turn). */
  subClient?: RedisClient;
  /** A pub/sub connection being created (closed by stop() even while it connects). */
  private subConnecting?: RedisClient;
  private pingTimer?: NodeJS.Timeout;
  private pinging = false;
  readonly sessions: SessionWriter;
  private reader?: RedisClient;
  private readonly lastIds = new Map<string, string>();
  private readonly started: Promise<void>;
  private stopped = false;

  constructor(
    readonly client: RedisClient,
    readonly opts: ResolvedOptions,
  ) {
    this.sessions = new SessionWriter(client, opts.maxPendingSessionSaves, (err) =>
      this.reportError(err),
    );
    this.sub = this.connectSub();
    this.sub.catch((err: unknown) => this.reportError(err));
    if (opts.subscriberPingInterval > 0) {
      this.pingTimer = setInterval(() => void this.pingSub(), opts.subscriberPingInterval);
      this.pingTimer.unref?.();
    }
    // the streams' tails are asked for now, with the first namespace: whatever is appended after this (from
    // a node that has not heard of this one yet) is read, even before the reading connection is up
    this.started = this.run().catch((err: unknown) => this.reportError(err));
  }

  reportError(err: unknown): void {
    for (const adapter of this.adapters.values()) adapter.reportHubError(err);
  }

  private async connectSub(): Promise<RedisClient> {
    const sub = await duplicate(
      this.client,
      (err) => this.reportError(err),
      (copy) => (this.subConnecting = copy),
    );
    this.subConnecting = undefined;
    if (this.stopped) {
      disconnect(sub);
      throw new Error("the adapter is closed");
    }
    this.subClient = sub;
    return sub;
  }

  /**
   * The pub/sub connection's watchdog: one PING per `subscriberPingInterval`, which Redis answers on a subscribed
   * connection too (node-redis 5 and ioredis allow PING there). Unanswered within REDIS_ANSWER_DEADLINE_MS, the
   * connection is taken for dead without either end noticing (or Redis for stalled): it is reported, closed, and
   * a new one subscribes every namespace's channels again. A connection that its client knows to be down is not
   * pinged: the client reconnects and subscribes again by itself (and a PING would wait in its offline queue).
   */
  private async pingSub(): Promise<void> {
    const sub = this.subClient;
    if (this.pinging || this.stopped || !sub || !isReady(sub)) return;
    this.pinging = true;
    let answer: unknown;
    try {
      answer = await answerWithin(command(sub, ["PING"]), REDIS_ANSWER_DEADLINE_MS);
    } catch {
      // the connection failed: its client reports it and reconnects
      answer = undefined;
    } finally {
      this.pinging = false;
    }
    if (answer !== NO_ANSWER || this.stopped || this.subClient !== sub) return;
    this.reportError(
      new Error(
        `no answer from Redis to PING on the pub/sub connection in ${REDIS_ANSWER_DEADLINE_MS} ms: ` +
          `subscribing again on a new connection`,
      ),
    );
    this.subClient = undefined;
    disconnect(sub);
    this.pinging = true; // no PING until the new connection is there
    try {
      while (!this.stopped) {
        this.sub = this.connectSub();
        try {
          await this.sub;
          break;
        } catch (err) {
          if (this.stopped) return;
          this.reportError(err);
          await sleep(1000);
        }
      }
      const fresh = this.subClient as RedisClient | undefined;
      if (!fresh) return;
      for (const adapter of this.adapters.values()) adapter.resubscribe(fresh);
    } finally {
      this.pinging = false;
    }
  }

  /** Resolves once the reading connection is up (errors go to the adapters' `error` event meanwhile). */
  start(): Promise<void> {
    return this.started;
  }

  /** The last entry of each stream now, then the reading loop from there. */
  private async run(): Promise<void> {
    const streams = streamsToRead(this.opts.streamName, this.opts.streamCount);
    for (let failures = 0; !this.stopped;) {
      try {
        const tails = await Promise.all(
          streams.map((s) => command(this.client, ["XREVRANGE", s, "+", "-", "COUNT", "1"])),
        );
        streams.forEach((s, i) => this.lastIds.set(s, parseEntries(tails[i])[0]?.id ?? "0-0"));
        break;
      } catch (err) {
        // Redis not there yet: report once, retry with the XREAD loop's pause
        if (failures++ === 0) this.reportError(err);
        await sleep(Math.min(1000, 50 * 2 ** failures));
      }
    }
    if (this.stopped) return;
    debug("reading %s from %o", streams, Object.fromEntries(this.lastIds));
    const reader = await this.connectReader();
    if (reader) void this.poll(reader);
  }

  /** A new reading connection, closed by stop() even while it connects; undefined once stopped. */
  private async connectReader(): Promise<RedisClient | undefined> {
    const reader = await duplicate(
      this.client,
      () => {},
      (copy) => (this.reader = copy),
    );
    if (!this.stopped) return reader;
    disconnect(reader);
    return undefined;
  }

  /**
   * The reading loop. Watchdog: an XREAD answers within its BLOCK time, so one that has not answered
   * REDIS_ANSWER_DEADLINE_MS after that is taken for a connection that died without noticing (or a Redis that
   * stopped answering): it is reported, the connection is dropped and a new one reads on from the same ids.
   */
  private async poll(first: RedisClient): Promise<void> {
    let reader: RedisClient | undefined = first;
    let failures = 0;
    const watchdog = this.opts.blockTimeInMs + REDIS_ANSWER_DEADLINE_MS;
    while (!this.stopped) {
      if (!reader) {
        try {
          reader = await this.connectReader();
        } catch (err) {
          this.reportError(err);
          await sleep(1000);
        }
        continue;
      }
      const streams = [...this.lastIds.keys()];
      const args = [
        "XREAD",
        "COUNT",
        String(this.opts.readCount),
        "BLOCK",
        String(this.opts.blockTimeInMs),
        "STREAMS",
        ...streams,
        ...streams.map((s) => this.lastIds.get(s) as string),
      ];
      let reply: unknown;
      try {
        reply = await answerWithin(command(reader, args), watchdog);
      } catch (err) {
        if (this.stopped) return;
        // Redis down or restarting: report, then retry with a growing pause (the ids read so far are kept)
        if (failures++ === 0) this.reportError(err);
        await sleep(Math.min(1000, 50 * 2 ** failures));
        continue;
      }
      if (reply === NO_ANSWER) {
        if (this.stopped) return;
        this.reportError(
          new Error(`no answer from Redis to XREAD in ${watchdog} ms: reading on a new connection`),
        );
        disconnect(reader);
        reader = undefined;
        continue;
      }
      failures = 0;
      for (const [stream, entries] of parseRead(reply)) {
        if (debug.enabled)
          debug(
            "read %s after %s: %s",
            stream,
            this.lastIds.get(stream),
            entries.map((e) => e.id),
          );
        for (const entry of entries) {
          this.lastIds.set(stream, entry.id);
          const nsp = entry.fields.nsp;
          if (nsp) this.adapters.get(nsp)?.onEntry(entry);
        }
      }
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.pingTimer);
    this.sessions.stop();
    if (this.reader) disconnect(this.reader);
    if (this.subConnecting) disconnect(this.subConnecting);
    if (this.subClient) disconnect(this.subClient);
    this.sub.then(disconnect, () => {});
  }
}

/**
 * Returns the adapter factory of the `adapter` server option. `redisClient` (node-redis 4/5 or ioredis,
 * connected) publishes; the adapter opens two more connections with `duplicate()`: one for pub/sub and one
 * reading the streams.
 */
export function createAdapter(
  redisClient: RedisClient,
  opts: RedisStreamsAdapterOptions = {},
): (nsp: AdapterNamespace) => RedisStreamsAdapter {
  checkClient(redisClient);
  const options: ResolvedOptions = {
    streamName: "socket.io",
    streamCount: 1,
    channelPrefix: "socket.io",
    useShardedPubSub: false,
    maxLen: 10000,
    readCount: 100,
    blockTimeInMs: 5000,
    sessionKeyPrefix: "sio:session:",
    heartbeatInterval: 5000,
    heartbeatTimeout: 10000,
    onlyPlaintext: false,
    requestsTimeout: 5000,
    saveLiveSessions: true,
    maxPendingSessionSaves: 10000,
    subscriberPingInterval: 5000,
    maxPendingPublishes: DEFAULT_MAX_PENDING_PUBLISHES,
    maxPendingPublishBytes: DEFAULT_MAX_PENDING_PUBLISH_BYTES,
    ...stripUndefined(opts),
  };
  publishBounds(options);
  if (!Number.isInteger(options.streamCount) || options.streamCount < 1)
    throw new RangeError("streamCount must be a positive integer");
  if (!Number.isInteger(options.maxPendingSessionSaves) || options.maxPendingSessionSaves < 1)
    throw new RangeError("maxPendingSessionSaves must be a positive integer");
  if (!(options.subscriberPingInterval >= 0))
    throw new RangeError("subscriberPingInterval must be 0 (off) or a number of ms");
  let hub: StreamsHub | undefined;
  // a plain function, so that servers calling it with `new` (as socket.io does) get the adapter too
  return function (nsp: AdapterNamespace) {
    hub ??= new StreamsHub(redisClient, options);
    const current = hub;
    const adapter = new RedisStreamsAdapter(nsp, current, options);
    current.adapters.set(nsp.name, adapter);
    adapter.once("closed", () => {
      if (current.adapters.get(nsp.name) === adapter) current.adapters.delete(nsp.name);
      if (current.adapters.size === 0) {
        current.stop();
        if (hub === current) hub = undefined;
      }
    });
    return adapter;
  };
}

function stripUndefined<T extends object>(obj: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(obj))
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** The session as it is stored: `{sid, pid, rooms, data}`, msgpack, base64. */
function encodeSession(sid: string, pid: string, rooms: Room[], data: unknown): string {
  return (notepack.encode({ sid, pid, rooms, data }) as Buffer).toString("base64");
}

export class RedisStreamsAdapter extends ClusterAdapter {
  /** The stream this namespace writes to (and restores from). */
  readonly streamName: string;
  readonly publicChannel: string;
  readonly privateChannel: string;
  private transport?: RedisTransport;
  /**
   * The publishes (XADD, PUBLISH) waiting in the client, bounded (`maxPendingPublishes`,
   * `maxPendingPublishBytes`): `publishes.pending`, `publishes.pendingBytes`, and `publishes.dropped` (those this
   * adapter did not send; a dropped XADD has no offset: see the README).
   */
  readonly publishes: PendingPublishes;
  /** The local delivery of the last broadcast still waiting for its XADD (a refused one is delivered after it). */
  private lastDelivery?: Promise<void>;
  /** The subscription of the channels on the transport's connection. */
  private attached?: Promise<unknown>;
  private subscribed?: Promise<void>;
  private closed = false;
  private readonly client: RedisClient;
  /** Sockets whose session must be saved again (flushed on the next turn of the event loop). */
  private readonly dirty = new Set<SocketId>();
  private flushScheduled = false;
  /** Socket id → pid of the sessions saved while connected (to delete them when a socket leaves for good). */
  private readonly livePids = new Map<SocketId, string>();
  /** Pids persisted by a recoverable disconnection: their key must stay. */
  private readonly persisted = new Set<string>();
  private saveTimer?: NodeJS.Timeout;
  private readonly handler = (channel: string, message: Buffer) =>
    this.onPubSubMessage(channel, message);

  constructor(
    nsp: AdapterNamespace,
    private readonly hub: StreamsHub,
    private readonly opts: ResolvedOptions,
  ) {
    super(nsp, opts);
    this.client = hub.client;
    this.streamName = streamFor(nsp.name, opts.streamName, opts.streamCount);
    this.publicChannel = `${opts.channelPrefix}#${nsp.name}#`;
    this.privateChannel = `${this.publicChannel}${this.uid}#`;
    this.publishes = new PendingPublishes(this.client, opts, (err) => this.reportError(err));
  }

  /**
   * Session saves (and deletions) waiting to be given to the Redis client, at most one per session and at most
   * `maxPendingSessionSaves`; shared by the namespaces of one `createAdapter` call. Non-zero only while Redis is
   * slow to answer or does not answer.
   */
  get pendingSessionSaves(): number {
    return this.hub.sessions.pending;
  }

  /** Errors of the shared connections, reported on this adapter's `error` event. */
  reportHubError(err: unknown): void {
    this.reportError(err);
  }

  private get recovery() {
    return this.nsp.connectionStateRecovery;
  }

  private get liveSaving(): boolean {
    return this.recovery !== undefined && this.opts.saveLiveSessions;
  }

  override init(): Promise<void> {
    // subscribed in this turn when the connection is there: a request published right after the namespace
    // is created on another node must find this node subscribed
    this.subscribed ??= this.subscribe(this.hub.subClient).then(() => this.startSaving());
    return this.subscribed;
  }

  private async subscribe(ready: RedisClient | undefined): Promise<void> {
    try {
      const sub = ready ?? (await this.hub.sub);
      if (this.closed) return;
      // the hub may have replaced the connection meanwhile (its watchdog)
      await Promise.all([this.attach(this.hub.subClient ?? sub), this.hub.start()]);
      debug("[%s] subscribed to %s, reading %s", this.uid, this.publicChannel, this.streamName);
    } catch (err) {
      this.reportError(err);
    }
  }

  /** Subscribes this namespace's channels on the hub's new pub/sub connection (the old one was dropped). */
  resubscribe(sub: RedisClient): void {
    if (this.closed || this.subscribed === undefined) return;
    this.attach(sub).then(
      () => debug("[%s] subscribed again to %s", this.uid, this.publicChannel),
      (err: unknown) => this.reportError(err),
    );
  }

  /** Subscribes the channels on `sub`, once per connection (the hub and `init()` may both ask). */
  private attach(sub: RedisClient): Promise<unknown> {
    if (this.transport?.sub === sub && this.attached) return this.attached;
    this.transport?.detach();
    const transport = new RedisTransport(this.client, sub, (err) => this.reportError(err));
    this.transport = transport;
    const channels = [this.publicChannel, this.privateChannel];
    this.attached = this.opts.useShardedPubSub
      ? Promise.all(channels.map((c) => transport.ssubscribe(c, this.handler)))
      : transport.subscribe(channels, this.handler);
    return this.attached;
  }

  private startSaving(): void {
    if (!this.liveSaving || this.closed) return;
    const every = this.saveInterval();
    this.saveTimer = setInterval(() => {
      for (const id of this.nsp.sockets.keys()) this.markDirty(id);
    }, every);
    this.saveTimer.unref?.();
  }

  private saveInterval(): number {
    const max = this.recovery?.maxDisconnectionDuration ?? 120000;
    return this.opts.sessionSaveInterval ?? Math.max(1000, Math.floor(max / 2));
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.saveTimer);
    this.abortRequests(AdapterErrorMessage.ADAPTER_CLOSED);
    const transport = this.transport;
    if (transport) {
      const channels = [this.publicChannel, this.privateChannel];
      const unsubscribed = Promise.all(
        this.opts.useShardedPubSub
          ? channels.map((c) => transport.sunsubscribe(c))
          : [transport.unsubscribe(channels)],
      );
      // bounded: "closed" stops the shared connections once the last adapter is closed, Redis up or not
      await withTimeout(unsubscribed, REDIS_ANSWER_DEADLINE_MS, "unsubscribing").catch(
        (err: unknown) => this.reportError(err),
      );
      transport.detach();
    }
    this.emit("closed");
  }

  // ---- publishing ---------------------------------------------------------------------------------------

  /** The stream entry's fields, in the official order (uid, nsp, type, data); encoded now, synchronously. */
  private entryFields(message: ClusterMessage): string[] {
    const fields = [
      "uid",
      String(message.uid),
      "nsp",
      String(message.nsp),
      "type",
      String(message.type),
    ];
    if (message.data) {
      const binary =
        !this.opts.onlyPlaintext && MAY_CARRY_BINARY.has(message.type) && hasBinary(message.data);
      fields.push(
        "data",
        binary
          ? (notepack.encode(message.data) as Buffer).toString("base64")
          : JSON.stringify(message.data),
      );
    }
    return fields;
  }

  /** PUBLISH / SPUBLISH, unless too many publishes wait for Redis (then undefined; see pending-publishes.ts). */
  private pubsubPublish(channel: string, message: ClusterMessage): Promise<unknown> | undefined {
    const payload = notepack.encode(message) as Buffer;
    if (!this.publishes.admit(payload.length)) return undefined;
    let sending: Promise<unknown>;
    try {
      sending = this.opts.useShardedPubSub
        ? this.command(["SPUBLISH", channel], payload)
        : this.command(["PUBLISH", channel], payload);
    } catch (err) {
      sending = Promise.reject(err);
    }
    return this.publishes.track(sending, payload.length);
  }

  private command(args: string[], payload?: Buffer): Promise<unknown> {
    if (!payload) return command(this.client, args);
    // binary payloads go through the client's own publish (raw commands are strings)
    const c = this.client as {
      publish(ch: string, m: Buffer): Promise<unknown>;
      spublish?(ch: string, m: Buffer): Promise<unknown>;
      sPublish?(ch: string, m: Buffer): Promise<unknown>;
    };
    if (args[0] === "PUBLISH") return c.publish(args[1] as string, payload);
    const spublish = c.sPublish ?? c.spublish;
    if (!spublish) return Promise.reject(new Error("this Redis client has no sharded publish"));
    return spublish.call(c, args[1] as string, payload);
  }

  /**
   * XADD; resolves with the entry id (the offset), or undefined when it failed (reported once until Redis
   * answers). Undefined when too many publishes wait for Redis: not sent (see pending-publishes.ts), so the
   * message has no entry, and no offset.
   */
  private xadd(message: ClusterMessage): Promise<string | undefined> | undefined {
    const fields = this.entryFields(message);
    // the entry's size is its data's (the other fields are a few dozen bytes)
    const size = (fields[7]?.length ?? 0) + 64;
    if (!this.publishes.admit(size)) return undefined;
    const sending = command(this.client, [
      "XADD",
      this.streamName,
      "MAXLEN",
      "~",
      String(this.opts.maxLen),
      "*",
      ...fields,
    ]);
    return this.publishes.track(sending, size).then((id) => {
      if (id === undefined) return undefined;
      if (debug.enabled)
        debug("[%s] appended %s to %s (type %s)", this.uid, id, this.streamName, message.type);
      return String(id);
    });
  }

  protected override async doPublish(message: ClusterMessage): Promise<string> {
    if (this.closed) return "";
    const sending = isEphemeral(message)
      ? this.pubsubPublish(this.publicChannel, message)
      : this.xadd(message);
    if (!sending) {
      this.publishRefused(message, `${PUBLISH_REFUSED}: the request was not sent`);
      return "";
    }
    const offset = await sending;
    return typeof offset === "string" ? offset : "";
  }

  protected override async doPublishResponse(
    requesterUid: string,
    response: ClusterMessage,
  ): Promise<void> {
    if (this.closed) return;
    // refused (too many publishes waiting for Redis): the requester times out, as without an answer
    await this.pubsubPublish(
      `${this.opts.channelPrefix}#${this.nsp.name}#${requesterUid}#`,
      response,
    );
  }

  /**
   * Appends to the stream first, then delivers locally with the entry id as the offset (so every node sends
   * the same offset). If Redis fails, or has not answered within REDIS_ANSWER_DEADLINE_MS (a client holds its commands
   * while reconnecting: node-redis's offline queue), the local delivery happens without an offset and the error
   * goes to the `error` event (once until Redis answers); an entry that Redis takes later still reaches the
   * other nodes. Past `maxPendingPublishes` / `maxPendingPublishBytes` no XADD is sent: delivered locally without
   * waiting (after the broadcasts still waiting for their XADD).
   */
  override broadcast(packet: AdapterPacket, opts: BroadcastOptions): void | Promise<void> {
    if (opts.flags?.local || this.closed) return this.localBroadcast(packet, opts);
    const message: ClusterMessage = {
      type: MessageType.BROADCAST,
      data: { packet: wirePacket(packet), opts: encodeOptions(opts) },
      uid: this.uid,
      nsp: this.nsp.name,
    };
    let sent: Promise<string | undefined> | undefined;
    try {
      sent = this.xadd(message);
    } catch (err) {
      this.reportError(err);
      return this.localBroadcast(packet, opts);
    }
    // too many publishes waiting for Redis: this node's clients get it without an offset (it has no entry in
    // the stream: the other nodes never get it and no client can recover it), right after the broadcasts still
    // waiting for their XADD, so that they get them in order
    if (!sent) {
      const previous = this.lastDelivery;
      if (!previous) return this.localBroadcast(packet, opts);
      const delivery = previous.then(() => this.localBroadcast(packet, opts));
      this.lastDelivery = delivery;
      void delivery.then(() => {
        if (this.lastDelivery === delivery) this.lastDelivery = undefined;
      });
      return delivery;
    }
    const delivery = new Promise<void>((resolve) => {
      let delivered = false;
      const deliver = (offset: string | undefined) => {
        if (delivered) return;
        delivered = true;
        clearTimeout(timer);
        this.addOffsetIfNecessary(packet, opts, offset);
        this.localBroadcast(packet, opts);
        if (this.lastDelivery === delivery) this.lastDelivery = undefined;
        resolve();
      };
      const timer = setTimeout(() => {
        // once until Redis answers a publish: during an outage every broadcast would report it
        this.publishes.reportOnce(
          "late",
          new Error(
            `no answer from Redis to XADD in ${REDIS_ANSWER_DEADLINE_MS} ms: delivered without an offset ` +
              `(reported once until Redis answers)`,
          ),
        );
        deliver(undefined);
      }, REDIS_ANSWER_DEADLINE_MS);
      sent.then(deliver, (err: unknown) => {
        this.reportError(err);
        deliver(undefined);
      });
    });
    this.lastDelivery = delivery;
    return delivery;
  }

  // ---- receiving ----------------------------------------------------------------------------------------

  /** A stream entry of this namespace (from any node, this one included: ignored by uid). */
  onEntry(entry: StreamEntry): void {
    const { fields } = entry;
    if (fields.uid === this.uid) return;
    let message: ClusterMessage;
    try {
      message = { uid: fields.uid, nsp: fields.nsp, type: parseInt(fields.type ?? "", 10) };
      const raw = fields.data;
      if (raw) {
        const data: unknown = raw.startsWith("{")
          ? JSON.parse(raw)
          : notepack.decode(Buffer.from(raw, "base64"));
        if (isRecord(data)) message.data = data;
      }
    } catch (err) {
      debug("ignoring a malformed entry %s: %s", entry.id, (err as Error).message);
      return;
    }
    try {
      this.onMessage(message, entry.id);
    } catch (err) {
      this.reportError(err);
    }
  }

  private onPubSubMessage(channel: string, raw: Buffer): void {
    let message: unknown;
    try {
      message = notepack.decode(raw);
    } catch (err) {
      debug("ignoring a malformed message: %s", (err as Error).message);
      return;
    }
    if (!isRecord(message)) return;
    try {
      if (channel === this.privateChannel) this.onResponse(message as unknown as ClusterMessage);
      else this.onMessage(message as unknown as ClusterMessage);
    } catch (err) {
      this.reportError(err);
    }
  }

  override async serverCount(): Promise<number> {
    const transport = this.transport;
    if (!transport) {
      await this.init();
      if (!this.transport) throw new Error("the pub/sub connection is not ready");
      return this.serverCount();
    }
    return transport.countSubscribers(
      this.opts.useShardedPubSub ? "SHARDNUMSUB" : "NUMSUB",
      this.publicChannel,
    );
  }

  // ---- sessions -----------------------------------------------------------------------------------------

  override persistSession(session: SessionToPersist): void {
    if (!this.recovery) return;
    const { sid, pid } = session;
    this.persisted.add(pid);
    this.dirty.delete(sid);
    this.hub.sessions.write(this.opts.sessionKeyPrefix + pid, {
      kind: "set",
      value: encodeSession(sid, pid, session.rooms, session.data),
      expiresAt: Date.now() + this.recovery.maxDisconnectionDuration,
    });
  }

  /**
   * The session `pid` and the packets it missed since `offset`, or null (unknown, expired, offset too old).
   * Within REDIS_ANSWER_DEADLINE_MS: a Redis that does not answer in time, or fails, gives null (reported).
   */
  override async restoreSession(pid: string, offset: string): Promise<Session | null> {
    if (!OFFSET.test(offset)) return null;
    let given = false;
    try {
      return await withTimeout(
        this.lookUpSession(pid, offset, () => given),
        REDIS_ANSWER_DEADLINE_MS,
        `restoring session ${pid} from Redis`,
      );
    } catch (err) {
      this.reportError(err);
      return null;
    } finally {
      given = true;
    }
  }

  /** `givenUp()` turns true once the caller stopped waiting: the remaining pages are not asked for. */
  private async lookUpSession(
    pid: string,
    offset: string,
    givenUp: () => boolean,
  ): Promise<Session | null> {
    const key = this.opts.sessionKeyPrefix + pid;
    const [raw, at] = await Promise.all([
      getAndDelete(this.client, key),
      command(this.client, ["XRANGE", this.streamName, offset, offset]),
    ]);
    if (!raw || parseEntries(at).length === 0) return null;
    const stored: unknown = notepack.decode(Buffer.from(raw, "base64"));
    if (!isRecord(stored) || typeof stored.sid !== "string") return null;
    const rooms = roomList(stored.rooms);
    const missedPackets: unknown[][] = [];
    let from = nextOffset(offset);
    for (;;) {
      if (givenUp()) return null;
      const page = parseEntries(
        await command(this.client, [
          "XRANGE",
          this.streamName,
          from,
          "+",
          "COUNT",
          String(RESTORE_PAGE),
        ]),
      );
      for (const entry of page) {
        const packet = this.recoverable(entry, rooms);
        if (packet) {
          packet.push(entry.id);
          missedPackets.push(packet);
        }
      }
      if (page.length < RESTORE_PAGE) break;
      from = nextOffset((page[page.length - 1] as StreamEntry).id);
    }
    return {
      sid: stored.sid,
      pid: typeof stored.pid === "string" ? stored.pid : pid,
      rooms,
      data: stored.data,
      missedPackets,
    };
  }

  /** The arguments of a stored broadcast the session must get back (no ack, not volatile, its rooms). */
  private recoverable(entry: StreamEntry, rooms: Room[]): unknown[] | undefined {
    const { fields } = entry;
    if (fields.nsp !== this.nsp.name || fields.type !== "3" || !fields.data) return undefined;
    let data: unknown;
    try {
      data = fields.data.startsWith("{")
        ? JSON.parse(fields.data)
        : notepack.decode(Buffer.from(fields.data, "base64"));
    } catch {
      return undefined;
    }
    if (!isRecord(data) || data.requestId !== undefined) return undefined;
    const { packet, opts } = data;
    if (!isRecord(packet) || !isRecord(opts) || !Array.isArray(packet.data)) return undefined;
    const flags = isRecord(opts.flags) ? opts.flags : {};
    const candidate = { type: packet.type as number, nsp: this.nsp.name, id: packet.id as number };
    if (!isRecoverablePacket(candidate, { rooms: new Set(), flags })) return undefined;
    if (!shouldIncludePacket(rooms, roomList(opts.rooms), roomList(opts.except))) return undefined;
    return packet.data as unknown[];
  }

  // ---- sessions of connected sockets -------------------------------------------------------------------

  override addAll(id: SocketId, rooms: Set<Room> | Room[]): void {
    super.addAll(id, rooms);
    if (this.liveSaving) this.markDirty(id);
  }

  override del(id: SocketId, room: Room): void {
    super.del(id, room);
    if (this.liveSaving && this.sids.has(id)) this.markDirty(id);
  }

  override delAll(id: SocketId): void {
    super.delAll(id);
    this.dirty.delete(id);
    const pid = this.livePids.get(id);
    if (pid === undefined) return;
    this.livePids.delete(id);
    // a socket that left without a recoverable reason must not recover from its live copy
    if (this.persisted.delete(pid)) return;
    this.hub.sessions.write(this.opts.sessionKeyPrefix + pid, { kind: "del" });
  }

  private markDirty(id: SocketId): void {
    this.dirty.add(id);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const ids = [...this.dirty];
      this.dirty.clear();
      for (const sid of ids) this.queueSave(sid, false);
    });
  }

  /**
   * Saves the session of a connected socket now (its rooms and `socket.data`), e.g. after changing
   * `socket.data`; resolves once Redis has it (or, while Redis does not answer, once the save is dropped past
   * `maxPendingSessionSaves`; reported). Nothing happens without connection state recovery.
   */
  saveSession(id: SocketId): Promise<void> {
    return this.queueSave(id, true) ?? Promise.resolve();
  }

  /** Queues the live save of socket `id` (one per session waits; see session-writer.ts). */
  private queueSave(id: SocketId, wait: boolean): Promise<void> | undefined {
    const socket = this.nsp.sockets.get(id);
    const pid = socket?.pid;
    if (!this.recovery || !pid || this.closed) return undefined;
    this.livePids.set(id, pid);
    const key = this.opts.sessionKeyPrefix + pid;
    const write = { kind: "live", source: this, sid: id } as const;
    if (wait) return this.hub.sessions.write(key, write, true);
    this.hub.sessions.write(key, write);
    return undefined;
  }

  /** The session of a connected socket as it is now, encoded, with its expiry; undefined once it left. */
  liveSession(id: SocketId): { value: string; ttl: number } | undefined {
    const recovery = this.recovery;
    const socket = this.nsp.sockets.get(id);
    const pid = socket?.pid;
    if (!recovery || !socket || !pid || this.livePids.get(id) !== pid) return undefined;
    // kept at least maxDisconnectionDuration after the node's last save, i.e. after it died
    return {
      value: encodeSession(id, pid, [...socket.rooms], socket.data),
      ttl: recovery.maxDisconnectionDuration + this.saveInterval(),
    };
  }
}
