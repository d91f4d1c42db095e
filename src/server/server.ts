/**
 * Server: the Socket.IO server. It owns the Engine.IO server (`io.engine`), the namespaces, the parser and the
 * adapter factory, and exposes the main namespace's methods on itself, as socket.io does.
 */
import type { EventEmitter } from "node:events";
import * as http from "node:http";
import type { Http2SecureServer, Http2Server } from "node:http2";
import type { Server as HttpsServer } from "node:https";
import cors from "cors";
import createDebug from "debug";
import {
  Adapter,
  type AdapterConstructor,
  type AdapterNamespace,
  type AdapterPacket,
  type EncodedPacket,
  type Room,
} from "../adapter/adapter";
import { SessionAwareAdapter } from "../adapter/session-aware";
import type { ConnectionStateRecovery, ConnectionStateRecoveryOptions } from "../adapter/sessions";
import type { EventCounter } from "../diagnostics";
import {
  Server as Engine,
  type ServerOptions as EngineOptions,
  type Socket as EngineSocket,
  PreparedMessage,
  attach as attachEngine,
} from "../engine";
import * as defaultParser from "../parser";
import type { BroadcastOperator } from "./broadcast";
import { Client } from "./client";
import { expressHandlerError, invalidPortError } from "./errors";
import { type Middleware, Namespace } from "./namespace";
import { deadline, type LimitOptions, resolveLimits } from "./limits";
import { ParentNamespace } from "./parent-namespace";
import type { RemoteSocket } from "./remote-socket";
import { createClientHandler, type RequestMiddleware } from "./serve-client";
import type { Socket } from "./socket";
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
  type ReservedOrUserEventNames,
  type ReservedOrUserListener,
  StrictEventEmitter,
} from "./typed-events";

const debug = createDebug("switchyard:server");

type HttpLikeServer = http.Server | HttpsServer | Http2SecureServer | Http2Server;

/** A parser of socket.io-parser's shape: an Encoder class with `encode`, a Decoder class emitting `decoded`. */
export interface Parser {
  Encoder: new () => { encode(packet: defaultParser.Packet): unknown };
  Decoder: new () => {
    add(chunk: unknown): void;
    destroy(): void;
    on(event: "decoded", listener: (packet: defaultParser.Packet) => void): unknown;
  };
}

export interface ServerOptions extends EngineOptions, LimitOptions {
  /** Where the server listens for Socket.IO requests. Default "/socket.io". */
  path: string;
  /** Serve the client bundle at `<path>/socket.io.js`. Default true. */
  serveClient: boolean;
  /** The adapter class, or a factory `(nsp) => adapter`. Default: the in-memory Adapter. */
  adapter: AdapterConstructor;
  /** A custom parser (for example socket.io-msgpack-parser). */
  parser: Parser;
  /** Close a connection that joins no namespace within this many ms. Default 45000. */
  connectTimeout: number;
  /** Remove a dynamic child namespace when its last socket leaves. Default false. */
  cleanupEmptyChildNamespaces: boolean;
  /**
   * Connection state recovery: a client that lost its connection gets back its id, rooms, `data` and the
   * events it missed. Off unless set; `{}` takes the defaults (written back into this object).
   */
  connectionStateRecovery: ConnectionStateRecoveryOptions;
}

export interface ServerReservedEventsMap<
  ListenEvents extends EventsMap,
  EmitEvents extends EventsMap,
  ServerSideEvents extends EventsMap,
  SocketData,
> {
  connect: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void;
  connection: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void;
  new_namespace: (
    namespace: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
  ) => void;
}

/** What EventEmitter's untyped listener methods take. */
type UntypedListener = Parameters<EventEmitter["addListener"]>[1];

type DynamicMatcher = (
  name: string,
  auth: Record<string, unknown>,
  next: (err: Error | null, success: boolean) => void,
) => void;

export class Server<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = DefaultEventsMap,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = unknown,
> extends StrictEventEmitter<
  ServerSideEvents,
  EmitEvents,
  ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
> {
  /** The main namespace "/". */
  readonly sockets: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  /** The Engine.IO server, once attached or bound. */
  engine!: Engine;
  httpServer: HttpLikeServer | undefined;
  /** The packet encoder shared by every connection. */
  readonly encoder: InstanceType<Parser["Encoder"]>;
  /** @internal */
  readonly _parser: Parser;
  /**
   * @internal With the built-in parser: one decoder for every connection not in the middle of a binary packet
   * (see Client), instead of a decoder and its listener per connection.
   */
  readonly _sharedDecoder: defaultParser.Decoder | undefined;
  /** @internal Namespaces by name. */
  readonly _nsps = new Map<
    string,
    Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
  >();
  /**
   * @internal The options object given to the constructor, kept as that very object (socket.io's `opts`,
   * which adapters built on socket.io-adapter read, `connectionStateRecovery` included).
   */
  _opts: Partial<ServerOptions>;
  /** @internal */
  _connectTimeout: number;
  /** @internal The `connectionStateRecovery` option with its defaults, or undefined when recovery is off. */
  readonly _recovery: Readonly<ConnectionStateRecovery> | undefined;
  /** @internal The Socket.IO layer's limits (limits.ts). */
  _limits: LimitOptions;
  /** @internal Set by a metrics collector (`switchyard/metrics`): counts events in and out without a message. */
  _eventCounter: EventCounter | undefined = undefined;
  private readonly parentNsps = new Map<
    DynamicMatcher,
    ParentNamespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
  >();
  private readonly parentNamespacesFromRegExp = new Map<
    RegExp,
    ParentNamespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
  >();
  private _path: string;
  private _serveClient: boolean;
  private _adapter: AdapterConstructor;
  /**
   * Broadcasts are framed once per transport through the engine's prepared messages (the default parser and
   * our own engine only: another engine bound with `bind()` gets the encoded parts as they are).
   */
  private prepareBroadcasts: boolean;

  constructor(opts?: Partial<ServerOptions>);
  constructor(srv?: HttpLikeServer | number | string, opts?: Partial<ServerOptions>);
  constructor(
    srv?: HttpLikeServer | number | string | Partial<ServerOptions>,
    opts: Partial<ServerOptions> = {},
  ) {
    super();
    if (typeof srv === "object" && srv !== null && !("listen" in srv)) {
      opts = srv;
      srv = undefined;
    }
    this._opts = opts;
    this._path = (opts.path ?? "/socket.io").replace(/\/$/, "");
    this._serveClient = opts.serveClient !== false;
    this._parser = opts.parser ?? (defaultParser as unknown as Parser);
    this._sharedDecoder = opts.parser === undefined ? new defaultParser.Decoder() : undefined;
    this.prepareBroadcasts = opts.parser === undefined;
    this.encoder = new this._parser.Encoder();
    this._connectTimeout = opts.connectTimeout || 45000;
    this._limits = resolveLimits(opts);
    if (opts.connectionStateRecovery) {
      // socket.io writes the filled-in option back into the options object the server keeps
      opts.connectionStateRecovery = {
        maxDisconnectionDuration: 120_000,
        skipMiddlewares: true,
        ...opts.connectionStateRecovery,
      };
      this._recovery = opts.connectionStateRecovery as ConnectionStateRecovery;
    }
    this._adapter =
      opts.adapter ??
      ((this._recovery ? SessionAwareAdapter : Adapter) as unknown as AdapterConstructor);
    this.sockets = this.of("/");
    if (srv !== undefined) this.attach(srv as HttpLikeServer | number, opts);
  }

  /** The options given to the constructor (the same object, defaults filled in where socket.io fills them). */
  get opts(): Partial<ServerOptions> {
    return this._opts;
  }

  // Options, as getters and setters

  path(): string;
  path(v: string): this;
  path(v?: string): string | this {
    if (v === undefined) return this._path;
    this._path = v.replace(/\/$/, "");
    return this;
  }

  serveClient(): boolean;
  serveClient(v: boolean): this;
  serveClient(v?: boolean): boolean | this {
    if (v === undefined) return this._serveClient;
    this._serveClient = v;
    return this;
  }

  connectTimeout(): number;
  connectTimeout(v: number): this;
  connectTimeout(v?: number): number | this {
    if (v === undefined) return this._connectTimeout;
    this._connectTimeout = v;
    return this;
  }

  adapter(): AdapterConstructor;
  adapter(v: AdapterConstructor): this;
  adapter(v?: AdapterConstructor): AdapterConstructor | this {
    if (v === undefined) return this._adapter;
    this._adapter = v;
    for (const nsp of this._nsps.values()) nsp._initAdapter();
    return this;
  }

  /** @internal Builds the adapter of a namespace from the class or factory of the `adapter` option. */
  _createAdapter(nsp: AdapterNamespace): Adapter {
    const make = this._adapter as unknown as { prototype?: unknown } & ((
      nsp: AdapterNamespace,
    ) => Adapter);
    // An arrow-function factory has no prototype and cannot be constructed; a class or plain function can.
    return make.prototype
      ? new (make as unknown as new (nsp: AdapterNamespace) => Adapter)(nsp)
      : make(nsp);
  }

  // Attaching to an HTTP server

  /** Attaches to an HTTP server, or creates one listening on `port`. */
  listen(srv: HttpLikeServer | number | string, opts: Partial<ServerOptions> = {}): this {
    return this.attach(srv, opts);
  }

  attach(srv: HttpLikeServer | number | string, opts: Partial<ServerOptions> = {}): this {
    if (typeof srv === "function") {
      throw expressHandlerError();
    }
    let server: HttpLikeServer;
    if (typeof srv === "number" || typeof srv === "string") {
      const port = Number(srv);
      if (!Number.isInteger(port)) throw invalidPortError(srv);
      debug("creating an http server listening on %d", port);
      server = http.createServer((_req, res) => {
        res.writeHead(404);
        res.end();
      });
      server.listen(port);
    } else {
      server = srv;
    }
    // Constructor options win over attach options; the constructor's object stays the server's `opts`.
    const merged: Partial<ServerOptions> = { ...opts, ...this._opts };
    this._limits = resolveLimits(merged);
    this.initEngine(server, merged);
    return this;
  }

  private initEngine(srv: HttpLikeServer, opts: Partial<ServerOptions>): void {
    debug("attaching the engine at %s", this._path);
    const engine = attachEngine(srv as http.Server, { ...opts, path: this._path });
    if (this._serveClient) this.attachServe(srv, opts);
    this.httpServer = srv;
    this.bind(engine);
  }

  /** Serves the client bundle ahead of every other request listener. */
  private attachServe(srv: HttpLikeServer, opts: Partial<ServerOptions>): void {
    const handle = createClientHandler(
      this._path,
      opts.cors ? (cors(opts.cors) as RequestMiddleware) : undefined,
    );
    const previous = srv.listeners("request").slice() as Array<(...args: unknown[]) => void>;
    srv.removeAllListeners("request");
    srv.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (handle(req, res)) return;
      for (const listener of previous) listener.call(srv, req, res);
    });
  }

  /** Uses an engine.io-compatible server: each of its connections becomes a Socket.IO client. */
  bind(engine: Engine): this {
    this.engine = engine;
    this.prepareBroadcasts = this._opts.parser === undefined && engine instanceof Engine;
    engine.on("connection", (conn: EngineSocket) => this.onconnection(conn));
    return this;
  }

  private onconnection(conn: EngineSocket): void {
    debug.enabled && debug("incoming connection %s", conn.id);
    new Client(this, conn);
  }

  // Namespaces

  /**
   * The namespace `name` (created on first use), or a dynamic parent namespace for a RegExp or a function
   * `(name, auth, next)`.
   */
  of(
    name: string | RegExp | DynamicMatcher,
    fn?: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void,
  ): Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
    if (typeof name === "function" || name instanceof RegExp) {
      const parent = new ParentNamespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>(
        this,
      );
      if (typeof name === "function") {
        this.parentNsps.set(name, parent);
      } else {
        const regexp = name;
        this.parentNsps.set((nsp, _auth, next) => next(null, regexp.test(nsp)), parent);
        this.parentNamespacesFromRegExp.set(regexp, parent);
      }
      if (fn) parent.on("connect", fn);
      return parent;
    }
    if (name.charAt(0) !== "/") name = "/" + name;
    let nsp = this._nsps.get(name);
    if (!nsp) {
      for (const [regexp, parent] of this.parentNamespacesFromRegExp) {
        if (regexp.test(name)) {
          debug("namespace %s matches a dynamic parent", name);
          nsp = parent.createChild(name);
          break;
        }
      }
    }
    if (!nsp) {
      debug("creating namespace %s", name);
      nsp = new Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>(this, name);
      this._nsps.set(name, nsp);
      if (name !== "/") this._onNewNamespace(nsp);
    }
    if (fn) nsp.on("connect", fn);
    return nsp;
  }

  /** @internal Asks the dynamic parents, in order, whether `name` may be created; answers the namespace or false. */
  _checkNamespace(
    name: string,
    auth: Record<string, unknown>,
    done: (nsp: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> | false) => void,
  ): void {
    const candidates = [...this.parentNsps];
    const next = (i: number): void => {
      const candidate = candidates[i];
      if (!candidate) {
        done(false);
        return;
      }
      const [matcher, parent] = candidate;
      let answered = false;
      matcher(name, auth, (err, allow) => {
        if (answered) return;
        answered = true;
        if (err || !allow) {
          next(i + 1);
          return;
        }
        const existing = this._nsps.get(name);
        if (existing !== undefined) {
          done(existing);
          return;
        }
        // created for this CONNECT: removed again if no CONNECT to it succeeds (see Namespace._add)
        const child = parent.createChild(name);
        child._removeUnlessConnected = () => parent.removeChild(child);
        done(child);
      });
    };
    next(0);
  }

  /** @internal */
  _onNewNamespace(nsp: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): void {
    this.sockets._fire("new_namespace", nsp);
  }

  /**
   * @internal Encodes a packet. A parser of socket.io-parser's shape returns the parts to write (a string or
   * Buffer, then the attachments), whatever its typings say (socket.io-msgpack-parser's say ArrayBuffer).
   */
  _encode(packet: AdapterPacket): ReadonlyArray<string | Buffer> {
    return this.encoder.encode(packet as defaultParser.Packet) as ReadonlyArray<string | Buffer>;
  }

  /**
   * @internal Encodes a broadcast once (see `Namespace.encodeBroadcast`); the result is written as is to every
   * target connection.
   */
  _encodeForBroadcast(packet: AdapterPacket): EncodedPacket {
    const encoded = this._encode(packet);
    if (!this.prepareBroadcasts) return encoded;
    return encoded.map((part) => new PreparedMessage(part));
  }

  // The main namespace's methods

  use(fn: Middleware<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): this {
    this.sockets.use(fn);
    return this;
  }

  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.to(room);
  }

  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.in(room);
  }

  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.except(room);
  }

  /** Emits to every socket of the main namespace. */
  override emit<Ev extends EventNames<EmitEvents>>(
    ev: Ev,
    ...args: EventParams<EmitEvents, Ev>
  ): boolean {
    return this.sockets.emit(ev, ...args);
  }

  emitWithAck<Ev extends EventNamesWithAck<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstArg<Last<EventParams<EmitEvents, Ev>>>[]> {
    return this.sockets.emitWithAck(ev, ...args);
  }

  send(...args: EventParams<EmitEvents, "message">): this {
    this.sockets.send(...args);
    return this;
  }

  write(...args: EventParams<EmitEvents, "message">): this {
    this.sockets.write(...args);
    return this;
  }

  serverSideEmit<Ev extends EventNames<ServerSideEvents>>(
    ev: Ev,
    ...args: EventParams<DecorateAcknowledgementsWithMultipleResponses<ServerSideEvents>, Ev>
  ): boolean {
    return this.sockets.serverSideEmit(ev, ...args);
  }

  serverSideEmitWithAck<Ev extends EventNamesWithAck<ServerSideEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<ServerSideEvents, Ev>>
  ): Promise<FirstArg<Last<EventParams<ServerSideEvents, Ev>>>[]> {
    return this.sockets.serverSideEmitWithAck(ev, ...args);
  }

  compress(compress: boolean): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.compress(compress);
  }

  get volatile(): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.volatile;
  }

  get local(): BroadcastOperator<EmitEvents, SocketData> {
    return this.sockets.local;
  }

  timeout(
    timeout: number,
  ): BroadcastOperator<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, SocketData> {
    return this.sockets.timeout(timeout);
  }

  allSockets(): Promise<Set<string>> {
    return this.sockets.allSockets();
  }

  fetchSockets(): Promise<
    Array<
      | RemoteSocket<EmitEvents, SocketData>
      | Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>
    >
  > {
    return this.sockets.fetchSockets();
  }

  socketsJoin(room: Room | Room[]): void {
    this.sockets.socketsJoin(room);
  }

  socketsLeave(room: Room | Room[]): void {
    this.sockets.socketsLeave(room);
  }

  disconnectSockets(close = false): void {
    this.sockets.disconnectSockets(close);
  }

  // Listener registration on the server is registration on the main namespace, as in socket.io:
  // `io.on("connection")` and the server-side events of other nodes are heard there.

  override on<
    Ev extends ReservedOrUserEventNames<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents
    >,
  >(
    ev: Ev,
    listener: ReservedOrUserListener<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents,
      Ev
    >,
  ): this {
    this.mainEmitter().on(ev, listener);
    return this;
  }

  override once<
    Ev extends ReservedOrUserEventNames<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents
    >,
  >(
    ev: Ev,
    listener: ReservedOrUserListener<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents,
      Ev
    >,
  ): this {
    this.mainEmitter().once(ev, listener);
    return this;
  }

  override off<
    Ev extends ReservedOrUserEventNames<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents
    >,
  >(
    ev: Ev,
    listener: ReservedOrUserListener<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents,
      Ev
    >,
  ): this {
    this.mainEmitter().off(ev, listener);
    return this;
  }

  override removeListener<
    Ev extends ReservedOrUserEventNames<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents
    >,
  >(
    ev: Ev,
    listener: ReservedOrUserListener<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents,
      Ev
    >,
  ): this {
    this.mainEmitter().removeListener(ev, listener);
    return this;
  }

  override listeners<
    Ev extends ReservedOrUserEventNames<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents
    >,
  >(
    ev: Ev,
  ): ReservedOrUserListener<
    ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    ServerSideEvents,
    Ev
  >[] {
    return this.mainEmitter().listeners(ev) as ReservedOrUserListener<
      ServerReservedEventsMap<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
      ServerSideEvents,
      Ev
    >[];
  }

  override addListener(ev: string | symbol, listener: UntypedListener): this {
    this.mainEmitter().addListener(ev, listener);
    return this;
  }

  override prependListener(ev: string | symbol, listener: UntypedListener): this {
    this.mainEmitter().prependListener(ev, listener);
    return this;
  }

  override prependOnceListener(ev: string | symbol, listener: UntypedListener): this {
    this.mainEmitter().prependOnceListener(ev, listener);
    return this;
  }

  override removeAllListeners(ev?: string | symbol): this {
    // EventEmitter tells "every event" from "the event undefined" by the number of arguments
    if (ev === undefined) this.mainEmitter().removeAllListeners();
    else this.mainEmitter().removeAllListeners(ev);
    return this;
  }

  override rawListeners(ev: string | symbol): ReturnType<EventEmitter["rawListeners"]> {
    return this.mainEmitter().rawListeners(ev);
  }

  override listenerCount(...args: Parameters<EventEmitter["listenerCount"]>): number {
    return this.mainEmitter().listenerCount(...args);
  }

  override eventNames(): Array<string | symbol> {
    return this.mainEmitter().eventNames();
  }

  override setMaxListeners(n: number): this {
    this.mainEmitter().setMaxListeners(n);
    return this;
  }

  override getMaxListeners(): number {
    return this.mainEmitter().getMaxListeners();
  }

  /** The main namespace as a plain EventEmitter: the target of the listener methods above. */
  private mainEmitter(): EventEmitter {
    return this.sockets;
  }

  /**
   * Closes the server: every socket is disconnected with reason "server shutting down", adapters close,
   * the engine closes every connection, and the HTTP server closes.
   */
  async close(fn?: (err?: Error) => void): Promise<void> {
    // stop accepting first: no new connection may arrive while the others are closed
    const httpServer = this.httpServer;
    const httpClosed =
      httpServer !== undefined
        ? new Promise<Error | undefined>((resolve) => httpServer.close(resolve))
        : Promise.resolve(undefined);
    for (const nsp of this._nsps.values()) {
      for (const socket of [...nsp.sockets.values()]) socket._onclose("server shutting down");
    }
    this.engine?.close();
    // an adapter whose backend hangs (a stalled Redis...) gets `closeTimeout` ms, then is left behind
    const limit = this._limits.closeTimeout;
    await Promise.race([
      Promise.allSettled([...this._nsps.values()].map((nsp) => nsp.adapter.close())),
      deadline(limit),
    ]);
    let err: Error | undefined;
    if (httpServer !== undefined) {
      const timer = setTimeout(() => closeAllConnections(httpServer), limit);
      err = await httpClosed;
      clearTimeout(timer);
    }
    fn?.(err);
  }
}

/** Ends the connections an HTTP server still holds (keep-alive, pending polls) once `close()` took too long. */
function closeAllConnections(server: HttpLikeServer): void {
  const closeAll = (server as { closeAllConnections?: () => void }).closeAllConnections;
  if (typeof closeAll === "function") closeAll.call(server);
}
