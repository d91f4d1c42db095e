/**
 * The sharded Redis adapter: Redis 7 sharded pub/sub (SPUBLISH / SSUBSCRIBE) with the ClusterAdapter protocol,
 * wire compatible with `@socket.io/redis-adapter` 8.x `createShardedAdapter`.
 *
 * Channels of a namespace (prefix `channelPrefix`, default "socket.io"):
 *   `prefix#nsp#`         every message (and the count of nodes: PUBSUB SHARDNUMSUB)
 *   `prefix#nsp#uid#`     responses to this node
 *   `prefix#nsp#room#`    broadcasts to one room, in the "dynamic" subscription modes
 * Messages are JSON, or notepack msgpack when a message that may carry binary does.
 */
import createDebug from "debug";
import * as notepack from "notepack.io";
import type {
  AdapterNamespace,
  AdapterPacket,
  BroadcastOptions,
  Room,
} from "../../adapter/adapter";
import {
  ClusterAdapter,
  MessageType,
  isRecord,
  type ClusterAdapterOptions,
  type ClusterMessage,
} from "../../adapter/cluster";
import { AdapterErrorMessage } from "../../adapter/errors";
import { hasBinary } from "../../parser/binary";
import {
  type Session,
  type SessionStore,
  type SessionToPersist,
  localSessionStore,
} from "../../adapter/sessions";
import { RedisTransport, type RedisClient } from "./client";
import {
  PUBLISH_REFUSED,
  PendingPublishes,
  publishBounds,
  type PublishBoundOptions,
} from "./pending-publishes";

const debug = createDebug("switchyard:redis:sharded");

export type SubscriptionMode = "static" | "dynamic" | "dynamic-private";

export interface ShardedRedisAdapterOptions extends ClusterAdapterOptions, PublishBoundOptions {
  /** Prefix of every channel. Default "socket.io". */
  channelPrefix?: string;
  /**
   * "static": two channels per namespace; "dynamic" (default): also one channel per public room (not a socket id),
   * so a broadcast to one room reaches only the nodes that have it; "dynamic-private": per room, socket ids included.
   */
  subscriptionMode?: SubscriptionMode;
}

const MAY_CARRY_BINARY: ReadonlySet<number> = new Set([
  MessageType.BROADCAST,
  MessageType.BROADCAST_ACK,
  MessageType.FETCH_SOCKETS_RESPONSE,
  MessageType.SERVER_SIDE_EMIT,
  MessageType.SERVER_SIDE_EMIT_RESPONSE,
]);

/** Socket ids are 20 characters; the "dynamic" mode keeps them on the main channel. */
const looksLikeASocketId = (room: Room) => typeof room === "string" && room.length === 20;

export function createShardedAdapter(
  pubClient: RedisClient,
  subClient: RedisClient,
  opts: ShardedRedisAdapterOptions = {},
): (nsp: AdapterNamespace) => ShardedRedisAdapter {
  publishBounds(opts);
  // a plain function, so that servers calling it with `new` (as socket.io does) get the adapter too
  return function (nsp: AdapterNamespace) {
    return new ShardedRedisAdapter(nsp, pubClient, subClient, opts);
  };
}

export class ShardedRedisAdapter extends ClusterAdapter {
  readonly channel: string;
  readonly responseChannel: string;
  readonly subscriptionMode: SubscriptionMode;
  private readonly transport: RedisTransport;
  /**
   * The publishes waiting in the pub client, bounded (`maxPendingPublishes`, `maxPendingPublishBytes`):
   * `publishes.pending`, `publishes.pendingBytes`, and `publishes.dropped` (those this adapter did not send).
   */
  readonly publishes: PendingPublishes;
  private readonly handler = (channel: string, message: Buffer) =>
    this.onRawMessage(channel, message);
  private subscribed?: Promise<void>;
  private closed = false;
  /**
   * Connection state recovery on this node (Redis pub/sub keeps no history): the sessions of its clients and
   * the broadcasts they may miss, local and from other nodes. Undefined when the server does not recover.
   */
  private readonly sessions: SessionStore | undefined;
  /** Room channels kept after their room emptied, because a saved session still holds the room. */
  private readonly heldRoomChannels = new Set<Room>();

  constructor(
    nsp: AdapterNamespace,
    readonly pubClient: RedisClient,
    readonly subClient: RedisClient,
    opts: ShardedRedisAdapterOptions = {},
  ) {
    super(nsp, opts);
    const prefix = opts.channelPrefix ?? "socket.io";
    this.subscriptionMode = opts.subscriptionMode ?? "dynamic";
    this.channel = `${prefix}#${nsp.name}#`;
    this.responseChannel = `${this.channel}${this.uid}#`;
    this.transport = new RedisTransport(pubClient, subClient, (err) => this.reportError(err));
    this.publishes = new PendingPublishes(pubClient, opts, (err) => this.reportError(err));
    this.sessions = localSessionStore(nsp, { onRoomReleased: (room) => this.releaseRoom(room) });
    if (this.subscriptionMode !== "static") {
      this.on("create-room", (room: Room) => {
        if (!this.hasOwnChannel(room) || this.heldRoomChannels.delete(room)) return;
        this.watch(this.transport.ssubscribe(this.roomChannel(room), this.handler));
      });
      this.on("delete-room", (room: Room) => {
        if (!this.hasOwnChannel(room)) return;
        // a client away may come back to this room: its broadcasts must still arrive meanwhile
        if (this.sessions?.holdsRoom(room)) this.heldRoomChannels.add(room);
        else this.watch(this.transport.sunsubscribe(this.roomChannel(room)));
      });
    }
  }

  override init(): Promise<void> {
    if (!this.subscribed) {
      this.subscribed = Promise.all([
        this.transport.ssubscribe(this.channel, this.handler),
        this.transport.ssubscribe(this.responseChannel, this.handler),
      ]).then(
        () => debug("subscribed to %s", this.channel),
        (err: unknown) => this.reportError(err),
      );
    }
    return this.subscribed;
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sessions?.close();
    this.abortRequests(AdapterErrorMessage.ADAPTER_CLOSED);
    const channels = [this.channel, this.responseChannel];
    if (this.subscriptionMode !== "static") {
      for (const room of this.rooms.keys())
        if (this.hasOwnChannel(room)) channels.push(this.roomChannel(room));
      for (const room of this.heldRoomChannels) channels.push(this.roomChannel(room));
      this.heldRoomChannels.clear();
    }
    const done = await Promise.allSettled(channels.map((c) => this.transport.sunsubscribe(c)));
    for (const result of done) if (result.status === "rejected") this.reportError(result.reason);
    this.transport.detach();
  }

  /** No saved session holds `room` any more: its channel goes, unless a socket joined it again. */
  private releaseRoom(room: Room): void {
    if (this.closed || !this.heldRoomChannels.delete(room) || this.rooms.has(room)) return;
    this.watch(this.transport.sunsubscribe(this.roomChannel(room)));
  }

  protected override localBroadcast(packet: AdapterPacket, opts: BroadcastOptions): void {
    // this node's offset, appended after the message was encoded for the other nodes
    this.sessions?.record(packet, opts);
    super.localBroadcast(packet, opts);
  }

  override persistSession(session: SessionToPersist): void {
    this.sessions?.persist(session);
  }

  override restoreSession(pid: string, offset: string): Promise<Session | null> {
    return Promise.resolve(this.sessions?.restore(pid, offset) ?? null);
  }

  private watch(result: Promise<unknown>): void {
    result.catch((err: unknown) => this.reportError(err));
  }

  /** Whether a room has its own channel: public rooms in "dynamic", every room in "dynamic-private". */
  private hasOwnChannel(room: Room): boolean {
    if (this.subscriptionMode === "dynamic-private") return true;
    return this.subscriptionMode === "dynamic" && !this.sids.has(String(room));
  }

  private roomChannel(room: Room): string {
    return `${this.channel}${String(room)}#`;
  }

  private computeChannel(message: ClusterMessage): string {
    // a broadcast with acks always uses the main channel: serverCount() counts every node, not the room's
    const data = message.data;
    if (message.type !== MessageType.BROADCAST || !data || data.requestId !== undefined)
      return this.channel;
    const opts = data.opts as { rooms?: Room[] } | undefined;
    const rooms = opts?.rooms;
    if (!rooms || rooms.length !== 1) return this.channel;
    const room = rooms[0] as Room;
    const useRoomChannel =
      this.subscriptionMode === "dynamic-private" ||
      (this.subscriptionMode === "dynamic" && !looksLikeASocketId(room));
    return useRoomChannel ? this.roomChannel(room) : this.channel;
  }

  private encodeMessage(message: ClusterMessage): string | Buffer {
    if (MAY_CARRY_BINARY.has(message.type) && hasBinary(message.data))
      return notepack.encode(message) as Buffer;
    return JSON.stringify(message);
  }

  protected override async doPublish(message: ClusterMessage): Promise<string> {
    if (this.closed) return "";
    const channel = this.computeChannel(message);
    if (debug.enabled) debug("publishing a message of type %d to %s", message.type, channel);
    const sending = this.spublish(channel, this.encodeMessage(message));
    if (sending) await sending;
    else this.publishRefused(message, `${PUBLISH_REFUSED}: the request was not sent`);
    return "";
  }

  protected override async doPublishResponse(
    requesterUid: string,
    response: ClusterMessage,
  ): Promise<void> {
    if (this.closed) return;
    await this.spublish(`${this.channel}${requesterUid}#`, this.encodeMessage(response));
  }

  /**
   * SPUBLISH, unless too many publishes are waiting for Redis (then undefined, reported once until Redis
   * answers: see pending-publishes.ts); a failure is reported (once until Redis answers), not rejected.
   */
  private spublish(channel: string, payload: string | Buffer): Promise<unknown> | undefined {
    // a string's length for its bytes: the bound needs their order of magnitude, not a UTF-8 count
    const size = payload.length;
    if (!this.publishes.admit(size)) return undefined;
    return this.publishes.track(this.transport.spublish(channel, payload), size);
  }

  private onRawMessage(channel: string, raw: Buffer): void {
    let message: unknown;
    try {
      message = raw[0] === 0x7b ? JSON.parse(raw.toString()) : notepack.decode(raw);
    } catch (err) {
      debug("ignoring a malformed message: %s", (err as Error).message);
      return;
    }
    if (!isRecord(message)) return;
    try {
      if (channel === this.responseChannel) this.onResponse(message as unknown as ClusterMessage);
      else this.onMessage(message as unknown as ClusterMessage);
    } catch (err) {
      this.reportError(err);
    }
  }

  /** The number of nodes serving this namespace: the shard subscribers of its main channel. */
  override serverCount(): Promise<number> {
    return this.transport.countSubscribers("SHARDNUMSUB", this.channel);
  }
}
