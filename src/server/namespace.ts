/**
 * Namespace: a set of sockets sharing middlewares, rooms (through its adapter) and events.
 */
import createDebug from "debug";
import { channels } from "../diagnostics";
import type {
  AckExpectation,
  Adapter,
  AdapterPacket,
  DeliveryFlags,
  EncodedPacket,
  Room,
} from "../adapter/adapter";
import type { ConnectionStateRecovery, Session } from "../adapter/sessions";
import { runMiddlewares } from "../util/middleware";
import { type Ack, BroadcastAcks, ackPromise } from "./acks";
import { BroadcastOperator, watchAdapterResult } from "./broadcast";
import { binaryInServerSideEmitError, reservedEventError } from "./errors";
import type { Client } from "./client";
import type { RemoteSocket } from "./remote-socket";
import type { Server } from "./server";
import { type ExtendedError, Socket } from "./socket";
import {
  type AllButLast,
  type DecorateAcknowledgementsWithMultipleResponses,
  type DefaultEventsMap,
  type EventNames,
  type EventNamesWithAck,
  type EventParams,
  type EventsMap,
  type FirstArg,
  type Last,
  StrictEventEmitter,
} from "./typed-events";

const debug = createDebug("switchyard:namespace");

/** Events the server fires itself; `serverSideEmit` refuses them. */
export const NAMESPACE_RESERVED_EVENTS: ReadonlySet<string> = new Set([
  "connect",
  "connection",
  "new_namespace",
]);

export interface NamespaceReservedEventsMap<
  ListenEvents extends EventsMap,
  EmitEvents extends EventsMap,
  ServerSideEvents extends EventsMap,
  SocketData,
> {
  connect: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void;
  connection: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void;
}

/** Listeners of a namespace: its own reserved events, and the server-side events other nodes send. */
export type NamespaceListenEvents<
  ListenEvents extends EventsMap,
  EmitEvents extends EventsMap,
  ServerSideEvents extends EventsMap,
  SocketData,
> = NamespaceReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData> &
  ServerSideEvents;

export type Middleware<
  ListenEvents extends EventsMap,
  EmitEvents extends EventsMap,
  ServerSideEvents extends EventsMap,
  SocketData,
> = (
  socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
  next: (err?: ExtendedError) => void,
) => void;

export class Namespace<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = DefaultEventsMap,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = unknown,
> extends StrictEventEmitter<
  ServerSideEvents,
  EmitEvents,
  NamespaceReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
> {
  /** Connected sockets of this node, by id. */
  readonly sockets = new Map<
    string,
    Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
  >();
  adapter!: Adapter;
  /** @internal Connection middlewares. */
  _fns: Array<Middleware<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> = [];
  /**
   * @internal Next ack id for packets sent in this namespace (socket.io's name: third-party adapters built
   * on socket.io-adapter read and bump it; ours go through `expectAcks`).
   */
  _ids = 0;
  /**
   * @internal Set on a dynamic child created for a client's CONNECT: removes the child when that CONNECT (and
   * every other one in flight) fails, so a refused CONNECT leaves no namespace behind. Cleared once one succeeds.
   */
  _removeUnlessConnected: (() => void) | undefined;
  /** CONNECTs in this namespace's middlewares right now. */
  private connecting = 0;

  constructor(
    readonly server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    readonly name: string,
  ) {
    super();
    this._initAdapter();
  }

  /** @internal Builds this namespace's adapter from the server's `adapter` option. */
  _initAdapter(): void {
    this.adapter = this.server._createAdapter(this);
    const init = this.adapter.init();
    if (init) init.catch((err: unknown) => debug("adapter init failed for %s: %o", this.name, err));
  }

  /** Registers a connection middleware: `(socket, next) => ...`; `next(err)` refuses the socket. */
  use(fn: Middleware<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): this {
    this._fns.push(fn);
    return this;
  }

  /**
   * The server's `connectionStateRecovery` option with its defaults, or undefined when recovery is off (part
   * of the adapter boundary).
   */
  get connectionStateRecovery(): Readonly<ConnectionStateRecovery> | undefined {
    return this.server._recovery;
  }

  /**
   * @internal A client asks to join: restore its session when it brings one, run the middlewares (unless a
   * recovered session skips them), then connect or refuse the socket.
   */
  _add(
    client: Client<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    auth: Record<string, unknown>,
    onConnected: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void,
    onRefused?: () => void,
  ): void {
    this.connecting++;
    const recovery = this.server._recovery;
    if (recovery && typeof auth.pid === "string" && typeof auth.offset === "string") {
      void this.restore(auth.pid, auth.offset).then((session) => {
        const socket = new Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>(
          this,
          client,
          auth,
          session ?? undefined,
        );
        if (session && recovery.skipMiddlewares && client.conn.readyState === "open") {
          this.connecting--;
          this.doConnect(socket, onConnected);
        } else {
          this.runMiddlewares(socket, onConnected, onRefused);
        }
      });
      return;
    }
    this.runMiddlewares(new Socket(this, client, auth), onConnected, onRefused);
  }

  /** The adapter's session, or null when there is none or the adapter failed (the socket starts afresh). */
  private async restore(pid: string, offset: string): Promise<Session | null> {
    try {
      return await this.adapter.restoreSession(pid, offset);
    } catch (err) {
      debug("session %s not restored: %o", pid, err);
      return null;
    }
  }

  private runMiddlewares(
    socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    onConnected: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void,
    onRefused: (() => void) | undefined,
  ): void {
    const client = socket.client;
    runMiddlewares<
      Middleware<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ExtendedError
    >(
      this._fns.slice(),
      (fn, next) => fn(socket, next),
      (err) => {
        process.nextTick(() => {
          this.connecting--;
          if (client.conn.readyState !== "open" || err) {
            if (err) {
              debug("middleware refused a socket of %s: %s", this.name, err.message);
              socket._error(err);
            } else debug("connection closed during the middlewares of %s", this.name);
            socket._cleanup();
            onRefused?.();
            if (this.connecting === 0 && this.sockets.size === 0) this._removeUnlessConnected?.();
            return;
          }
          this.doConnect(socket, onConnected);
        });
      },
    );
  }

  private doConnect(
    socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    onConnected: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void,
  ): void {
    this._removeUnlessConnected = undefined;
    this.sockets.set(socket.id, socket);
    socket._onconnect();
    if (channels.connection.hasSubscribers) channels.connection.publish({ socket });
    onConnected(socket);
    this.emitReserved("connect", socket);
    this.emitReserved("connection", socket);
  }

  // The adapter boundary (AdapterNamespace): what an adapter asks of its namespace for a broadcast

  /** Encodes `packet` (its `nsp` set to this namespace) once for every target of a broadcast. */
  encodeBroadcast(packet: AdapterPacket): EncodedPacket {
    packet.nsp = this.name;
    return this.server._encodeForBroadcast(packet);
  }

  /** Writes an encoded broadcast to one socket of this namespace; its outgoing catch-all listeners hear it. */
  deliver(
    socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    packet: AdapterPacket,
    encoded: EncodedPacket,
    flags: DeliveryFlags,
  ): void {
    socket.notifyOutgoingListeners(packet);
    socket.client.writeToEngine(encoded, flags);
  }

  /** Gives `packet` a new ack id and returns the handle registering `ack` on each target socket. */
  expectAcks(packet: AdapterPacket, ack: Ack, timeout: number | undefined): AckExpectation {
    const id = this._ids++;
    packet.id = id;
    return new BroadcastAcks(id, ack, timeout, this.server._limits.maxPendingAcks);
  }

  /** @internal A socket left this namespace. */
  _remove(socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): void {
    this.sockets.delete(socket.id);
  }

  // Broadcasting: each returns an operator on this namespace's adapter

  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this.adapter).to(room);
  }

  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.to(room);
  }

  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this.adapter).except(room);
  }

  /** Emits to every socket of the namespace. */
  override emit<Ev extends EventNames<EmitEvents>>(
    ev: Ev,
    ...args: EventParams<EmitEvents, Ev>
  ): boolean {
    return new BroadcastOperator<EmitEvents, SocketData>(this.adapter).emit(ev, ...args);
  }

  emitWithAck<Ev extends EventNamesWithAck<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstArg<Last<EventParams<EmitEvents, Ev>>>[]> {
    return new BroadcastOperator<EmitEvents, SocketData>(this.adapter).emitWithAck(
      ev,
      ...args,
    ) as Promise<FirstArg<Last<EventParams<EmitEvents, Ev>>>[]>;
  }

  send(...args: EventParams<EmitEvents, "message">): this {
    (this.emit as (ev: string, ...rest: unknown[]) => boolean)("message", ...args);
    return this;
  }

  write(...args: EventParams<EmitEvents, "message">): this {
    return this.send(...args);
  }

  compress(compress: boolean): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this.adapter).compress(compress);
  }

  get volatile(): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this.adapter).volatile;
  }

  get local(): BroadcastOperator<EmitEvents, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this.adapter).local;
  }

  timeout(
    timeout: number,
  ): BroadcastOperator<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, SocketData> {
    return new BroadcastOperator<EmitEvents, SocketData>(this.adapter).timeout(timeout);
  }

  // Utility methods, also across a cluster

  allSockets(): Promise<Set<string>> {
    return new BroadcastOperator<EmitEvents, SocketData>(this.adapter).allSockets();
  }

  fetchSockets(): Promise<
    Array<
      | RemoteSocket<EmitEvents, SocketData>
      | Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
    >
  > {
    return new BroadcastOperator<EmitEvents, SocketData>(this.adapter).fetchSockets() as Promise<
      Array<
        | RemoteSocket<EmitEvents, SocketData>
        | Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
      >
    >;
  }

  socketsJoin(room: Room | Room[]): void {
    new BroadcastOperator<EmitEvents, SocketData>(this.adapter).socketsJoin(room);
  }

  socketsLeave(room: Room | Room[]): void {
    new BroadcastOperator<EmitEvents, SocketData>(this.adapter).socketsLeave(room);
  }

  disconnectSockets(close = false): void {
    new BroadcastOperator<EmitEvents, SocketData>(this.adapter).disconnectSockets(close);
  }

  /**
   * Sends an event to the other nodes of the cluster, heard there by `io.on(event)` / `namespace.on(event)`.
   * With an ack function last, it receives `(err, responses)`: one answer per other node.
   */
  serverSideEmit<Ev extends EventNames<ServerSideEvents>>(
    ev: Ev,
    ...args: EventParams<DecorateAcknowledgementsWithMultipleResponses<ServerSideEvents>, Ev>
  ): boolean {
    if (typeof ev === "string" && NAMESPACE_RESERVED_EVENTS.has(ev)) throw reservedEventError(ev);
    const packet: unknown[] = [ev, ...args];
    const withAck = typeof packet[packet.length - 1] === "function";
    assertJsonOnly(withAck ? packet.slice(0, -1) : packet);
    watchAdapterResult(this.adapter, this.adapter.serverSideEmit(packet));
    return true;
  }

  /** Like `serverSideEmit` with an ack, as a Promise of every other node's answer. */
  serverSideEmitWithAck<Ev extends EventNamesWithAck<ServerSideEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<ServerSideEvents, Ev>>
  ): Promise<FirstArg<Last<EventParams<ServerSideEvents, Ev>>>[]> {
    return ackPromise(
      (callback) =>
        (this.serverSideEmit as (ev: Ev, ...rest: unknown[]) => boolean)(ev, ...args, callback),
      true,
      true,
    );
  }

  /**
   * An event from another node: dispatched to this namespace's listeners. Part of the adapter boundary
   * (`AdapterNamespace`), so not internal: it stays in the published types.
   */
  _onServerSideEmit(args: unknown[]): void {
    const [ev, ...rest] = args;
    this.emitUntyped(String(ev), ...rest);
  }

  /** @internal Fires an event on this namespace's own listeners (the server's `new_namespace`). */
  _fire(ev: string, ...args: unknown[]): void {
    this.emitUntyped(ev, ...args);
  }
}

/** Server-side events travel between nodes as JSON (or msgpack of plain data): binary has no place there. */
function assertJsonOnly(args: unknown[]): void {
  const seen = new Set<unknown>();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== "object") return;
    if (Buffer.isBuffer(value) || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
      throw binaryInServerSideEmitError();
    }
    if (seen.has(value)) return;
    seen.add(value);
    for (const item of Array.isArray(value) ? value : Object.values(value)) visit(item);
  };
  for (const arg of args) visit(arg);
}
