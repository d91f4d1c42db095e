/**
 * The Engine.IO server: routes HTTP requests and upgrades to sessions and holds the sessions (`clients`) and the
 * shared heartbeat. Where the other concerns live: the checks of a request and the answers to a refusal
 * (checks.ts), the handshake and the open packet (handshake.ts), WebSocket upgrades (ws-upgrade.ts), taking over
 * an HTTP server (attach.ts).
 */
import { EventEmitter } from "node:events";
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import cors from "cors";
import createDebug from "debug";
import type { WebSocket as WsSocket } from "ws";
import { channels, type EngineTrafficCounter } from "../diagnostics";
import { AddressLimit, addressOf } from "./address-limit";
import { attachToHttpServer } from "./attach";
import { answerClosed, answerRefusedRequest, checkRequest, type Refusal } from "./checks";
import { type ResolvedCookieOptions, resolveCookieOptions, serializeCookie } from "./cookie";
import { type ConnectionError, ErrorCode, ErrorMessages } from "./errors";
import { handshake, openPacket, openPacketSuffixes } from "./handshake";
import { Heartbeat } from "./heartbeat";
import { type Middleware, runMiddlewares } from "./middleware";
import {
  type AttachOptions,
  type ResolvedOptions,
  resolveOptions,
  type ServerOptions,
} from "./options";
import type { EngineProtocol } from "./protocol";
import { Forwarder } from "../forwarding/forwarder";
import type { RelayedWebSocket } from "../forwarding/relayed-websocket";
import { generateSessionId } from "../util/ids";
import { type EngineQuery, parseEngineQuery } from "./request";
import { Socket } from "./socket";
import { PollingTransport, type PollingHost } from "./transports/polling";
import type { ResponseHeaders } from "./transports/transport";
import { WebSocketTransport } from "./transports/websocket";
import { UpgradeEntry } from "./ws-upgrade";

const debug = createDebug("switchyard:engine");

export class Server extends EventEmitter {
  static readonly errors = {
    UNKNOWN_TRANSPORT: ErrorCode.UNKNOWN_TRANSPORT,
    UNKNOWN_SID: ErrorCode.UNKNOWN_SID,
    BAD_HANDSHAKE_METHOD: ErrorCode.BAD_HANDSHAKE_METHOD,
    BAD_REQUEST: ErrorCode.BAD_REQUEST,
    FORBIDDEN: ErrorCode.FORBIDDEN,
    UNSUPPORTED_PROTOCOL_VERSION: ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
  };
  static readonly errorMessages = ErrorMessages;

  /** The options, defaults applied. */
  readonly opts: ResolvedOptions;
  /** Open sessions by id. */
  clients: Record<string, Socket> = Object.create(null) as Record<string, Socket>;
  clientsCount = 0;
  /** The HTTP server created by `listen()`. */
  httpServer?: HttpServer;
  /** @internal Set by a metrics collector (`switchyard/metrics`): counts packets in and out without a message. */
  _trafficCounter: EngineTrafficCounter | undefined = undefined;
  /** @internal The heartbeat of revision 4 sessions (the server pings). */
  readonly _heartbeat: Heartbeat;
  /** Revision 3 sessions' (the client pings; only the deadline, `pingInterval + pingTimeout`), made on first use. */
  private heartbeatV3: Heartbeat | undefined;
  private readonly middlewares: Middleware[] = [];
  private readonly cookie: ResolvedCookieOptions | false;
  private readonly pollingHost: PollingHost;
  private readonly upgrades: UpgradeEntry;
  private readonly openSuffixes: Readonly<Record<string, string>>;
  private closed = false;
  private readonly addressLimit: AddressLimit;
  /** Present with the `forwarding` option: serves requests for sessions of other nodes. */
  private readonly forwarder: Forwarder | undefined;

  constructor(opts: ServerOptions = {}) {
    super();
    this.opts = resolveOptions(opts);
    this.cookie = resolveCookieOptions(opts.cookie);
    this.addressLimit = new AddressLimit(this.opts.maxConnectionsPerAddress);
    this._heartbeat = new Heartbeat(this.opts.pingInterval, this.opts.pingTimeout);
    this.pollingHost = {
      maxHttpBufferSize: this.opts.maxHttpBufferSize,
      httpCompression: this.opts.httpCompression,
      emitResponseHeaders: (headers, req, initial, sid) =>
        this.emitResponseHeaders(headers, req, initial, sid),
    };
    this.upgrades = new UpgradeEntry({
      opts: this.opts,
      session: (sid) => this.clients[sid],
      middlewares: this.middlewares,
      isClosed: () => this.closed,
      check: (req, query, upgrade) => this.check(req, query, upgrade),
      handshake: (req, query) => handshake(this, req, query),
      reportRefusal: (req, refusal) => this.reportRefusal(req, refusal),
      releaseAddress: (req) => this.releaseAddress(req),
      openSession: (id, transport, req, protocol) => this.openSession(id, transport, req, protocol),
      emitResponseHeaders: (headers, req, initial, sid) =>
        this.emitResponseHeaders(headers, req, initial, sid),
      relayWebSocket:
        opts.forwarding === undefined
          ? undefined
          : (ws, req, sid) => this.forwarder?.relayWebSocket(ws, req, sid),
    });
    this.openSuffixes = openPacketSuffixes(this.opts, (name) => this._upgradesFrom(name));
    if (opts.cors) this.use(cors(opts.cors));
    if (opts.forwarding) {
      this.forwarder = new Forwarder(opts.forwarding, {
        maxHttpBufferSize: this.opts.maxHttpBufferSize,
        pingInterval: this.opts.pingInterval,
        pingTimeout: this.opts.pingTimeout,
        forwardingTimeout: opts.forwardingTimeout ?? 2000,
        owns: (sid) => this.clients[sid] !== undefined,
        serve: (req, res) => this.serveForwarded(req, res),
        refuseUnknown: (res, sid) =>
          answerRefusedRequest(res, { code: ErrorCode.UNKNOWN_SID, context: { sid } }),
        adoptWebSocket: (ws, sid, url) => this.adoptWebSocket(ws, sid, url),
      });
    }
    this.init();
  }

  /** (Re)creates the WebSocket server; called again when the attached HTTP server starts listening. */
  init(): void {
    this.closed = false;
    this.upgrades.init();
  }

  /** Adds an Express-style middleware run on every engine request, upgrades included. */
  use(fn: Middleware): void {
    this.middlewares.push(fn);
  }

  /** @internal Takes a place at `maxConnectionsPerAddress` for a handshake from `req` (see AddressLimit). */
  reserveAddress(req: IncomingMessage): boolean {
    return this.addressLimit.reserve(addressOf(req));
  }

  /** @internal Gives back the place of a handshake whose session did not open. */
  releaseAddress(req: IncomingMessage): void {
    this.addressLimit.remove(addressOf(req));
  }

  /** The session id for a new session: override to customize (may return a Promise). */
  generateId(_req: IncomingMessage): string | PromiseLike<string> {
    return generateSessionId();
  }

  /** Closes every session (buffers discarded) and stops accepting new ones. */
  close(): this {
    debug("closing all open clients");
    this.closed = true;
    for (const sid in this.clients) this.clients[sid]?.close(true);
    this.upgrades.close();
    this._heartbeat.stop();
    this.heartbeatV3?.stop();
    this.forwarder?.close();
    return this;
  }

  // ---- HTTP requests ----

  /** Handles an HTTP request for the engine (GET poll, POST data, handshake). */
  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const query = parseEngineQuery(req.url);
    if (this.middlewares.length === 0) {
      this.onRequest(req, res, query);
      return;
    }
    runMiddlewares(this.middlewares, req, res, (err) => {
      if (err) {
        this.refuseRequest(req, res, {
          code: ErrorCode.BAD_REQUEST,
          context: { name: "MIDDLEWARE_FAILURE" },
        });
      } else this.onRequest(req, res, query);
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, query: EngineQuery): void {
    const refusal = this.check(req, query, false);
    if (refusal !== undefined) {
      if (refusal.code === ErrorCode.UNKNOWN_SID && this.forwarder !== undefined && query.sid) {
        return this.forwarder.forward(req, res, query.sid);
      }
      return this.refuseRequest(req, res, refusal);
    }
    if (query.sid) return this.serveSession(req, res, query.sid);
    void this.handshakePolling(req, res, query);
  }

  private serveSession(req: IncomingMessage, res: ServerResponse, sid: string): void {
    const session = this.clients[sid];
    if (session !== undefined && session.transport instanceof PollingTransport) {
      session.transport.onRequest(req, res, false);
    } else {
      answerRefusedRequest(res, { code: ErrorCode.UNKNOWN_SID, context: {} });
    }
  }

  /** A request another node forwarded here: checked and served as if it had arrived here. */
  private serveForwarded(req: IncomingMessage, res: ServerResponse): void {
    const query = parseEngineQuery(req.url);
    const refusal = this.check(req, query, false);
    if (refusal !== undefined) return this.refuseRequest(req, res, refusal);
    this.serveSession(req, res, query.sid ?? "");
  }

  /** A WebSocket of local session `sid` that landed on another node: the session upgrades to it if it may. */
  private adoptWebSocket(ws: RelayedWebSocket, sid: string, url: string): boolean {
    const session = this.clients[sid];
    const query = parseEngineQuery(url);
    if (
      session === undefined ||
      query.transport !== "websocket" ||
      !this.opts.allowUpgrades ||
      session.readyState !== "open" ||
      session.upgrading ||
      session.upgraded
    )
      return false;
    const transport = new WebSocketTransport(
      ws as unknown as WsSocket,
      true, // no socket here: every packet through send()
      session.engineProtocol,
    );
    session._maybeUpgrade(transport);
    return true;
  }

  private async handshakePolling(
    req: IncomingMessage,
    res: ServerResponse,
    query: EngineQuery,
  ): Promise<void> {
    const result = await handshake(this, req, query);
    if (result.refusal !== undefined) return this.refuseRequest(req, res, result.refusal);
    if (this.closed) {
      this.releaseAddress(req);
      return answerClosed(res);
    }
    const transport = new PollingTransport(this.pollingHost, result.protocol, query);
    const socket = this.addSession(result.id, transport, req, result.protocol);
    transport.onRequest(req, res, true);
    this.emit("connection", socket);
  }

  private refuseRequest(req: IncomingMessage, res: ServerResponse, refusal: Refusal): void {
    debug("request refused: %d %o", refusal.code, refusal.context);
    this.reportRefusal(req, refusal);
    answerRefusedRequest(res, refusal);
  }

  // ---- WebSocket upgrades ----

  /** Handles an HTTP upgrade request for the engine. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, upgradeHead: Buffer): void {
    this.upgrades.handle(req, socket, upgradeHead);
  }

  // ---- sessions ----

  private check(req: IncomingMessage, query: EngineQuery, upgrade: boolean): Refusal | undefined {
    return checkRequest(this.opts.transports, this.clients, req, query, upgrade);
  }

  private addSession(
    id: string,
    transport: PollingTransport | WebSocketTransport,
    req: IncomingMessage,
    protocol: EngineProtocol,
  ): Socket {
    debug('handshaking client "%s" over %s', id, transport.name);
    const socket = new Socket(id, this, transport, req, protocol);
    this.clients[id] = socket;
    this.clientsCount++;
    if (channels.engineOpen.hasSubscribers) {
      channels.engineOpen.publish({ socket, transport: transport.name });
    }
    // the handshake took the address's place (reserveAddress); the session gives it back when it closes
    return socket;
  }

  private openSession(
    id: string,
    transport: WebSocketTransport,
    req: IncomingMessage,
    protocol: EngineProtocol,
  ): void {
    const socket = this.addSession(id, transport, req, protocol);
    this.emit("connection", socket);
  }

  /** @internal */
  _removeSession(socket: Socket): void {
    if (this.clients[socket.id] !== socket) return;
    delete this.clients[socket.id];
    this.clientsCount--;
    this.addressLimit.remove(socket.remoteAddress);
  }

  /** @internal The heartbeat scheduler of `protocol`'s sessions. */
  _heartbeatFor(protocol: EngineProtocol): Heartbeat {
    if (protocol.heartbeat.trafficExtendsDeadline) return this._heartbeat;
    return (this.heartbeatV3 ??= new Heartbeat(
      this.opts.pingInterval,
      this.opts.pingInterval + this.opts.pingTimeout,
    ));
  }

  /** @internal The open packet's JSON. */
  _openPacket(id: string, transportName: string): string {
    return openPacket(this.openSuffixes, id, transportName);
  }

  /** @internal The transports a session on `name` may upgrade to. */
  _upgradesFrom(name: string): string[] {
    if (!this.opts.allowUpgrades || name !== "polling") return [];
    return this.opts.transports.includes("websocket") ? ["websocket"] : [];
  }

  private emitResponseHeaders(
    headers: ResponseHeaders,
    req: IncomingMessage,
    initial: boolean,
    sid: string,
  ): void {
    if (initial) {
      if (this.cookie !== false) headers["Set-Cookie"] = [serializeCookie(sid, this.cookie)];
      this.emit("initial_headers", headers, req);
    }
    this.emit("headers", headers, req);
  }

  private reportRefusal(req: IncomingMessage, refusal: Refusal): void {
    const { code, context } = refusal;
    const err: ConnectionError = { req, code, message: ErrorMessages[code], context };
    if (channels.engineRefused.hasSubscribers)
      channels.engineRefused.publish({ server: this, ...err });
    this.emit("connection_error", err);
  }

  // ---- attaching to an HTTP server ----

  /**
   * Takes over `server`: requests under the engine path go to the engine, all others to the `request`
   * listeners the server had (replayed untouched); upgrade requests under the path are handled, others are
   * ended after `destroyUpgradeTimeout` unless `destroyUpgrade` is false. Closing the server closes the engine.
   */
  attach(server: HttpServer, options: AttachOptions = {}): this {
    attachToHttpServer(this, server, options);
    return this;
  }
}
