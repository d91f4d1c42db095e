/**
 * The cluster adapter base: the message protocol of socket.io-adapter 2.5's `ClusterAdapter`, shared by the
 * official sharded Redis, Redis-streams and Postgres adapters. A subclass only moves messages: it implements
 * `doPublish` (to every node) and `doPublishResponse` (to one node), and hands what it receives to
 * `onMessage` / `onResponse`.
 *
 * Also the helpers every cluster adapter needs: options on the wire, socket descriptions, pending requests
 * with a timeout that reports the answers received so far.
 */
import { randomBytes } from "node:crypto";
import createDebug from "debug";
import {
  Adapter,
  type AdapterNamespace,
  type AdapterPacket,
  type AdapterSocket,
  type BroadcastFlags,
  type BroadcastOptions,
  type Room,
  type ServerSideEmitAck,
  type SocketDescription,
  type SocketId,
} from "./adapter";

const debug = createDebug("switchyard:cluster");

/** Message types of the ClusterAdapter protocol (socket.io-adapter 2.5). */
export const MessageType = {
  INITIAL_HEARTBEAT: 1,
  HEARTBEAT: 2,
  BROADCAST: 3,
  SOCKETS_JOIN: 4,
  SOCKETS_LEAVE: 5,
  DISCONNECT_SOCKETS: 6,
  FETCH_SOCKETS: 7,
  FETCH_SOCKETS_RESPONSE: 8,
  SERVER_SIDE_EMIT: 9,
  SERVER_SIDE_EMIT_RESPONSE: 10,
  BROADCAST_CLIENT_COUNT: 11,
  BROADCAST_ACK: 12,
  ADAPTER_CLOSE: 13,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** The uid the official emitters put on their messages; no node has it. */
export const EMITTER_UID = "emitter";

/** Broadcast options as they travel: arrays instead of Sets. */
export interface WireOptions {
  rooms: Room[];
  except: Room[];
  flags?: BroadcastFlags;
}

/** A message between nodes: `{type, data, uid, nsp}` (this key order is the official one). */
export interface ClusterMessage {
  type: number;
  data?: Record<string, unknown>;
  uid?: string;
  nsp?: string;
}

export function encodeOptions(opts: BroadcastOptions): WireOptions {
  return { rooms: [...opts.rooms], except: [...(opts.except ?? [])], flags: opts.flags };
}

/** Rebuilds broadcast options from the wire, ignoring anything that is not an array of rooms. */
export function decodeOptions(raw: unknown): BroadcastOptions {
  const obj = isRecord(raw) ? raw : {};
  const flags = isRecord(obj.flags) ? (obj.flags as BroadcastFlags) : {};
  return { rooms: new Set(roomList(obj.rooms)), except: new Set(roomList(obj.except)), flags };
}

export function roomList(raw: unknown): Room[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter((r): r is Room => typeof r === "string" || typeof r === "number");
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** 16 hex characters: the uid and request id format of the ClusterAdapter family. */
export function randomHexId(): string {
  return randomBytes(8).toString("hex");
}

/** What other nodes learn of a socket (fetchSockets): the handshake without `sessionStore`, rooms as an array. */
export function describeSocket(socket: AdapterSocket | SocketDescription): SocketDescription {
  let handshake = socket.handshake;
  if (isRecord(handshake) && "sessionStore" in handshake) {
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(handshake))
      if (key !== "sessionStore") copy[key] = handshake[key];
    handshake = copy;
  }
  return { id: socket.id, handshake, rooms: [...socket.rooms], data: socket.data };
}

/** Whether a value holds binary data anywhere (then msgpack is needed instead of JSON). */
export function hasBinary(value: unknown, depth = 0): boolean {
  if (depth > 64 || typeof value !== "object" || value === null) return false;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return true;
  if (Array.isArray(value)) return value.some((v) => hasBinary(v, depth + 1));
  for (const key of Object.keys(value)) {
    if (hasBinary((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function" && depth === 0) return hasBinary(toJSON.call(value), depth + 1);
  return false;
}

/** Error of a request that did not get all its answers in time; `responses` holds those that came. */
export class RequestTimeoutError extends Error {
  constructor(
    message: string,
    readonly responses: unknown[],
  ) {
    super(message);
    this.name = "Error";
  }
}

/** Resolves with the value of `promise`, or rejects after `ms` (the timer never keeps the process alive). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** What a request to the other nodes does with their answers. */
export interface AnswerCollector<A = unknown> {
  /** Takes one node's answer. */
  take(answer: A): void;
  /** The answers so far: the `responses` of a timeout error. */
  answers(): unknown[];
  /** Called once: with null after the last expected answer, or with the timeout (or abort) error. */
  done(err: Error | null): void;
}

interface PendingRequest {
  type: number;
  expected: number;
  received: number;
  timer: NodeJS.Timeout;
  collector: AnswerCollector;
}

interface AckRequest {
  clientCountCallback(count: number): void;
  ack(...args: unknown[]): void;
}

/**
 * What every adapter talking to other nodes needs, whatever its wire format (the classic Redis protocol and the
 * ClusterAdapter one differ in message shapes, ids and channels, not in this): requests waiting for one answer
 * per other node with a timeout that reports the answers received so far, the handlers of broadcasts with acks,
 * the count of the other nodes, and failures reported on the `error` event.
 */
export abstract class MultiNodeAdapter extends Adapter {
  /** This namespace adapter's id in the cluster (each protocol has its own format). */
  abstract readonly uid: string;
  private readonly requests = new Map<string, PendingRequest>();
  private readonly ackRequests = new Map<string, AckRequest>();

  constructor(
    nsp: AdapterNamespace,
    /** How long requests (fetchSockets without its own timeout, serverSideEmit with ack, …) wait for answers. */
    readonly requestsTimeout: number,
  ) {
    super(nsp);
  }

  /** Reports a failure to the adapter's `error` listeners (an EventEmitter would throw without one). */
  protected reportError(err: unknown): void {
    const error = toError(err);
    debug("[%s] %s", this.uid, error.message);
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  /** Runs a send that may throw or reject; either failure is reported instead of reaching the caller. */
  protected reportFailure(send: () => Promise<unknown>): void {
    let result: Promise<unknown>;
    try {
      result = send();
    } catch (err) {
      this.reportError(err);
      return;
    }
    result.catch((err: unknown) => this.reportError(err));
  }

  /** serverCount() - 1, or undefined when the count cannot be had in time (the error is reported). */
  protected async countOthers(timeout: number): Promise<number | undefined> {
    try {
      return (await withTimeout(this.serverCount(), timeout, "serverCount")) - 1;
    } catch (err) {
      this.reportError(err);
      return undefined;
    }
  }

  /**
   * Waits for `expected` answers to the request `requestId` of type `type`, handing them to `collector`. After
   * `timeout` ms it gets instead a RequestTimeoutError with the answers so far (message `timeoutMessage`, by
   * default the ClusterAdapter's, which the classic adapter also uses for serverSideEmit).
   */
  protected awaitAnswers(
    requestId: string,
    type: number,
    expected: number,
    timeout: number,
    collector: AnswerCollector,
    timeoutMessage?: string,
  ): void {
    const timer = setTimeout(() => {
      const request = this.requests.get(requestId);
      if (!request) return;
      this.requests.delete(requestId);
      const message =
        timeoutMessage ??
        `timeout reached: only ${request.received} responses received out of ${expected}`;
      collector.done(new RequestTimeoutError(message, collector.answers()));
    }, timeout);
    this.requests.set(requestId, { type, expected, received: 0, timer, collector });
  }

  /**
   * Hands an answer to its pending request; unknown ids (and, where the protocol tells the type of an answer,
   * answers of another type) are ignored. The last expected answer completes the request.
   */
  protected takeAnswer(requestId: string, answer: unknown, ofType?: number): void {
    const request = this.requests.get(requestId);
    if (!request || (ofType !== undefined && request.type !== ofType)) return;
    request.received++;
    request.collector.take(answer);
    if (request.received >= request.expected) {
      clearTimeout(request.timer);
      this.requests.delete(requestId);
      request.collector.done(null);
    }
  }

  /** Whether `requestId` is one of this node's pending requests (a node does not answer its own). */
  protected isPendingRequest(requestId: string): boolean {
    return this.requests.has(requestId);
  }

  /**
   * serverSideEmit with an ack, the same in every protocol: the ack gets an error at once when the number of
   * nodes cannot be had, an empty list when there is no other node, else what `ask` collects from them.
   */
  protected emitWithAck(
    ack: ServerSideEmitAck,
    ask: (expected: number, collector: AnswerCollector) => void,
  ): void {
    void this.countOthers(this.requestsTimeout).then((expected) => {
      if (expected === undefined) {
        ack(new RequestTimeoutError("timeout reached: the number of servers is unknown", []), []);
        return;
      }
      if (expected <= 0) {
        ack(null, []);
        return;
      }
      const responses: unknown[] = [];
      ask(expected, {
        take: (answer) => responses.push(answer),
        answers: () => responses,
        done: (err) => ack(err, responses),
      });
    });
  }

  /** Keeps the handlers of a broadcast with acks sent to other nodes, for their client counts and acks. */
  protected rememberAckHandlers(
    requestId: string,
    clientCountCallback: (clientCount: number) => void,
    ack: (...args: unknown[]) => void,
    timeout: number,
  ): void {
    this.ackRequests.set(requestId, { clientCountCallback, ack });
    // whether every client answered is only known above the adapter: forget the handlers after the timeout
    const timer = setTimeout(() => this.ackRequests.delete(requestId), timeout);
    timer.unref?.();
  }

  protected ackHandlers(requestId: string): AckRequest | undefined {
    return this.ackRequests.get(requestId);
  }

  /** Fails the pending requests (their callers get an error with what came so far). */
  protected abortRequests(reason: string): void {
    for (const [id, request] of this.requests) {
      clearTimeout(request.timer);
      this.requests.delete(id);
      request.collector.done(new RequestTimeoutError(reason, request.collector.answers()));
    }
    this.ackRequests.clear();
  }
}

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

  /** Sends a message to every node (this one may receive it back; it is ignored by uid). Resolves with an offset. */
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

  protected publishResponse(requesterUid: string, response: ClusterMessage): void {
    response.uid = this.uid;
    response.nsp = this.nsp.name;
    this.reportFailure(() => this.doPublishResponse(requesterUid, response));
  }

  /** Handles a message published by another node (or the emitter). */
  onMessage(message: ClusterMessage, _offset?: string): void {
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
          super.broadcast(packet, opts);
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
        );
        return;
      case MessageType.SERVER_SIDE_EMIT_RESPONSE:
        this.takeAnswer(requestId, data.packet, MessageType.SERVER_SIDE_EMIT);
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
    super.broadcast(packet, opts);
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
    const expected = (await this.countOthers(timeout)) ?? -1;
    if (expected < 0) {
      throw new RequestTimeoutError("timeout reached: the number of servers is unknown", [
        ...local,
      ]);
    }
    if (expected === 0) return local;
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

/** The packet as the official adapters put it on the wire: `{type, data}` (+ `nsp` where they set it first). */
export function wirePacket(packet: AdapterPacket, nsp?: string): Record<string, unknown> {
  const out: Record<string, unknown> = { type: packet.type, data: packet.data };
  if (nsp !== undefined) out.nsp = nsp;
  return out;
}

/** A packet received from another node, checked: an object with a numeric type; `nsp` defaults to ours. */
export function toPacket(raw: unknown, nsp: string): AdapterPacket | undefined {
  if (!isRecord(raw) || typeof raw.type !== "number") return undefined;
  const packet: AdapterPacket = { type: raw.type, nsp, data: raw.data };
  return packet;
}
