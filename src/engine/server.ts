/**
 * The Engine.IO server: routes HTTP requests and upgrades to sessions, verifies them (errors 0-5), performs
 * handshakes, and holds the sessions (`clients`) and the shared heartbeat.
 */
import { EventEmitter } from "node:events";
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import cors from "cors";
import createDebug from "debug";
import type { WebSocket as WsSocket } from "ws";
import { type ResolvedCookieOptions, resolveCookieOptions, serializeCookie } from "./cookie";
import {
  type ConnectionError,
  type ErrorCodeValue,
  type ErrorContext,
  ErrorCode,
  ErrorMessages,
  statusOf,
} from "./errors";
import { Heartbeat } from "./heartbeat";
import { type Middleware, runMiddlewares, UpgradeResponse } from "./middleware";
import {
  type AttachOptions,
  type ResolvedOptions,
  resolveOptions,
  type ServerOptions,
} from "./options";
import { type EngineQuery, generateBase64Id, isInvalidHeaderValue, parseQuery } from "./request";
import { type EngineProtocol, protocolFor, requestedVersion } from "./protocol";
import { Socket } from "./socket";
import { attachToHttpServer } from "./attach";
import { PollingTransport, type PollingHost } from "./transports/polling";
import type { ResponseHeaders } from "./transports/transport";
import { corkUpgradeSocket, WebSocketTransport } from "./transports/websocket";

const debug = createDebug("switchyard:engine");

/** The part of a ws-compatible server the engine uses. */
interface WsServerLike {
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    cb: (ws: WsSocket, req: IncomingMessage) => void,
  ): void;
  close(): void;
  on?(event: "headers", listener: (headers: string[], req: IncomingMessage) => void): unknown;
}

/** An upgrade waiting for ws's `headers` event, keyed by its request. */
interface PendingUpgrade {
  sid: string;
  initial: boolean;
  headers: ResponseHeaders;
}

type VerifyCallback = (code?: ErrorCodeValue, context?: ErrorContext) => void;

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
  /** @internal */
  readonly _heartbeat: Heartbeat;
  private readonly middlewares: Middleware[] = [];
  private ws: WsServerLike | null = null;
  private readonly cookie: ResolvedCookieOptions | false;
  private readonly pollingHost: PollingHost;
  private readonly openSuffix: Record<string, string>;
  /** Upgrades between `handleUpgrade` and the 101 (ws's `headers` event), by request. */
  private readonly pendingUpgrades = new WeakMap<IncomingMessage, PendingUpgrade>();
  private closed = false;

  constructor(opts: ServerOptions = {}) {
    super();
    this.opts = resolveOptions(opts);
    this.cookie = resolveCookieOptions(opts.cookie);
    this._heartbeat = new Heartbeat(this.opts.pingInterval, this.opts.pingTimeout);
    this.pollingHost = {
      maxHttpBufferSize: this.opts.maxHttpBufferSize,
      httpCompression: this.opts.httpCompression,
      emitResponseHeaders: (headers, req, initial, sid) =>
        this.emitResponseHeaders(headers, req, initial, sid),
    };
    const suffix = (name: string): string =>
      `,"upgrades":${JSON.stringify(this._upgradesFrom(name))},"pingInterval":${this.opts.pingInterval},` +
      `"pingTimeout":${this.opts.pingTimeout},"maxPayload":${this.opts.maxHttpBufferSize}}`;
    this.openSuffix = { polling: suffix("polling"), websocket: suffix("websocket") };
    if (opts.cors) this.use(cors(opts.cors));
    this.init();
  }

  /** (Re)creates the WebSocket server; called again when the attached HTTP server starts listening. */
  init(): void {
    this.closed = false;
    if (!this.opts.transports.includes("websocket")) return;
    if (this.ws !== null) this.ws.close();
    const Engine = this.opts.wsEngine;
    const ws = new Engine({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: this.opts.perMessageDeflate,
      maxPayload: this.opts.maxHttpBufferSize,
    }) as WsServerLike;
    if (typeof ws.on === "function")
      ws.on("headers", (lines, req) => this.onUpgradeHeaders(lines, req));
    this.ws = ws;
  }

  /** Adds an Express-style middleware run on every engine request, upgrades included. */
  use(fn: Middleware): void {
    this.middlewares.push(fn);
  }

  /** The session id for a new session: override to customize (may return a Promise). */
  generateId(_req: IncomingMessage): string | PromiseLike<string> {
    return generateBase64Id();
  }

  /** Closes every session (buffers discarded) and stops accepting new ones. */
  close(): this {
    debug("closing all open clients");
    this.closed = true;
    for (const sid in this.clients) this.clients[sid]?.close(true);
    if (this.ws !== null) this.ws.close();
    this._heartbeat.stop();
    return this;
  }

  // ---- HTTP requests ----

  /** Handles an HTTP request for the engine (GET poll, POST data, handshake). */
  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const query = parseQuery(req.url);
    if (this.middlewares.length === 0) {
      this.onRequest(req, res, query);
      return;
    }
    runMiddlewares(this.middlewares, req, res, (err) => {
      if (err) this.refuseRequest(req, res, ErrorCode.BAD_REQUEST, { name: "MIDDLEWARE_FAILURE" });
      else this.onRequest(req, res, query);
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, query: EngineQuery): void {
    this.verify(req, query, false, (code, context) => {
      if (code !== undefined) {
        this.refuseRequest(req, res, code, context ?? {});
        return;
      }
      if (query.sid) {
        const session = this.clients[query.sid];
        if (session !== undefined && session.transport instanceof PollingTransport) {
          session.transport.onRequest(req, res, false);
        } else {
          abortRequest(res, ErrorCode.UNKNOWN_SID);
        }
        return;
      }
      this.prepareHandshake(
        req,
        query,
        (code2) => abortRequest(res, code2),
        (id, protocol) => {
          if (this.closed) return abortClosed(res);
          const transport = new PollingTransport(this.pollingHost, protocol);
          const socket = this.addSession(id, transport, req, protocol);
          transport.onRequest(req, res, true);
          this.emit("connection", socket);
        },
      );
    });
  }

  // ---- WebSocket upgrades ----

  /** Handles an HTTP upgrade request for the engine. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, upgradeHead: Buffer): void {
    // from its first moment, an error on this socket (a TCP reset...) must not crash the process
    socket.on("error", onUpgradeSocketError);
    const head = upgradeHead.length > 0 ? Buffer.from(upgradeHead) : upgradeHead;
    const query = parseQuery(req.url);
    if (this.middlewares.length === 0) {
      this.verifyUpgrade(req, socket, head, query, null);
      return;
    }
    // the stub response exists only for middlewares: it collects the headers they set for the 101
    const res = new UpgradeResponse(req, socket);
    runMiddlewares(this.middlewares, req, res as unknown as ServerResponse, (err) => {
      if (err)
        this.refuseUpgrade(req, socket, ErrorCode.BAD_REQUEST, { name: "MIDDLEWARE_FAILURE" });
      else this.verifyUpgrade(req, socket, head, query, res);
    });
  }

  private verifyUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    query: EngineQuery,
    res: UpgradeResponse | null,
  ): void {
    this.verify(req, query, true, (code, context) => {
      if (code !== undefined) {
        this.refuseUpgrade(req, socket, code, context ?? {});
        return;
      }
      if (query.sid) {
        const session = this.clients[query.sid];
        if (session === undefined) return abortUpgrade(socket, ErrorCode.UNKNOWN_SID);
        this.completeUpgrade(req, socket, head, query, res, query.sid, session.engineProtocol);
        return;
      }
      this.prepareHandshake(
        req,
        query,
        (code2) => abortUpgrade(socket, code2),
        (id, protocol) => this.completeUpgrade(req, socket, head, query, res, id, protocol),
      );
    });
  }

  private completeUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    query: EngineQuery,
    res: UpgradeResponse | null,
    id: string,
    protocol: EngineProtocol,
  ): void {
    const ws = this.ws;
    if (ws === null || (this.closed && !query.sid)) {
      abortUpgrade(socket, ErrorCode.BAD_REQUEST, { message: "Server closed" });
      return;
    }
    const headers: ResponseHeaders = res !== null ? res.headers : {};
    this.pendingUpgrades.set(req, { sid: id, initial: !query.sid, headers });
    corkUpgradeSocket(socket);
    try {
      ws.handleUpgrade(req, socket, head, (websocket) => {
        // ws now handles the socket's errors itself
        socket.removeListener("error", onUpgradeSocketError);
        this.onWebSocket(req, query, websocket, id, protocol);
      });
    } finally {
      // the 101 is written: the stub response is kept only if someone waits for its "close"
      res?.detachIfUnobserved();
    }
  }

  private onUpgradeHeaders(lines: string[], req: IncomingMessage): void {
    const pending = this.pendingUpgrades.get(req);
    if (pending === undefined) return;
    this.pendingUpgrades.delete(req);
    this.emitResponseHeaders(pending.headers, req, pending.initial, pending.sid);
    for (const key of Object.keys(pending.headers)) {
      const value = pending.headers[key];
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) lines.push(`${key}: ${v}`);
      else lines.push(`${key}: ${String(value)}`);
    }
  }

  private onWebSocket(
    req: IncomingMessage,
    query: EngineQuery,
    ws: WsSocket,
    id: string,
    protocol: EngineProtocol,
  ): void {
    const perMessageDeflate = this.opts.perMessageDeflate !== false;
    if (!query.sid) {
      const transport = new WebSocketTransport(ws, perMessageDeflate, protocol);
      const socket = this.addSession(id, transport, req, protocol);
      this.emit("connection", socket);
      return;
    }
    const session = this.clients[query.sid];
    if (
      session === undefined ||
      query.transport !== "websocket" ||
      !this.opts.allowUpgrades ||
      session.readyState !== "open" ||
      session.upgrading ||
      session.upgraded
    ) {
      debug("upgrade refused for %s", query.sid);
      ws.on("error", onUpgradeSocketError);
      ws.close();
      return;
    }
    session._maybeUpgrade(new WebSocketTransport(ws, perMessageDeflate, session.engineProtocol));
  }

  // ---- verification and handshake ----

  private verify(
    req: IncomingMessage,
    query: EngineQuery,
    upgrade: boolean,
    fn: VerifyCallback,
  ): void {
    const transport = query.transport;
    if (
      transport === undefined ||
      !this.opts.transports.includes(transport) ||
      transport === "webtransport"
    ) {
      debug('unknown transport "%s"', transport);
      return fn(ErrorCode.UNKNOWN_TRANSPORT, { transport });
    }
    const origin = req.headers.origin;
    if (isInvalidHeaderValue(origin)) {
      delete req.headers.origin;
      return fn(ErrorCode.BAD_REQUEST, { name: "INVALID_ORIGIN", origin });
    }
    const sid = query.sid;
    if (sid) {
      const session = this.clients[sid];
      if (session === undefined) return fn(ErrorCode.UNKNOWN_SID, { sid });
      const previousTransport = session.transport.name;
      if (!upgrade && previousTransport !== transport) {
        return fn(ErrorCode.BAD_REQUEST, {
          name: "TRANSPORT_MISMATCH",
          transport,
          previousTransport,
        });
      }
      const protocol = requestedVersion(query.EIO);
      if (protocol !== session.protocol) {
        return fn(ErrorCode.BAD_REQUEST, {
          name: "PROTOCOL_MISMATCH",
          protocol,
          previousProtocol: session.protocol,
        });
      }
      return fn();
    }
    if (req.method !== "GET") return fn(ErrorCode.BAD_HANDSHAKE_METHOD, { method: req.method });
    if (transport === "websocket" && !upgrade) {
      return fn(ErrorCode.BAD_REQUEST, { name: "TRANSPORT_HANDSHAKE_ERROR" });
    }
    const allowRequest = this.opts.allowRequest;
    if (allowRequest === undefined) return fn();
    allowRequest(req, (message, success) => {
      if (!success) fn(ErrorCode.FORBIDDEN, { message });
      else fn();
    });
  }

  /** Picks the protocol and obtains an id, then calls `then(id, protocol)`; refusals go through `abort`. */
  private prepareHandshake(
    req: IncomingMessage,
    query: EngineQuery,
    abort: (code: ErrorCodeValue) => void,
    then: (id: string, protocol: EngineProtocol) => void,
  ): void {
    const protocol = protocolFor(query.EIO, this.opts.allowEIO3 === true);
    if (protocol === undefined) {
      this.emitError(req, ErrorCode.UNSUPPORTED_PROTOCOL_VERSION, {
        protocol: requestedVersion(query.EIO),
      });
      abort(ErrorCode.UNSUPPORTED_PROTOCOL_VERSION);
      return;
    }
    const fail = (error: unknown): void => {
      debug("error while generating an id");
      this.emitError(req, ErrorCode.BAD_REQUEST, { name: "ID_GENERATION_ERROR", error });
      abort(ErrorCode.BAD_REQUEST);
    };
    let id: string | PromiseLike<string>;
    try {
      id = this.generateId(req);
    } catch (err) {
      fail(err);
      return;
    }
    if (typeof id === "string") {
      then(id, protocol);
      return;
    }
    Promise.resolve(id).then((resolved) => then(String(resolved), protocol), fail);
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
    return socket;
  }

  /** @internal */
  _removeSession(socket: Socket): void {
    if (this.clients[socket.id] !== socket) return;
    delete this.clients[socket.id];
    this.clientsCount--;
  }

  /** @internal The open packet's JSON. */
  _openPacket(id: string, transportName: string): string {
    return `{"sid":${JSON.stringify(id)}${this.openSuffix[transportName] ?? ""}`;
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

  private emitError(req: IncomingMessage, code: ErrorCodeValue, context: ErrorContext): void {
    const err: ConnectionError = { req, code, message: ErrorMessages[code], context };
    this.emit("connection_error", err);
  }

  private refuseRequest(
    req: IncomingMessage,
    res: ServerResponse,
    code: ErrorCodeValue,
    context: ErrorContext,
  ): void {
    debug("request refused: %d %o", code, context);
    this.emitError(req, code, context);
    abortRequest(res, code, context);
  }

  private refuseUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    code: ErrorCodeValue,
    context: ErrorContext,
  ): void {
    debug("upgrade refused: %d %o", code, context);
    this.emitError(req, code, context);
    abortUpgrade(socket, code, context);
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

/** @internal Keeps an upgrade socket's errors (a TCP reset...) from crashing the process. */
export function onUpgradeSocketError(this: unknown, err: Error): void {
  debug("error on an upgrade socket: %s", err.message);
}

/** Answers a refused polling request: JSON body, 403 for Forbidden, 400 otherwise. */
function abortRequest(res: ServerResponse, code: ErrorCodeValue, context?: ErrorContext): void {
  const message =
    typeof context?.message === "string" && context.message !== ""
      ? context.message
      : ErrorMessages[code];
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  res.writeHead(statusOf(code), { "Content-Type": "application/json" });
  res.end(JSON.stringify({ code, message }));
}

function abortClosed(res: ServerResponse): void {
  res.writeHead(503, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ code: ErrorCode.BAD_REQUEST, message: "Server closed" }));
}

/** Answers a refused upgrade with a raw HTTP 400 response, then destroys the socket. */
function abortUpgrade(socket: Duplex, code: ErrorCodeValue, context?: ErrorContext): void {
  socket.on("error", onUpgradeSocketError);
  if (socket.writable) {
    const message =
      typeof context?.message === "string" && context.message !== ""
        ? context.message
        : ErrorMessages[code];
    socket.write(
      "HTTP/1.1 400 Bad Request\r\n" +
        "Connection: close\r\n" +
        "Content-type: text/html\r\n" +
        `Content-Length: ${Buffer.byteLength(message)}\r\n` +
        "\r\n" +
        message,
    );
  }
  socket.destroy();
}
