/**
 * The classic Redis adapter: Redis PUBLISH / PSUBSCRIBE / SUBSCRIBE with the channels, message types and
 * encodings of `@socket.io/redis-adapter` 8.x `createAdapter`, so that official socket.io nodes, Switchyard
 * nodes and the official `@socket.io/redis-emitter` share one cluster.
 *
 * Channels of a namespace (prefix `key`, default "socket.io"):
 *   `key#nsp#` and `key#nsp#room#`   broadcasts, msgpack `[uid, packet, opts]` (PSUBSCRIBE `key#nsp#*`)
 *   `key-request#nsp#`               requests, JSON (msgpack for broadcasts with acks)
 *   `key-response#nsp#`, `…#uid#`    responses, matched by request id
 * The number of nodes is the number of subscribers of the request channel (PUBSUB NUMSUB).
 */
import { randomBytes } from "node:crypto";
import createDebug from "debug";
import * as notepack from "notepack.io";
import {
  type AdapterNamespace,
  type AdapterPacket,
  type AdapterSocket,
  type BroadcastOptions,
  type Room,
  type ServerSideEmitAck,
  type SocketDescription,
  type SocketId,
} from "../../adapter/adapter";
import {
  MultiNodeAdapter,
  RequestTimeoutError,
  decodeOptions,
  describeSocket,
  encodeOptions,
  isRecord,
  roomList,
  toError,
  toPacket,
  requestTypeName,
  type AnswerCollector,
  type ExpectedAnswers,
} from "../../adapter/cluster";
import { AdapterErrorMessage, classicTimeoutMessage } from "../../adapter/errors";
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

const debug = createDebug("switchyard:redis");

/** Request types of the classic adapter (they differ from the ClusterAdapter numbering). */
export const RequestType = {
  SOCKETS: 0,
  ALL_ROOMS: 1,
  REMOTE_JOIN: 2,
  REMOTE_LEAVE: 3,
  REMOTE_DISCONNECT: 4,
  REMOTE_FETCH: 5,
  SERVER_SIDE_EMIT: 6,
  BROADCAST: 7,
  BROADCAST_CLIENT_COUNT: 8,
  BROADCAST_ACK: 9,
} as const;
export type RequestType = (typeof RequestType)[keyof typeof RequestType];

/** Encodes broadcasts and acked messages; notepack.io (msgpack) by default, as the official adapter. */
export interface RedisParser {
  encode(value: unknown): string | Buffer;
  decode(data: Buffer): unknown;
}

export interface RedisAdapterOptions extends PublishBoundOptions {
  /** Prefix of every channel. Default "socket.io". */
  key?: string;
  /** How long to wait for the other nodes' answers (fetchSockets, serverSideEmit with ack, allRooms). Default 5000 ms. */
  requestsTimeout?: number;
  /** Answer requests on the requester's own response channel instead of the shared one. Default false. */
  publishOnSpecificResponseChannel?: boolean;
  /** Encoder of broadcasts. Default: notepack.io (msgpack); every node of a cluster must use the same. */
  parser?: RedisParser;
}

const msgpack: RedisParser = {
  encode: (value) => notepack.encode(value) as Buffer,
  decode: (data) => notepack.decode(data) as unknown,
};

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** 6 characters from [A-Za-z0-9_-]: the uid and request id format of the classic adapter. */
function shortId(): string {
  const bytes = randomBytes(6);
  let id = "";
  for (const b of bytes) id += ALPHABET[b & 63];
  return id;
}

const isNumeric = (s: string) =>
  s.trim() !== "" && !Number.isNaN(Number(s)) && !Number.isNaN(parseFloat(s));

/**
 * Returns the `adapter` option of a Server: a factory building one RedisAdapter per namespace over the given
 * clients (`pubClient.duplicate()` makes the second one; both connected).
 */
export function createAdapter(
  pubClient: RedisClient,
  subClient: RedisClient,
  opts: RedisAdapterOptions = {},
): (nsp: AdapterNamespace) => RedisAdapter {
  publishBounds(opts);
  // a plain function, so that servers calling it with `new` (as socket.io does) get the adapter too
  return function (nsp: AdapterNamespace) {
    return new RedisAdapter(nsp, pubClient, subClient, opts);
  };
}

export class RedisAdapter extends MultiNodeAdapter {
  /** This namespace adapter's id in the cluster. */
  readonly uid = shortId();
  readonly publishOnSpecificResponseChannel: boolean;
  readonly parser: RedisParser;
  readonly channel: string;
  readonly requestChannel: string;
  readonly responseChannel: string;
  readonly specificResponseChannel: string;

  private readonly transport: RedisTransport;
  /**
   * The publishes waiting in the pub client, bounded (`maxPendingPublishes`, `maxPendingPublishBytes`):
   * `publishes.pending`, `publishes.pendingBytes`, and `publishes.dropped` (those this adapter did not send).
   */
  readonly publishes: PendingPublishes;
  private subscribed?: Promise<void>;
  private closed = false;
  /**
   * Connection state recovery on this node (Redis pub/sub keeps no history): the sessions of its clients and
   * the broadcasts they may miss, local and from other nodes. Undefined when the server does not recover.
   */
  private readonly sessions: SessionStore | undefined;

  constructor(
    nsp: AdapterNamespace,
    readonly pubClient: RedisClient,
    readonly subClient: RedisClient,
    opts: RedisAdapterOptions = {},
  ) {
    super(nsp, opts.requestsTimeout || 5000);
    this.sessions = localSessionStore(nsp);
    this.publishOnSpecificResponseChannel = !!opts.publishOnSpecificResponseChannel;
    this.parser = opts.parser ?? msgpack;
    const key = opts.key || "socket.io";
    this.channel = `${key}#${nsp.name}#`;
    this.requestChannel = `${key}-request#${nsp.name}#`;
    this.responseChannel = `${key}-response#${nsp.name}#`;
    this.specificResponseChannel = `${this.responseChannel}${this.uid}#`;
    this.transport = new RedisTransport(pubClient, subClient, (err) => this.reportError(err));
    this.publishes = new PendingPublishes(pubClient, opts, (err) => this.reportError(err));
  }

  protected override requestTypeName(type: number): string {
    return requestTypeName(RequestType, type);
  }

  /** Subscribes to the namespace's channels; resolves once Redis confirmed (failures go to `error`). */
  override init(): Promise<void> {
    if (!this.subscribed) {
      const onBroadcast = (channel: string, message: Buffer) => this.onBroadcast(channel, message);
      const onRequest = (channel: string, message: Buffer) => this.onRequest(channel, message);
      this.subscribed = Promise.all([
        this.transport.psubscribe(`${this.channel}*`, onBroadcast),
        this.transport.subscribe(
          [this.requestChannel, this.responseChannel, this.specificResponseChannel],
          onRequest,
        ),
      ]).then(
        () => debug("subscribed to %s*, %s", this.channel, this.requestChannel),
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
    const done = await Promise.allSettled([
      this.transport.punsubscribe(`${this.channel}*`),
      this.transport.unsubscribe([
        this.requestChannel,
        this.responseChannel,
        this.specificResponseChannel,
      ]),
    ]);
    for (const result of done) if (result.status === "rejected") this.reportError(result.reason);
    this.transport.detach();
  }

  /**
   * Hands a PUBLISH to the pub client, unless too many are waiting for Redis (then false, reported once until
   * Redis answers: see pending-publishes.ts). A failure goes to the `error` event (once until Redis answers).
   */
  private publish(channel: string, message: string | Buffer): boolean {
    if (this.closed) return false;
    // a string's length for its bytes: the bound needs their order of magnitude, not a UTF-8 count
    const size = message.length;
    if (!this.publishes.admit(size)) return false;
    let sending: Promise<unknown>;
    try {
      sending = this.transport.publish(channel, message);
    } catch (err) {
      sending = Promise.reject(err);
    }
    void this.publishes.track(sending, size);
    return true;
  }

  /**
   * Answers a request. The answer is encoded here: one that cannot be (e.g. a circular socket.data or ack
   * argument) is reported and dropped, so the requester times out and this node keeps going.
   */
  private publishResponse(request: Record<string, unknown>, encode: () => string | Buffer): void {
    let response: string | Buffer;
    try {
      response = encode();
    } catch (err) {
      this.reportError(err);
      return;
    }
    const channel =
      this.publishOnSpecificResponseChannel && typeof request.uid === "string"
        ? `${this.responseChannel}${request.uid}#`
        : this.responseChannel;
    this.publish(channel, response);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Incoming

  private onBroadcast(channel: string, message: Buffer): void {
    if (!channel.startsWith(this.channel)) return;
    const room = channel.slice(this.channel.length, -1);
    // a room channel for a room this node does not have (nor a saved session): skip the decoding
    if (room !== "" && !this.hasRoom(room)) return;
    let decoded: unknown;
    try {
      decoded = this.parser.decode(message);
    } catch (err) {
      debug("ignoring a malformed broadcast: %s", toError(err).message);
      return;
    }
    if (!Array.isArray(decoded)) return;
    const [uid, rawPacket, rawOpts] = decoded as unknown[];
    if (uid === this.uid) return;
    if (isRecord(rawPacket) && rawPacket.nsp !== undefined && rawPacket.nsp !== this.nsp.name)
      return;
    const packet = toPacket(rawPacket, this.nsp.name);
    if (!packet) return;
    const opts = decodeOptions(rawOpts);
    this.sessions?.record(packet, opts);
    super.broadcast(packet, opts);
  }

  private hasRoom(room: string): boolean {
    if (this.rooms.has(room)) return true;
    const numeric = isNumeric(room) ? parseFloat(room) : undefined;
    if (numeric !== undefined && this.rooms.has(numeric)) return true;
    const sessions = this.sessions;
    return (
      sessions !== undefined &&
      (sessions.holdsRoom(room) || (numeric !== undefined && sessions.holdsRoom(numeric)))
    );
  }

  private decodeRequest(message: Buffer): Record<string, unknown> | undefined {
    try {
      const value: unknown =
        message[0] === 0x7b ? JSON.parse(message.toString()) : this.parser.decode(message);
      return isRecord(value) ? value : undefined;
    } catch {
      debug("ignoring a malformed request");
      return undefined;
    }
  }

  private onRequest(channel: string, message: Buffer): void {
    if (channel.startsWith(this.responseChannel)) return this.onResponse(message);
    if (channel !== this.requestChannel) return;
    const request = this.decodeRequest(message);
    if (!request) return;
    try {
      this.handleRequest(request);
    } catch (err) {
      this.reportError(err);
    }
  }

  private handleRequest(request: Record<string, unknown>): void {
    const fromSelf = request.uid === this.uid;
    const requestId = typeof request.requestId === "string" ? request.requestId : undefined;
    if (debug.enabled) debug("request of type %s from %s", request.type, request.uid);
    switch (request.type) {
      case RequestType.SOCKETS: {
        if (fromSelf || requestId === undefined || this.isPendingRequest(requestId)) return;
        void super
          .sockets(new Set(roomList(request.rooms)))
          .then((ids) =>
            this.publishResponse(request, () => JSON.stringify({ requestId, sockets: [...ids] })),
          );
        return;
      }
      case RequestType.ALL_ROOMS: {
        if (fromSelf || requestId === undefined || this.isPendingRequest(requestId)) return;
        this.publishResponse(request, () =>
          JSON.stringify({ requestId, rooms: [...this.rooms.keys()] }),
        );
        return;
      }
      case RequestType.REMOTE_JOIN:
      case RequestType.REMOTE_LEAVE:
      case RequestType.REMOTE_DISCONNECT:
        // our own requests were applied locally when sent
        if (fromSelf) return;
        this.applyRemote(request, requestId);
        return;
      case RequestType.REMOTE_FETCH: {
        if (fromSelf || requestId === undefined || this.isPendingRequest(requestId)) return;
        void super
          .fetchSockets(decodeOptions(request.opts))
          .then((sockets) =>
            this.publishResponse(request, () =>
              JSON.stringify({ requestId, sockets: sockets.map(describeSocket) }),
            ),
          );
        return;
      }
      case RequestType.SERVER_SIDE_EMIT: {
        if (fromSelf || !Array.isArray(request.data)) return;
        const args = [...(request.data as unknown[])];
        if (requestId !== undefined) {
          let called = false;
          args.push((arg: unknown) => {
            if (called) return;
            called = true;
            this.publishResponse(request, () =>
              JSON.stringify({ type: RequestType.SERVER_SIDE_EMIT, requestId, data: arg }),
            );
          });
        }
        this.nsp._onServerSideEmit(args);
        return;
      }
      case RequestType.BROADCAST: {
        if (fromSelf || requestId === undefined || this.ackHandlers(requestId)) return;
        const packet = toPacket(request.packet, this.nsp.name);
        if (!packet) return;
        super.broadcastWithAck(
          packet,
          decodeOptions(request.opts),
          (clientCount) =>
            this.publishResponse(request, () =>
              JSON.stringify({ type: RequestType.BROADCAST_CLIENT_COUNT, requestId, clientCount }),
            ),
          (arg) =>
            this.publishResponse(request, () =>
              this.parser.encode({ type: RequestType.BROADCAST_ACK, requestId, packet: arg }),
            ),
        );
        return;
      }
      default:
        if (debug.enabled) debug("ignoring request type %s", request.type);
    }
  }

  /** socketsJoin / socketsLeave / disconnectSockets from another node or the emitter (also the legacy forms). */
  private applyRemote(request: Record<string, unknown>, requestId: string | undefined): void {
    if (isRecord(request.opts)) {
      const opts = decodeOptions(request.opts);
      if (request.type === RequestType.REMOTE_JOIN)
        void super.addSockets(opts, roomList(request.rooms));
      else if (request.type === RequestType.REMOTE_LEAVE)
        void super.delSockets(opts, roomList(request.rooms));
      else void super.disconnectSockets(opts, request.close === true);
      return;
    }
    // legacy form: one socket by id, answered so the (old) requester can resolve
    const socket = typeof request.sid === "string" ? this.nsp.sockets.get(request.sid) : undefined;
    if (!socket) return;
    const room = request.room;
    if (
      request.type === RequestType.REMOTE_JOIN &&
      (typeof room === "string" || typeof room === "number")
    ) {
      void socket.join(room);
    } else if (
      request.type === RequestType.REMOTE_LEAVE &&
      (typeof room === "string" || typeof room === "number")
    ) {
      void socket.leave(room);
    } else if (request.type === RequestType.REMOTE_DISCONNECT) {
      socket.disconnect(request.close === true);
    } else return;
    this.publishResponse(request, () => JSON.stringify({ requestId }));
  }

  private onResponse(message: Buffer): void {
    // by default every node answers on the shared response channel, so every node hears every answer (a
    // fetchSockets answer holds each socket's handshake and data): decode only those that may be ours
    if (!this.awaitsAnswers()) return;
    const response = this.decodeRequest(message);
    if (!response) return;
    const requestId = response.requestId;
    if (typeof requestId !== "string") return;
    const ackRequest = this.ackHandlers(requestId);
    if (ackRequest) {
      if (
        response.type === RequestType.BROADCAST_CLIENT_COUNT &&
        typeof response.clientCount === "number"
      ) {
        ackRequest.clientCountCallback(response.clientCount);
      } else if (response.type === RequestType.BROADCAST_ACK) {
        ackRequest.ack(response.packet);
      }
      return;
    }
    // the classic protocol's answers do not say their type: the request id alone matches them
    this.takeAnswer(requestId, response);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Outgoing

  override broadcast(packet: AdapterPacket, opts: BroadcastOptions): void {
    packet.nsp = this.nsp.name;
    if (!opts.flags?.local) {
      let message: string | Buffer | undefined;
      try {
        message = this.parser.encode([
          this.uid,
          { type: packet.type, data: packet.data, nsp: packet.nsp },
          encodeOptions(opts, "or-empty"),
        ]);
      } catch (err) {
        this.reportError(err);
      }
      if (message !== undefined) {
        const channel =
          opts.rooms.size === 1 ? `${this.channel}${String([...opts.rooms][0])}#` : this.channel;
        if (debug.enabled) debug("publishing a broadcast to %s", channel);
        this.publish(channel, message);
      }
    }
    // the offset is this node's: appended after encoding, other nodes (official ones too) never see it
    this.sessions?.record(packet, opts);
    super.broadcast(packet, opts);
  }

  override broadcastWithAck(
    packet: AdapterPacket,
    opts: BroadcastOptions,
    clientCountCallback: (clientCount: number) => void,
    ack: (...args: unknown[]) => void,
  ): void {
    packet.nsp = this.nsp.name;
    if (!opts.flags?.local) {
      const requestId = shortId();
      let message: string | Buffer | undefined;
      try {
        message = this.parser.encode({
          uid: this.uid,
          requestId,
          type: RequestType.BROADCAST,
          packet: { type: packet.type, data: packet.data, nsp: packet.nsp },
          opts: encodeOptions(opts, "or-empty"),
        });
      } catch (err) {
        this.reportError(err);
      }
      if (message !== undefined) {
        const timeout = opts.flags?.timeout ?? this.requestsTimeout;
        this.rememberAckHandlers(requestId, clientCountCallback, ack, timeout);
        this.publish(this.requestChannel, message);
      }
    }
    super.broadcastWithAck(packet, opts, clientCountCallback, ack);
  }

  /**
   * Sends socketsJoin / socketsLeave / disconnectSockets to the other nodes (the caller applies it here), unless
   * local. One envelope for the three, in the official key order: `{uid, type, opts, rooms | close}`.
   */
  private forward(
    opts: BroadcastOptions,
    type: RequestType,
    what: { rooms: Room[] } | { close: boolean },
  ): void {
    if (opts.flags?.local) return;
    const request = { uid: this.uid, type, opts: encodeOptions(opts, "none"), ...what };
    this.publish(this.requestChannel, JSON.stringify(request));
  }

  override addSockets(opts: BroadcastOptions, rooms: Room[]): void {
    this.forward(opts, RequestType.REMOTE_JOIN, { rooms: [...rooms] });
    void super.addSockets(opts, rooms);
  }

  override delSockets(opts: BroadcastOptions, rooms: Room[]): void {
    this.forward(opts, RequestType.REMOTE_LEAVE, { rooms: [...rooms] });
    void super.delSockets(opts, rooms);
  }

  override disconnectSockets(opts: BroadcastOptions, close: boolean): void {
    this.forward(opts, RequestType.REMOTE_DISCONNECT, { close });
    void super.disconnectSockets(opts, close);
  }

  /** The number of nodes serving this namespace: the subscribers of its request channel. */
  override serverCount(): Promise<number> {
    return this.transport.countSubscribers("NUMSUB", this.requestChannel);
  }

  /**
   * Sends a request to the other nodes and collects one answer from each (`expected`); a request that cannot be
   * encoded fails at once. The answers are the classic protocol's response objects.
   */
  private request(
    type: number,
    expected: ExpectedAnswers,
    timeout: number,
    build: (requestId: string) => string | Buffer,
    collector: AnswerCollector<Record<string, unknown>>,
    timeoutMessage?: string,
  ): void {
    const requestId = shortId();
    let message: string | Buffer;
    try {
      message = build(requestId);
    } catch (err) {
      collector.done(toError(err));
      return;
    }
    const take = (answer: unknown) => collector.take(answer as Record<string, unknown>);
    this.awaitAnswers(requestId, type, expected, timeout, { ...collector, take }, timeoutMessage);
    if (!this.publish(this.requestChannel, message))
      this.endRequest(requestId, `${PUBLISH_REFUSED}: the request was not sent`);
  }

  /**
   * fetchSockets, sockets and allRooms: `found` holds this node's part, `take` adds each other node's answer.
   * Their timeout error is the official adapter's, naming `method`, also when the number of nodes is unknown.
   */
  private async gather<T>(
    method: string,
    type: number,
    timeout: number,
    build: (requestId: string) => string,
    found: T,
    take: (response: Record<string, unknown>) => void,
    answers: () => unknown[],
  ): Promise<T> {
    const message = classicTimeoutMessage(method);
    const expected = await this.countOthers(timeout);
    if (expected === undefined) throw new RequestTimeoutError(message, answers());
    if (expected <= 0) return found;
    return new Promise((resolve, reject) => {
      const done = (err: Error | null) => (err ? reject(err) : resolve(found));
      this.request(type, expected, timeout, build, { take, answers, done }, message);
    });
  }

  override async fetchSockets(
    opts: BroadcastOptions,
  ): Promise<Array<AdapterSocket | SocketDescription>> {
    const local = await super.fetchSockets(opts);
    if (opts.flags?.local) return local;
    const found: Array<AdapterSocket | SocketDescription> = [...local];
    return this.gather(
      "fetchSockets",
      RequestType.REMOTE_FETCH,
      opts.flags?.timeout ?? this.requestsTimeout,
      (requestId) =>
        JSON.stringify({
          uid: this.uid,
          requestId,
          type: RequestType.REMOTE_FETCH,
          opts: encodeOptions(opts, "none"),
        }),
      found,
      (response) => {
        if (Array.isArray(response.sockets))
          found.push(...(response.sockets as SocketDescription[]));
      },
      () => found,
    );
  }

  /** The ids of the sockets in any of `rooms` (all when empty), on every node. */
  override async sockets(rooms: Set<Room>): Promise<Set<SocketId>> {
    const found = await super.sockets(rooms);
    return this.gather(
      "sockets",
      RequestType.SOCKETS,
      this.requestsTimeout,
      (requestId) =>
        JSON.stringify({
          uid: this.uid,
          requestId,
          type: RequestType.SOCKETS,
          rooms: [...rooms],
        }),
      found,
      (response) => {
        if (Array.isArray(response.sockets))
          for (const id of response.sockets) found.add(String(id));
      },
      () => [...found],
    );
  }

  /** The names of the rooms of every node. */
  allRooms(): Promise<Set<Room>> {
    const found = new Set<Room>(this.rooms.keys());
    return this.gather(
      "allRooms",
      RequestType.ALL_ROOMS,
      this.requestsTimeout,
      (requestId) => JSON.stringify({ uid: this.uid, requestId, type: RequestType.ALL_ROOMS }),
      found,
      (response) => {
        for (const room of roomList(response.rooms)) found.add(room);
      },
      () => [...found],
    );
  }

  override persistSession(session: SessionToPersist): void {
    this.sessions?.persist(session);
  }

  override restoreSession(pid: string, offset: string): Promise<Session | null> {
    return Promise.resolve(this.sessions?.restore(pid, offset) ?? null);
  }

  override serverSideEmit(packet: unknown[]): void {
    const last = packet[packet.length - 1];
    if (typeof last !== "function") {
      this.publish(
        this.requestChannel,
        JSON.stringify({ uid: this.uid, type: RequestType.SERVER_SIDE_EMIT, data: packet }),
      );
      return;
    }
    const args = packet.slice(0, -1);
    this.emitWithAck(last as ServerSideEmitAck, (expected, responses) =>
      this.request(
        RequestType.SERVER_SIDE_EMIT,
        expected,
        this.requestsTimeout,
        (requestId) =>
          JSON.stringify({
            uid: this.uid,
            requestId,
            type: RequestType.SERVER_SIDE_EMIT,
            data: args,
          }),
        // an answer is `{type, requestId, data}`: the ack gets the data
        { ...responses, take: (response) => responses.take(response.data) },
      ),
    );
  }
}
