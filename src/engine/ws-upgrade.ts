/**
 * HTTP upgrade requests to the engine: the `ws` server (noServer), the checks and handshake of an upgrade, the
 * headers of its 101 response, and what the new WebSocket becomes: a new session (a WebSocket handshake) or the
 * probe of an existing session's upgrade (see upgrade.ts for the probe itself).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import createDebug from "debug";
import type { WebSocket as WsSocket } from "ws";
import { answerRefusedUpgrade, onUpgradeSocketError, type Refusal } from "./checks";
import { EngineErrorMessages, ErrorCode } from "./errors";
import type { HandshakeResult } from "./handshake";
import { type Middleware, runMiddlewares, UpgradeResponse } from "./middleware";
import type { ResolvedOptions } from "./options";
import type { EngineProtocol } from "./protocol";
import { type EngineQuery, parseEngineQuery } from "./request";
import type { Socket } from "./socket";
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

/** What the upgrade entry needs from the engine server. */
export interface UpgradeHost {
  readonly opts: ResolvedOptions;
  /** The open session `sid`, if any. */
  session(sid: string): Socket | undefined;
  readonly middlewares: readonly Middleware[];
  isClosed(): boolean;
  check(req: IncomingMessage, query: EngineQuery, upgrade: boolean): Refusal | undefined;
  handshake(req: IncomingMessage, query: EngineQuery): Promise<HandshakeResult>;
  /** Reports a refusal (`connection_error`). */
  reportRefusal(req: IncomingMessage, refusal: Refusal): void;
  /** Gives back the address place a handshake took when its session does not open. */
  releaseAddress(req: IncomingMessage): void;
  /** Registers a new session and emits `connection`. */
  openSession(
    id: string,
    transport: WebSocketTransport,
    req: IncomingMessage,
    protocol: EngineProtocol,
  ): void;
  emitResponseHeaders(
    headers: ResponseHeaders,
    req: IncomingMessage,
    initial: boolean,
    sid: string,
  ): void;
  /**
   * With the `forwarding` option: takes a WebSocket accepted for `sid`, a session this node does not have, and
   * relays it to the session's owner.
   */
  relayWebSocket: ((ws: WsSocket, req: IncomingMessage, sid: string) => void) | undefined;
}

export class UpgradeEntry {
  private ws: WsServerLike | null = null;
  /** Upgrades between `handleUpgrade` and the 101 (ws's `headers` event), by request. */
  private readonly pendingUpgrades = new WeakMap<IncomingMessage, PendingUpgrade>();

  constructor(private readonly host: UpgradeHost) {}

  /** (Re)creates the WebSocket server. */
  init(): void {
    const opts = this.host.opts;
    if (!opts.transports.includes("websocket")) return;
    if (this.ws !== null) this.ws.close();
    const Engine = opts.wsEngine;
    const ws = new Engine({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: opts.perMessageDeflate,
      maxPayload: opts.maxHttpBufferSize,
    }) as WsServerLike;
    if (typeof ws.on === "function")
      ws.on("headers", (lines, req) => this.onUpgradeHeaders(lines, req));
    this.ws = ws;
  }

  close(): void {
    if (this.ws !== null) this.ws.close();
  }

  /** Handles an HTTP upgrade request for the engine. */
  handle(req: IncomingMessage, socket: Duplex, upgradeHead: Buffer): void {
    // from its first moment, an error on this socket (a TCP reset...) must not crash the process
    socket.on("error", onUpgradeSocketError);
    const head = upgradeHead.length > 0 ? Buffer.from(upgradeHead) : upgradeHead;
    const query = parseEngineQuery(req.url);
    const middlewares = this.host.middlewares;
    if (middlewares.length === 0) {
      this.verify(req, socket, head, query, null);
      return;
    }
    // the stub response exists only for middlewares: it collects the headers they set for the 101
    const res = new UpgradeResponse(req, socket);
    runMiddlewares(middlewares, req, res as unknown as ServerResponse, (err) => {
      if (err) {
        this.refuse(req, socket, {
          code: ErrorCode.BAD_REQUEST,
          context: { name: "MIDDLEWARE_FAILURE" },
        });
      } else this.verify(req, socket, head, query, res);
    });
  }

  private refuse(req: IncomingMessage, socket: Duplex, refusal: Refusal): void {
    debug("upgrade refused: %d %o", refusal.code, refusal.context);
    this.host.reportRefusal(req, refusal);
    answerRefusedUpgrade(socket, refusal);
  }

  private verify(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    query: EngineQuery,
    res: UpgradeResponse | null,
  ): void {
    const refusal = this.host.check(req, query, true);
    if (
      refusal?.code === ErrorCode.UNKNOWN_SID &&
      query.sid &&
      query.transport === "websocket" &&
      this.host.relayWebSocket !== undefined
    )
      return this.relay(req, socket, head, query.sid, this.host.relayWebSocket);
    if (refusal !== undefined) return this.refuse(req, socket, refusal);
    if (query.sid) {
      const session = this.host.session(query.sid);
      if (session === undefined) {
        answerRefusedUpgrade(socket, { code: ErrorCode.UNKNOWN_SID, context: {} });
        return;
      }
      this.complete(req, socket, head, query, res, query.sid, session.engineProtocol);
      return;
    }
    void this.handshake(req, socket, head, query, res);
  }

  private async handshake(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    query: EngineQuery,
    res: UpgradeResponse | null,
  ): Promise<void> {
    const result = await this.host.handshake(req, query);
    if (result.refusal !== undefined) return this.refuse(req, socket, result.refusal);
    this.complete(req, socket, head, query, res, result.id, result.protocol);
  }

  private complete(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    query: EngineQuery,
    res: UpgradeResponse | null,
    id: string,
    protocol: EngineProtocol,
  ): void {
    const ws = this.ws;
    const initial = !query.sid;
    if (initial && socket.destroyed) {
      // gone while the handshake ran: its "close" is past, so the place goes back here
      this.host.releaseAddress(req);
      return;
    }
    if (ws === null || (this.host.isClosed() && initial)) {
      if (initial) this.host.releaseAddress(req);
      answerRefusedUpgrade(socket, {
        code: ErrorCode.BAD_REQUEST,
        context: { message: EngineErrorMessages.SERVER_CLOSED },
      });
      return;
    }
    // the middlewares' response is "written" now: hooks waiting for that add their headers to the 101
    if (res !== null) res.writeHead();
    const headers: ResponseHeaders = res !== null ? res.headers : {};
    this.pendingUpgrades.set(req, { sid: id, initial: !query.sid, headers });
    corkUpgradeSocket(socket);
    // a new session's address place goes back if the upgrade ends before the WebSocket exists (ws aborted it)
    const release = initial ? () => this.host.releaseAddress(req) : undefined;
    if (release !== undefined) socket.once("close", release);
    try {
      ws.handleUpgrade(req, socket, head, (websocket) => {
        // ws now handles the socket's errors itself
        socket.removeListener("error", onUpgradeSocketError);
        if (release !== undefined) socket.removeListener("close", release);
        this.onWebSocket(req, query, websocket, id, protocol);
      });
    } finally {
      // the 101 is written: the stub response is kept only if someone waits for its "close"
      res?.detachIfUnobserved();
    }
  }

  /** Accepts the WebSocket of a session another node owns; the forwarding relays its frames to the owner. */
  private relay(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    sid: string,
    relayWebSocket: (ws: WsSocket, req: IncomingMessage, sid: string) => void,
  ): void {
    const ws = this.ws;
    if (ws === null || this.host.isClosed()) {
      answerRefusedUpgrade(socket, {
        code: ErrorCode.BAD_REQUEST,
        context: { message: EngineErrorMessages.SERVER_CLOSED },
      });
      return;
    }
    ws.handleUpgrade(req, socket, head, (websocket) => {
      socket.removeListener("error", onUpgradeSocketError);
      relayWebSocket(websocket, req, sid);
    });
  }

  private onUpgradeHeaders(lines: string[], req: IncomingMessage): void {
    const pending = this.pendingUpgrades.get(req);
    if (pending === undefined) return;
    this.pendingUpgrades.delete(req);
    this.host.emitResponseHeaders(pending.headers, req, pending.initial, pending.sid);
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
    const opts = this.host.opts;
    const perMessageDeflate = opts.perMessageDeflate !== false;
    if (!query.sid) {
      this.host.openSession(
        id,
        new WebSocketTransport(ws, perMessageDeflate, protocol),
        req,
        protocol,
      );
      return;
    }
    const session = this.host.session(query.sid);
    if (
      session === undefined ||
      query.transport !== "websocket" ||
      !opts.allowUpgrades ||
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
}
