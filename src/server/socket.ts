/**
 * Socket: one client's membership of one namespace. Events in and out, acknowledgements, rooms, packet
 * middlewares, catch-all listeners, and the disconnect lifecycle.
 */
import type { IncomingMessage } from "node:http";
import createDebug from "debug";
import { channels, timedAck } from "../diagnostics";
import type { Room } from "../adapter/adapter";
import type { Session } from "../adapter/sessions";
import type { Socket as EngineSocket } from "../engine";
import { type Packet, PacketType, RESERVED_EVENTS } from "../parser";
import { runMiddlewares } from "../util/middleware";
import { type Ack, ackPromise, registerAck } from "./acks";
import { BroadcastOperator, watchAdapterResult } from "./broadcast";
import { type AnyListener, addAnyListener, removeAnyListener } from "./catch-all";
import type { Client } from "./client";
import { reservedEventError } from "./errors";
import { LimitErrorMessage } from "./limits";
import { type Handshake, buildHandshake } from "./handshake";
import type { Namespace } from "./namespace";
import { generateSocketId } from "../util/ids";
import {
  type AllButLast,
  type DecorateAcknowledgements,
  type DefaultEventsMap,
  type EventNames,
  type EventNamesWithAck,
  type EventParams,
  type EventsMap,
  type FirstArg,
  type Last,
  StrictEventEmitter,
} from "./typed-events";

const debug = createDebug("switchyard:socket");

export type DisconnectReason =
  | "transport error"
  | "transport close"
  | "forced close"
  | "ping timeout"
  | "parse error"
  | "server shutting down"
  | "forced server close"
  | "client namespace disconnect"
  | "server namespace disconnect"
  /** The connection's send buffer passed `maxSendBufferBytes` (docs/limits.md). */
  | "send buffer overflow"
  /** The connection sent packets faster than `packetRateLimit` allows, with `onLimit: "disconnect"`. */
  | "rate limit exceeded";

export type { Handshake } from "./handshake";

/**
 * The reasons after which a client may come back and recover its session (connection state recovery): the
 * connection was lost or closed by the server, not left on purpose.
 */
export const RECOVERABLE_DISCONNECT_REASONS: ReadonlySet<DisconnectReason> = new Set([
  "transport error",
  "transport close",
  "forced close",
  "ping timeout",
  "server shutting down",
  "forced server close",
]);

export interface SocketReservedEventsMap {
  disconnect: (reason: DisconnectReason, description?: unknown) => void;
  disconnecting: (reason: DisconnectReason, description?: unknown) => void;
  error: (err: Error) => void;
  /** The connection's send buffer is back under `sendBufferHighWaterMark` after `emit()` returned false. */
  drain: () => void;
}

export type Event = [string, ...unknown[]];

/** The error a middleware passes to `next`: its message and `data` reach the client's `connect_error`. */
export interface ExtendedError extends Error {
  data?: unknown;
}

export interface EmitFlags {
  volatile?: boolean;
  compress?: boolean;
  timeout?: number;
  /** Set by emitWithAck so an ack callback receives `(err, ...args)`. */
  withError?: boolean;
}

export class Socket<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = DefaultEventsMap,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = unknown,
> extends StrictEventEmitter<ListenEvents, EmitEvents, SocketReservedEventsMap> {
  readonly id: string;
  /**
   * The private session id (connection state recovery on): sent to the client only, which gives it back
   * with its last offset to recover the session.
   */
  readonly pid: string | undefined;
  /** Whether this socket took over a previous session (same id, rooms and data; missed events resent). */
  readonly recovered: boolean = false;
  /** The events missed while away, written just before the CONNECT reply. */
  private missedPackets: unknown[][] | undefined;
  private builtHandshake: Handshake | undefined;
  /** When the socket was created (ms since the epoch): the handshake's `issued`. */
  private readonly issued = Date.now();
  private ownData: SocketData | undefined;
  connected = false;
  /** Acks awaited from the client, by packet id; most sockets never wait for one, so it is made on first use. */
  private pendingAcks: Map<number, Ack> | undefined;
  /** Set once the socket has left its namespace: later joins are no-ops, or they would leak rooms. */
  private left = false;
  private readonly adapter: Namespace["adapter"];
  private fns: Array<(event: Event, next: (err?: Error) => void) => void> | undefined;
  /** Flags for the next emit; the shared empty object until a flag is set (copy on write). */
  private flags: EmitFlags = NO_FLAGS;
  private anyIncoming: AnyListener[] | undefined;
  private anyOutgoing: AnyListener[] | undefined;

  constructor(
    readonly nsp: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    readonly client: Client<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    private readonly auth: Record<string, unknown>,
    session?: Session,
  ) {
    super();
    this.adapter = nsp.adapter;
    if (session) {
      this.id = session.sid;
      this.pid = session.pid;
      void this.join(session.rooms);
      this.data = session.data as SocketData;
      this.missedPackets = session.missedPackets;
      this.recovered = true;
    } else {
      // a v2 client (Engine.IO 3) knows its socket by the engine id, as socket.io names it
      this.id =
        client.conn.protocol === 3
          ? nsp.name === "/"
            ? client.id
            : `${nsp.name}#${client.id}`
          : generateSocketId();
      if (nsp.server._recovery && client.conn.protocol !== 3) this.pid = generateSocketId();
    }
  }

  /**
   * Acks awaited from the client, by packet id. Our namespace registers a broadcast's acks here
   * (`Namespace.expectAcks`); third-party adapters built on socket.io-adapter write it directly.
   */
  get acks(): Map<number, Ack> {
    return (this.pendingAcks ??= new Map());
  }

  /**
   * What the client sent to connect. Built on first read: most applications never look at it, and an idle
   * socket is smaller without it.
   */
  get handshake(): Handshake {
    return (this.builtHandshake ??= buildHandshake(this.client, this.auth, this.issued));
  }

  /**
   * Application state attached to the socket; visible to fetchSockets() across the cluster. The empty object
   * is made on first read: many sockets never carry any.
   */
  get data(): SocketData {
    return (this.ownData ??= {} as SocketData);
  }

  set data(value: SocketData) {
    this.ownData = value;
  }

  get disconnected(): boolean {
    return !this.connected;
  }

  /** The Server (socket.io's field; adapters built on socket.io-adapter tell a local socket by it). */
  get server(): Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>["server"] {
    return this.nsp.server;
  }

  /** The underlying Engine.IO connection. */
  get conn(): EngineSocket {
    return this.client.conn;
  }

  /** The HTTP request that opened the connection. */
  get request(): IncomingMessage {
    return this.client.request;
  }

  get rooms(): Set<Room> {
    return this.adapter.socketRooms(this.id) ?? new Set();
  }

  /**
   * Sends an event to this client. A function as the last argument is called with the client's answer;
   * after `timeout(ms)` it is called with `(err, ...answer)`.
   */
  override emit<Ev extends EventNames<EmitEvents>>(
    ev: Ev,
    ...args: EventParams<EmitEvents, Ev>
  ): boolean {
    if (typeof ev === "string" && RESERVED_EVENTS.has(ev)) throw reservedEventError(ev);
    const data: unknown[] = [ev, ...args];
    const packet: Packet = { type: PacketType.EVENT, nsp: this.nsp.name, data };
    const flags = this.flags;
    if (flags !== NO_FLAGS) this.flags = NO_FLAGS;
    const last = data[data.length - 1];
    if (typeof last === "function") {
      data.pop();
      if (
        this.pendingAcks !== undefined &&
        this.pendingAcks.size >= this.nsp.server._limits.maxPendingAcks
      ) {
        // bounded: the packet is not sent and its ack learns why (docs/limits.md)
        debug("%s: too many pending acks, emit refused", this.id);
        process.nextTick(refuseAck, this, last as Ack);
        return false;
      }
      const id = this.nsp._ids++;
      const ack = channels.ack.hasSubscribers
        ? timedAck(this as Socket, ev as string, last as Ack, flags.timeout !== undefined)
        : (last as Ack);
      registerAck(this, this, id, ack, flags.timeout);
      packet.id = id;
    }
    if (channels.eventOut.hasSubscribers) {
      channels.eventOut.publish({ socket: this, event: ev, args: data.slice(1), ackId: packet.id });
    }
    const events = this.nsp.server._eventCounter;
    if (events !== undefined) events.countOut(ev as string);
    if (this.pid !== undefined) {
      // connection state recovery: through the adapter, which gives the event an offset and keeps it
      const opts = { rooms: new Set<Room>([this.id]), except: new Set<Room>(), flags };
      watchAdapterResult(this.adapter, this.adapter.broadcast(packet, opts));
      return true;
    }
    this.notifyOutgoingListeners(packet);
    this.packet(packet, flags);
    // false once the connection's send buffer is past its high-water mark: wait for "drain" (docs/limits.md)
    return !this.client.conn.needsDrain;
  }

  /** Like `emit` with an ack, as a Promise of the client's answer (rejected on timeout). */
  emitWithAck<Ev extends EventNamesWithAck<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstArg<Last<EventParams<EmitEvents, Ev>>>> {
    const withError = this.flags.timeout !== undefined;
    return ackPromise(
      (callback) => (this.emit as (ev: Ev, ...rest: unknown[]) => boolean)(ev, ...args, callback),
      withError,
    );
  }

  /** Sends a `message` event (the client's `socket.on("message")`). */
  send(...args: EventParams<EmitEvents, "message">): this {
    (this.emit as (ev: string, ...rest: unknown[]) => boolean)("message", ...args);
    return this;
  }

  write(...args: EventParams<EmitEvents, "message">): this {
    return this.send(...args);
  }

  /**
   * Writes a packet of this namespace to the client. With `preEncoded`, `packet` is already encoded (an array of
   * parts, each one engine message): adapters built on socket.io-adapter 2.2 broadcast that way.
   */
  packet(packet: Packet, opts?: EmitFlags): void;
  packet(encoded: ReadonlyArray<string | Buffer>, opts: EmitFlags & { preEncoded: true }): void;
  packet(
    packet: Packet | ReadonlyArray<string | Buffer>,
    opts: EmitFlags & { preEncoded?: boolean } = {},
  ): void {
    if (opts.preEncoded) {
      this.client.writeToEngine(packet as ReadonlyArray<string | Buffer>, opts);
      return;
    }
    packet = packet as Packet;
    packet.nsp = this.nsp.name;
    this.client._packet(packet, opts.volatile ? { volatile: true, compress: opts.compress } : opts);
  }

  // Rooms

  join(rooms: Room | Room[]): Promise<void> | void {
    if (this.left) return;
    debug.enabled && debug("%s joins %o", this.id, rooms);
    return this.adapter.addAll(this.id, new Set(Array.isArray(rooms) ? rooms : [rooms]));
  }

  leave(room: Room): Promise<void> | void {
    debug.enabled && debug("%s leaves %s", this.id, room);
    return this.adapter.del(this.id, room);
  }

  private leaveAll(): void {
    this.adapter.delAll(this.id);
  }

  // Broadcasting from this socket: every target except the socket itself

  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.newBroadcastOperator().to(room);
  }

  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.newBroadcastOperator().in(room);
  }

  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.newBroadcastOperator().except(room);
  }

  get broadcast(): BroadcastOperator<EmitEvents, SocketData> {
    return this.newBroadcastOperator();
  }

  get local(): BroadcastOperator<EmitEvents, SocketData> {
    return this.newBroadcastOperator().local;
  }

  private newBroadcastOperator(): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(
      this.adapter,
      new Set(),
      new Set([this.id]),
      {},
    );
  }

  // Flags for the next emit

  compress(compress: boolean): this {
    this.flags = { ...this.flags, compress };
    return this;
  }

  get volatile(): this {
    this.flags = { ...this.flags, volatile: true };
    return this;
  }

  timeout(
    timeout: number,
  ): Socket<ListenEvents, DecorateAcknowledgements<EmitEvents>, ServerSideEvents, SocketData> {
    this.flags = { ...this.flags, timeout };
    return this as unknown as Socket<
      ListenEvents,
      DecorateAcknowledgements<EmitEvents>,
      ServerSideEvents,
      SocketData
    >;
  }

  // Lifecycle (called by Namespace and Client)

  /** @internal The namespace accepted the socket: it joins its own room and the client learns its id. */
  _onconnect(): void {
    this.connected = true;
    void this.join(this.id);
    const missed = this.missedPackets;
    if (missed) {
      this.missedPackets = undefined;
      for (const data of missed) this.packet({ type: PacketType.EVENT, nsp: this.nsp.name, data });
    }
    // Socket.IO protocol 4 (v2 clients): a CONNECT without payload
    const data =
      this.client.conn.protocol === 3
        ? undefined
        : this.pid === undefined
          ? { sid: this.id }
          : { sid: this.id, pid: this.pid };
    this.packet({ type: PacketType.CONNECT, nsp: this.nsp.name, data });
  }

  /** @internal A packet from the client for this namespace. */
  _onpacket(packet: Packet): void {
    switch (packet.type) {
      case PacketType.EVENT:
      case PacketType.BINARY_EVENT:
        this.onevent(packet);
        break;
      case PacketType.ACK:
      case PacketType.BINARY_ACK:
        this.onack(packet);
        break;
      case PacketType.DISCONNECT:
        this._onclose("client namespace disconnect");
        break;
    }
  }

  private onevent(packet: Packet): void {
    const args = (packet.data as unknown[]).slice();
    if (channels.eventIn.hasSubscribers) {
      channels.eventIn.publish({
        socket: this,
        event: args[0],
        args: args.slice(1),
        ackId: packet.id,
      });
    }
    const events = this.nsp.server._eventCounter;
    if (events !== undefined) events.countIn(args[0]);
    if (packet.id !== undefined) args.push(this.ack(packet.id));
    if (this.anyIncoming) {
      for (const listener of this.anyIncoming.slice()) listener.apply(this, args);
    }
    this.dispatch(args as Event);
  }

  /** The callback handed to a listener when the client asked for an ack: answers once. */
  private ack(id: number): Ack {
    let sent = false;
    return (...args: unknown[]) => {
      if (sent) return;
      sent = true;
      this.packet({ type: PacketType.ACK, nsp: this.nsp.name, id, data: args });
    };
  }

  private onack(packet: Packet): void {
    const id = packet.id as number;
    const ack = this.pendingAcks?.get(id);
    if (!ack) {
      debug.enabled && debug("%s: unknown ack id %d", this.id, id);
      return;
    }
    this.pendingAcks!.delete(id);
    ack.apply(this, packet.data as unknown[]);
  }

  /** Runs the packet middlewares, then the listeners (on the next tick, as socket.io does). */
  private dispatch(event: Event): void {
    if (this.fns === undefined) {
      process.nextTick(emitEvent, this, event, undefined);
      return;
    }
    runMiddlewares<(event: Event, next: (err?: Error) => void) => void, Error>(
      this.fns,
      (fn, next) => fn(event, next),
      (err) => process.nextTick(emitEvent, this, event, err),
    );
  }

  /** @internal Delivers an incoming event to the listeners, or a middleware's error to `error`. */
  _emitEvent(event: Event, err: Error | undefined): void {
    if (err) {
      this._onerror(err);
      return;
    }
    if (this.connected) this.emitUntyped(...event);
    else debug.enabled && debug("%s: event after disconnection ignored", this.id);
  }

  /** Registers a packet middleware: `([event, ...args], next) => ...`. */
  use(fn: (event: Event, next: (err?: Error) => void) => void): this {
    (this.fns ??= []).push(fn);
    return this;
  }

  /** @internal The connection's send buffer drained below its high-water mark. */
  _ondrain(): void {
    if (this.connected) this.emitReserved("drain");
  }

  /** @internal An error for this socket: to its `error` listeners, or to stderr when it has none. */
  _onerror(err: Error): void {
    if (this.listenerCount("error") > 0) {
      this.emitReserved("error", err);
    } else {
      console.error("Missing error handler on `socket`.");
      console.error(err.stack);
    }
  }

  /** @internal The socket leaves its namespace: `disconnecting` (rooms still visible), then `disconnect`. */
  _onclose(reason: DisconnectReason, description?: unknown): void {
    if (!this.connected) return;
    debug.enabled && debug("%s closing: %s", this.id, reason);
    this.emitReserved("disconnecting", reason, description);
    if (this.pid !== undefined && RECOVERABLE_DISCONNECT_REASONS.has(reason)) {
      const session = { sid: this.id, pid: this.pid, rooms: [...this.rooms], data: this.data };
      watchAdapterResult(this.adapter, this.adapter.persistSession(session));
    }
    this._cleanup();
    this.client._remove(this);
    this.connected = false;
    // acks the client can no longer answer are dropped with the socket (timed ones still get their timeout)
    this.pendingAcks = undefined;
    if (channels.disconnect.hasSubscribers) channels.disconnect.publish({ socket: this, reason });
    this.emitReserved("disconnect", reason, description);
  }

  /** @internal Removes every trace of the socket from its namespace and rooms. */
  _cleanup(): void {
    this.left = true;
    this.leaveAll();
    this.nsp._remove(this);
  }

  /** @internal Refuses the connection: the client receives CONNECT_ERROR with the message and data. */
  _error(err: { message: string; data?: unknown }): void {
    // a middleware may throw anything: a string, a plain object...
    const isObject = typeof err === "object" && err !== null;
    const message = isObject && typeof err.message === "string" ? err.message : String(err);
    const extra = isObject ? err.data : undefined;
    if (this.client.conn.protocol === 3) {
      // Socket.IO protocol 4 (v2 clients) carries the data alone, or the message when there is none
      this.packet({
        type: PacketType.CONNECT_ERROR,
        nsp: this.nsp.name,
        data: extra || message,
      });
      return;
    }
    const data: { message: string; data?: unknown } = { message };
    if (extra !== undefined) data.data = extra;
    this.packet({ type: PacketType.CONNECT_ERROR, nsp: this.nsp.name, data });
  }

  /** Disconnects this socket; with `close`, the whole underlying connection (every namespace). */
  disconnect(close = false): this {
    if (!this.connected) return this;
    if (close) {
      this.client._disconnect();
    } else {
      this.packet({ type: PacketType.DISCONNECT, nsp: this.nsp.name });
      this._onclose("server namespace disconnect");
    }
    return this;
  }

  // Catch-all listeners

  onAny(listener: AnyListener): this {
    this.anyIncoming = addAnyListener(this.anyIncoming, listener, false);
    return this;
  }

  prependAny(listener: AnyListener): this {
    this.anyIncoming = addAnyListener(this.anyIncoming, listener, true);
    return this;
  }

  offAny(listener?: AnyListener): this {
    this.anyIncoming = removeAnyListener(this.anyIncoming, listener);
    return this;
  }

  listenersAny(): AnyListener[] {
    return this.anyIncoming ? this.anyIncoming.slice() : [];
  }

  onAnyOutgoing(listener: AnyListener): this {
    this.anyOutgoing = addAnyListener(this.anyOutgoing, listener, false);
    return this;
  }

  prependAnyOutgoing(listener: AnyListener): this {
    this.anyOutgoing = addAnyListener(this.anyOutgoing, listener, true);
    return this;
  }

  offAnyOutgoing(listener?: AnyListener): this {
    this.anyOutgoing = removeAnyListener(this.anyOutgoing, listener);
    return this;
  }

  listenersAnyOutgoing(): AnyListener[] {
    return this.anyOutgoing ? this.anyOutgoing.slice() : [];
  }

  /** Tells the outgoing catch-all listeners about a packet sent to this client (broadcasts included). */
  notifyOutgoingListeners(packet: { data?: unknown }): void {
    if (!this.anyOutgoing) return;
    const args = packet.data as unknown[];
    for (const listener of this.anyOutgoing.slice()) listener.apply(this, args);
  }
}

const NO_FLAGS: EmitFlags = Object.freeze({});

function refuseAck(socket: Socket, ack: Ack): void {
  ack.call(socket, new Error(LimitErrorMessage.TOO_MANY_PENDING_ACKS));
}

function emitEvent(socket: Socket, event: Event, err: Error | undefined): void {
  socket._emitEvent(event, err);
}
