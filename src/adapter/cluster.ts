/**
 * The cluster adapter base: the message protocol of socket.io-adapter 2.5's `ClusterAdapter`, shared by the
 * official sharded Redis, Redis-streams and Postgres adapters. A subclass only moves messages: it implements
 * `doPublish` (to every node) and `doPublishResponse` (to one node), and hands what it receives to
 * `onMessage` / `onResponse`.
 *
 * The wire forms live in `./wire`, the request machinery in `./requests`; both are re-exported here.
 */
import createDebug from "debug";
import type {
  AdapterNamespace,
  AdapterPacket,
  AdapterSocket,
  BroadcastOptions,
  Room,
  ServerSideEmitAck,
  SocketDescription,
  SocketId,
} from "./adapter";
import { AdapterErrorMessage } from "./errors";
import { isRecoverablePacket } from "./sessions";
import { MultiNodeAdapter, RequestTimeoutError, requestTypeName } from "./requests";
import {
  type ClusterMessage,
  MessageType,
  decodeOptions,
  describeSocket,
  encodeOptions,
  isRecord,
  randomHexId,
  roomList,
  toPacket,
  wirePacket,
} from "./wire";

export * from "./wire";
export * from "./requests";
export { toError } from "./errors";

const debug = createDebug("switchyard:cluster");

export interface ClusterAdapterOptions {
  /** How long fetchSockets (without its own timeout) and serverSideEmit with ack wait for the other nodes. Default 5000 ms. */
  requestsTimeout?: number;
}

/**
 * Base class of the adapters speaking the ClusterAdapter protocol. Local effects happen at once (through the
 * in-memory `Adapter`); the message to other nodes is published alongside, and a failed publish goes to the
 * adapter's `error` event instead of interrupting local delivery.
 */
export abstract class ClusterAdapter extends MultiNodeAdapter {
  readonly uid: string = randomHexId();

  constructor(nsp: AdapterNamespace, opts: ClusterAdapterOptions = {}) {
    super(nsp, opts.requestsTimeout ?? 5000);
  }

  protected override requestTypeName(type: number): string {
    return requestTypeName(MessageType, type);
  }

  /**
   * Sends a message to every node (this one may receive it back; it is ignored by uid). Resolves with an
   * offset (a backend that has one, such as a stream entry id). The message must be serialised before this
   * returns: a broadcast's offset is appended to `packet.data` right after, for local delivery only.
   */
  protected abstract doPublish(message: ClusterMessage): Promise<string | void>;

  /** Sends a response to the node whose adapter has uid `requesterUid`. */
  protected abstract doPublishResponse(
    requesterUid: string,
    response: ClusterMessage,
  ): Promise<void>;

  protected publish(message: ClusterMessage): void {
    message.uid = this.uid;
    message.nsp = this.nsp.name;
    if (debug.enabled) debug("[%s] publishing message of type %d", this.uid, message.type);
    this.reportFailure(() => this.doPublish(message));
  }

  /**
   * For a subclass whose backend refused `message` (not sent: e.g. too many publishes waiting for Redis): a
   * request waiting for answers to it (fetchSockets, serverSideEmit with ack) ends at once with `reason`, as its
   * timeout would have ended it. A broadcast with acks is left to its own timeout.
   */
  protected publishRefused(message: ClusterMessage, reason: string): void {
    const requestId = message.data?.requestId;
    if (typeof requestId === "string") this.endRequest(requestId, reason);
  }

  /** Publishes and resolves with the offset the backend gave the message ("" when it gives none). */
  protected async publishAndReturnOffset(message: ClusterMessage): Promise<string> {
    message.uid = this.uid;
    message.nsp = this.nsp.name;
    if (debug.enabled) debug("[%s] publishing message of type %d", this.uid, message.type);
    return (await this.doPublish(message)) ?? "";
  }

  /**
   * Connection state recovery (socket.io-adapter's rule): a recoverable broadcast (an event without ack, not
   * volatile) gets `offset` as its last argument, when recovery is on and the backend gave an offset.
   */
  protected addOffsetIfNecessary(
    packet: AdapterPacket,
    opts: BroadcastOptions,
    offset: string | undefined,
  ): void {
    if (!offset || !this.nsp.connectionStateRecovery) return;
    if (isRecoverablePacket(packet, opts) && Array.isArray(packet.data)) {
      (packet.data as unknown[]).push(offset);
    }
  }

  /** Delivers a broadcast to this node's sockets (a subclass may keep it for recovery first). */
  protected localBroadcast(packet: AdapterPacket, opts: BroadcastOptions): void {
    void super.broadcast(packet, opts);
  }

  protected publishResponse(requesterUid: string, response: ClusterMessage): void {
    response.uid = this.uid;
    response.nsp = this.nsp.name;
    this.reportFailure(() => this.doPublishResponse(requesterUid, response));
  }

  /** Handles a message published by another node (or the emitter). */
  onMessage(message: ClusterMessage, offset?: string): void {
    if (!isRecord(message) || typeof message.type !== "number") return;
    if (message.uid === this.uid) return;
    if (message.nsp !== this.nsp.name) return;
    const data = isRecord(message.data) ? message.data : {};
    const from = typeof message.uid === "string" ? message.uid : "";
    if (debug.enabled) debug("[%s] message of type %d from %s", this.uid, message.type, from);
    switch (message.type) {
      case MessageType.BROADCAST: {
        const packet = toPacket(data.packet, this.nsp.name);
        if (!packet) return;
        const opts = decodeOptions(data.opts);
        if (typeof data.requestId === "string") {
          const requestId = data.requestId;
          super.broadcastWithAck(
            packet,
            opts,
            (clientCount) =>
              this.publishResponse(from, {
                type: MessageType.BROADCAST_CLIENT_COUNT,
                data: { requestId, clientCount },
              }),
            (arg) =>
              this.publishResponse(from, {
                type: MessageType.BROADCAST_ACK,
                data: { requestId, packet: arg },
              }),
          );
        } else {
          this.addOffsetIfNecessary(packet, opts, offset);
          this.localBroadcast(packet, opts);
        }
        return;
      }
      case MessageType.SOCKETS_JOIN:
        void super.addSockets(decodeOptions(data.opts), roomList(data.rooms));
        return;
      case MessageType.SOCKETS_LEAVE:
        void super.delSockets(decodeOptions(data.opts), roomList(data.rooms));
        return;
      case MessageType.DISCONNECT_SOCKETS:
        void super.disconnectSockets(decodeOptions(data.opts), data.close === true);
        return;
      case MessageType.FETCH_SOCKETS: {
        const requestId = data.requestId;
        if (typeof requestId !== "string") return;
        super.fetchSockets(decodeOptions(data.opts)).then(
          (sockets) =>
            this.publishResponse(from, {
              type: MessageType.FETCH_SOCKETS_RESPONSE,
              data: { requestId, sockets: sockets.map(describeSocket) },
            }),
          (err: unknown) => this.reportError(err),
        );
        return;
      }
      case MessageType.SERVER_SIDE_EMIT: {
        if (!Array.isArray(data.packet)) return;
        const args = [...(data.packet as unknown[])];
        const requestId = data.requestId;
        if (typeof requestId === "string") {
          let called = false;
          args.push((arg: unknown) => {
            if (called) return;
            called = true;
            this.publishResponse(from, {
              type: MessageType.SERVER_SIDE_EMIT_RESPONSE,
              data: { requestId, packet: arg },
            });
          });
        }
        this.nsp._onServerSideEmit(args);
        return;
      }
      case MessageType.BROADCAST_CLIENT_COUNT:
      case MessageType.BROADCAST_ACK:
      case MessageType.FETCH_SOCKETS_RESPONSE:
      case MessageType.SERVER_SIDE_EMIT_RESPONSE:
        // transports that do not tell responses apart deliver them here
        this.onResponse(message);
        return;
      default:
        if (debug.enabled) debug("[%s] unknown message type %d", this.uid, message.type);
    }
  }

  /** Handles a response to one of this node's requests; unknown request ids are ignored. */
  onResponse(response: ClusterMessage): void {
    if (!isRecord(response) || !isRecord(response.data)) return;
    const data = response.data;
    const requestId = data.requestId;
    if (typeof requestId !== "string") return;
    const from = typeof response.uid === "string" ? response.uid : undefined;
    switch (response.type) {
      case MessageType.BROADCAST_CLIENT_COUNT: {
        const count = data.clientCount;
        if (typeof count === "number") this.ackHandlers(requestId)?.clientCountCallback(count);
        return;
      }
      case MessageType.BROADCAST_ACK:
        this.ackHandlers(requestId)?.ack(data.packet);
        return;
      case MessageType.FETCH_SOCKETS_RESPONSE:
        this.takeAnswer(
          requestId,
          Array.isArray(data.sockets) ? data.sockets : [],
          MessageType.FETCH_SOCKETS,
          from,
        );
        return;
      case MessageType.SERVER_SIDE_EMIT_RESPONSE:
        this.takeAnswer(requestId, data.packet, MessageType.SERVER_SIDE_EMIT, from);
        return;
    }
  }

  override broadcast(packet: AdapterPacket, opts: BroadcastOptions): void {
    if (!opts.flags?.local) {
      this.publish({
        type: MessageType.BROADCAST,
        data: { packet: wirePacket(packet), opts: encodeOptions(opts) },
      });
    }
    this.localBroadcast(packet, opts);
  }

  override broadcastWithAck(
    packet: AdapterPacket,
    opts: BroadcastOptions,
    clientCountCallback: (clientCount: number) => void,
    ack: (...args: unknown[]) => void,
  ): void {
    if (!opts.flags?.local) {
      const requestId = randomHexId();
      const timeout = opts.flags?.timeout ?? this.requestsTimeout;
      this.rememberAckHandlers(requestId, clientCountCallback, ack, timeout);
      this.publish({
        type: MessageType.BROADCAST,
        data: { packet: wirePacket(packet), requestId, opts: encodeOptions(opts) },
      });
    }
    super.broadcastWithAck(packet, opts, clientCountCallback, ack);
  }

  override addSockets(opts: BroadcastOptions, rooms: Room[]): void {
    if (!opts.flags?.local) {
      this.publish({ type: MessageType.SOCKETS_JOIN, data: { opts: encodeOptions(opts), rooms } });
    }
    void super.addSockets(opts, rooms);
  }

  override delSockets(opts: BroadcastOptions, rooms: Room[]): void {
    if (!opts.flags?.local) {
      this.publish({ type: MessageType.SOCKETS_LEAVE, data: { opts: encodeOptions(opts), rooms } });
    }
    void super.delSockets(opts, rooms);
  }

  override disconnectSockets(opts: BroadcastOptions, close: boolean): void {
    if (!opts.flags?.local) {
      this.publish({
        type: MessageType.DISCONNECT_SOCKETS,
        data: { opts: encodeOptions(opts), close },
      });
    }
    void super.disconnectSockets(opts, close);
  }

  override async fetchSockets(
    opts: BroadcastOptions,
  ): Promise<Array<AdapterSocket | SocketDescription>> {
    const local = await super.fetchSockets(opts);
    if (opts.flags?.local) return local;
    const timeout = opts.flags?.timeout ?? this.requestsTimeout;
    const expected = await this.expectedAnswers(timeout);
    if (expected === undefined) {
      throw new RequestTimeoutError(AdapterErrorMessage.UNKNOWN_SERVER_COUNT, [...local]);
    }
    if (expected === 0 || (typeof expected !== "number" && expected.size === 0)) return local;
    const found: Array<AdapterSocket | SocketDescription> = [...local];
    return new Promise((resolve, reject) => {
      const requestId = randomHexId();
      this.awaitAnswers(requestId, MessageType.FETCH_SOCKETS, expected, timeout, {
        take: (sockets) => found.push(...(sockets as SocketDescription[])),
        answers: () => found,
        done: (err) => (err ? reject(err) : resolve(found)),
      });
      this.publish({
        type: MessageType.FETCH_SOCKETS,
        data: { opts: encodeOptions(opts), requestId },
      });
    });
  }

  /**
   * The ids of the sockets in any of `rooms` on every node. The protocol has no message for ids alone, so this
   * asks with FETCH_SOCKETS (which every ClusterAdapter node answers) and keeps the ids.
   */
  override async sockets(rooms: Set<Room>): Promise<Set<SocketId>> {
    const found = await this.fetchSockets({ rooms, except: new Set(), flags: {} });
    return new Set(found.map((socket) => socket.id));
  }

  override serverSideEmit(packet: unknown[]): void {
    const last = packet[packet.length - 1];
    if (typeof last !== "function") {
      this.publish({ type: MessageType.SERVER_SIDE_EMIT, data: { packet } });
      return;
    }
    const args = packet.slice(0, -1);
    this.emitWithAck(last as ServerSideEmitAck, (expected, collector) => {
      const requestId = randomHexId();
      this.awaitAnswers(
        requestId,
        MessageType.SERVER_SIDE_EMIT,
        expected,
        this.requestsTimeout,
        collector,
      );
      this.publish({ type: MessageType.SERVER_SIDE_EMIT, data: { requestId, packet: args } });
    });
  }
}
