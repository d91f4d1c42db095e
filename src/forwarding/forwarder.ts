/**
 * Serving a polling request whose session another node owns (the engine's `forwarding` option).
 *
 * The node that received the request (the requester) sends it to the owner over a {@link ForwardingRoute}: to
 * the owner it learnt from an earlier answer, else to every node (only the owner answers). The owner serves it
 * exactly as a local request, through the session's own polling transport, with a request and a response that
 * stand for the remote ones: so packet order, `maxHttpBufferSize`, the one pending GET, heartbeats and the close
 * packet are the owner's ordinary logic. Its answer (status, headers, body) is written to the real response.
 *
 * Every wait is bounded: no ACCEPTED/RESPONSE within `forwardingTimeout` (no owner, or a dead one) → the normal
 * 400 "Session ID unknown"; a held GET gets `pingInterval + pingTimeout + forwardingTimeout` more, since its
 * owner answers it with a ping at the latest after `pingInterval`.
 *
 * A WebSocket upgrade for a session of another node is accepted here and becomes a tunnel: its frames go to the
 * owner (WS_FRAME), where a stand-in WebSocket (relayed-websocket.ts) takes the ordinary upgrade path; the
 * owner's frames come back the same way. No owner accepting within `forwardingTimeout` closes the WebSocket
 * (the client stays on polling).
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { PassThrough } from "node:stream";
import createDebug from "debug";
import type { WebSocket as WsSocket } from "ws";
import { RelayedWebSocket } from "./relayed-websocket";
import type { ForwardingRoute } from "./route";
import {
  type AcceptedHeader,
  type Decoded,
  Kind,
  type RequestHeader,
  type WsFrameHeader,
  decode,
  encode,
} from "./wire";

const debug = createDebug("switchyard:forwarding");

/** Owners remembered (sid → node id); the oldest is forgotten past this. */
const MAX_KNOWN_OWNERS = 10_000;

/** What the forwarder needs from its engine. */
export interface ForwardingHost {
  readonly maxHttpBufferSize: number;
  readonly pingInterval: number;
  readonly pingTimeout: number;
  readonly forwardingTimeout: number;
  /** Whether this node owns `sid`. */
  owns(sid: string): boolean;
  /** Serves a request for a local session as if it had arrived here (checks included). */
  serve(req: IncomingMessage, res: ServerResponse): void;
  /** Answers `res` with the 400 "Session ID unknown". */
  refuseUnknown(res: ServerResponse, sid: string): void;
  /**
   * Upgrades local session `sid` to `ws`, a WebSocket relayed from another node, if the session may upgrade
   * now (the checks of a local upgrade); false otherwise.
   */
  adoptWebSocket(ws: RelayedWebSocket, sid: string, url: string): boolean;
}

/** A WebSocket accepted here for a session another node owns, its frames relayed to that node. */
interface Tunnel {
  readonly ws: WsSocket;
  readonly sid: string;
  owner: string | null;
  /** Until the owner accepts: no owner within `forwardingTimeout` closes the WebSocket. */
  timer: NodeJS.Timeout | undefined;
}

interface Waiting {
  readonly res: ServerResponse;
  readonly sid: string;
  readonly method: string;
  owner: string | null;
  timer: NodeJS.Timeout;
}

/** The stand-in for a remote request on the owner: a readable of the body with the request's fields. */
type ForwardedRequest = PassThrough & {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
};

/** The stand-in for a remote response on the owner: what the transport writes goes back to the requester. */
class ForwardedResponse {
  headersSent = false;
  writableEnded = false;
  private status = 200;
  private headers: Record<string, string | number | string[]> = {};
  private parts: Buffer[] | null = null;

  constructor(
    private readonly done: (status: number, headers: object, body?: Buffer | string) => void,
  ) {}

  writeHead(
    status: number,
    headers?: Record<string, string | number | string[] | undefined>,
  ): this {
    this.status = status;
    if (headers) {
      for (const key in headers) {
        const value = headers[key];
        if (value !== undefined) this.headers[key] = value;
      }
    }
    this.headersSent = true;
    return this;
  }

  /**
   * A body written in parts (a polling response from a lagging session's spilled packets, written chunk by
   * chunk): the parts are joined at `end`, the route carries one message.
   */
  write(chunk: Buffer | string, done?: (err?: Error | null) => void): boolean {
    (this.parts ??= []).push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    if (done !== undefined) process.nextTick(done);
    return true;
  }

  end(body?: Buffer | string): this {
    if (this.writableEnded) return this;
    this.writableEnded = true;
    this.headersSent = true;
    const parts = this.parts;
    if (parts !== null) {
      this.parts = null;
      if (body !== undefined) parts.push(typeof body === "string" ? Buffer.from(body) : body);
      body = Buffer.concat(parts);
    }
    this.done(this.status, this.headers, body);
    return this;
  }
}

export class Forwarder {
  private readonly nodeId: string;
  private readonly waiting = new Map<string, Waiting>();
  /** Requests served here for other nodes, by `<from> <id>`: their stand-in request (aborted on ABORT). */
  private readonly serving = new Map<string, ForwardedRequest>();
  private readonly owners = new Map<string, string>();
  /** WebSockets accepted here for sessions of other nodes, by tunnel id. */
  private readonly tunnels = new Map<string, Tunnel>();
  /** Stand-ins for WebSockets of this node's sessions that landed elsewhere, by `<from> <id>`. */
  private readonly relayed = new Map<string, RelayedWebSocket>();
  private readonly idPrefix = randomBytes(4).toString("hex");
  private nextId = 0;

  constructor(
    private readonly route: ForwardingRoute,
    private readonly host: ForwardingHost,
  ) {
    this.nodeId = route.nodeId;
    route.listen((message) => this.onMessage(message));
  }

  close(): void {
    this.route.close();
    for (const [id, waiting] of this.waiting) {
      clearTimeout(waiting.timer);
      this.waiting.delete(id);
      this.host.refuseUnknown(waiting.res, waiting.sid);
    }
    for (const req of this.serving.values()) req.destroy();
    this.serving.clear();
    for (const tunnel of this.tunnels.values()) tunnel.ws.terminate();
    this.tunnels.clear();
    for (const ws of this.relayed.values()) ws.remoteClosed();
    this.relayed.clear();
  }

  // ---- WebSocket upgrades landing here for a session of another node ----

  /** Relays the frames of `ws`, accepted here for session `sid` of another node, to and from its owner. */
  relayWebSocket(ws: WsSocket, req: IncomingMessage, sid: string): void {
    const id = `${this.idPrefix}${(this.nextId++).toString(36)}`;
    const owner = this.owners.get(sid) ?? null;
    const tunnel: Tunnel = {
      ws,
      sid,
      owner,
      timer: setTimeout(() => {
        debug("no owner accepted the WebSocket of %s", sid);
        ws.terminate();
      }, this.host.forwardingTimeout),
    };
    this.tunnels.set(id, tunnel);
    ws.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const payload = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      const header: WsFrameHeader = { id, from: this.nodeId, binary: isBinary };
      this.route.send(tunnel.owner, encode(Kind.WS_FRAME, header, payload));
    });
    ws.on("close", () => {
      clearTimeout(tunnel.timer);
      if (this.tunnels.get(id) !== tunnel) return;
      this.tunnels.delete(id);
      this.route.send(tunnel.owner, encode(Kind.WS_CLOSE, { id, from: this.nodeId }));
    });
    ws.on("error", (err: Error) => debug("relayed websocket error: %s", err.message));
    const header: RequestHeader = {
      id,
      from: this.nodeId,
      sid,
      method: "GET",
      url: req.url ?? "/",
      headers: req.headers,
      direct: owner !== null,
    };
    if (debug.enabled) debug("relaying the WebSocket of %s (%s) to %s", sid, id, owner ?? "all");
    this.route.send(owner, encode(Kind.WS_OPEN, header));
  }

  // ---- on the node that received the request ----

  /** Sends a request for `sid` (not a local session) to its owner; `res` gets the owner's answer or a 400. */
  forward(req: IncomingMessage, res: ServerResponse, sid: string): void {
    const method = req.method ?? "GET";
    if (method !== "POST") {
      this.send(req, res, sid, method, undefined);
      return;
    }
    // read at most one byte past the limit: the owner then refuses it (413) and closes the session, as locally
    const max = this.host.maxHttpBufferSize;
    const chunks: Buffer[] = [];
    let length = 0;
    let sent = false;
    const finish = (): void => {
      if (sent) return;
      sent = true;
      const body = Buffer.concat(chunks, Math.min(length, max + 1));
      this.send(req, res, sid, method, body);
    };
    req.on("data", (chunk: Buffer) => {
      if (sent) return;
      chunks.push(chunk);
      length += chunk.length;
      if (length > max) finish();
    });
    req.on("end", finish);
    req.on("error", () => undefined);
  }

  private send(
    req: IncomingMessage,
    res: ServerResponse,
    sid: string,
    method: string,
    body: Buffer | undefined,
  ): void {
    const id = `${this.idPrefix}${(this.nextId++).toString(36)}`;
    const owner = this.owners.get(sid) ?? null;
    const header: RequestHeader = {
      id,
      from: this.nodeId,
      sid,
      method,
      url: req.url ?? "/",
      headers: req.headers,
      direct: owner !== null,
    };
    const waiting: Waiting = {
      res,
      sid,
      method,
      owner,
      timer: setTimeout(() => this.expire(id), this.host.forwardingTimeout),
    };
    this.waiting.set(id, waiting);
    res.on("close", () => {
      if (this.waiting.get(id) !== waiting) return;
      // the client went away first: the owner's transport must see it (POLL_CLOSED), as for a local request
      clearTimeout(waiting.timer);
      this.waiting.delete(id);
      this.route.send(waiting.owner, encode(Kind.ABORT, { id, from: this.nodeId }));
    });
    if (debug.enabled) debug("forwarding %s %s (sid %s) to %s", method, id, sid, owner ?? "all");
    this.route.send(owner, encode(Kind.REQUEST, header, body));
  }

  private expire(id: string): void {
    const waiting = this.waiting.get(id);
    if (waiting === undefined) return;
    this.waiting.delete(id);
    debug("no answer for %s (sid %s)", id, waiting.sid);
    this.owners.delete(waiting.sid);
    if (waiting.owner !== null)
      this.route.send(waiting.owner, encode(Kind.ABORT, { id, from: this.nodeId }));
    this.host.refuseUnknown(waiting.res, waiting.sid);
  }

  private remember(sid: string, owner: string): void {
    if (this.owners.get(sid) === owner) return;
    this.owners.set(sid, owner);
    if (this.owners.size > MAX_KNOWN_OWNERS) {
      const oldest = this.owners.keys().next().value;
      if (oldest !== undefined) this.owners.delete(oldest);
    }
  }

  private onAccepted(header: AcceptedHeader): void {
    const tunnel = this.tunnels.get(header.id);
    if (tunnel !== undefined) {
      clearTimeout(tunnel.timer);
      tunnel.timer = undefined;
      tunnel.owner = header.from;
      this.remember(tunnel.sid, header.from);
      return;
    }
    const waiting = this.waiting.get(header.id);
    if (waiting === undefined) return;
    waiting.owner = header.from;
    this.remember(waiting.sid, header.from);
    clearTimeout(waiting.timer);
    const { pingInterval, pingTimeout, forwardingTimeout } = this.host;
    waiting.timer = setTimeout(
      () => this.expire(header.id),
      pingInterval + pingTimeout + forwardingTimeout,
    );
  }

  // ---- messages ----

  private onMessage(message: Buffer): void {
    const decoded = decode(message);
    if (decoded === undefined) {
      debug("dropping a malformed forwarding message");
      return;
    }
    this.dispatch(decoded);
  }

  private dispatch(message: Decoded): void {
    switch (message.kind) {
      case Kind.REQUEST:
        return this.onRequest(message.header, message.body);
      case Kind.ACCEPTED:
        return this.onAccepted(message.header);
      case Kind.RESPONSE: {
        const waiting = this.waiting.get(message.header.id);
        if (waiting === undefined) return;
        this.waiting.delete(message.header.id);
        clearTimeout(waiting.timer);
        const { res } = waiting;
        if (res.headersSent || res.writableEnded) return;
        res.writeHead(message.header.status, message.header.headers);
        res.end(message.body);
        return;
      }
      case Kind.WS_OPEN:
        return this.onWebSocketOpen(message.header);
      case Kind.WS_FRAME: {
        const { id, from, binary } = message.header;
        const tunnel = this.tunnels.get(id);
        if (tunnel !== undefined) {
          if (tunnel.owner === from && tunnel.ws.readyState === 1)
            tunnel.ws.send(binary ? message.body : message.body.toString(), { binary });
          return;
        }
        this.relayed.get(`${from} ${id}`)?.receive(message.body, binary);
        return;
      }
      case Kind.WS_CLOSE: {
        const { id, from } = message.header;
        const tunnel = this.tunnels.get(id);
        if (tunnel !== undefined) {
          if (tunnel.owner !== from) return;
          this.tunnels.delete(id);
          tunnel.ws.close();
          return;
        }
        const key = `${from} ${id}`;
        const ws = this.relayed.get(key);
        this.relayed.delete(key);
        ws?.remoteClosed();
        return;
      }
      case Kind.GONE: {
        const tunnel = this.tunnels.get(message.header.id);
        if (tunnel !== undefined) {
          this.tunnels.delete(message.header.id);
          clearTimeout(tunnel.timer);
          this.owners.delete(tunnel.sid);
          tunnel.ws.terminate();
          return;
        }
        const waiting = this.waiting.get(message.header.id);
        if (waiting === undefined) return;
        this.waiting.delete(message.header.id);
        clearTimeout(waiting.timer);
        this.owners.delete(waiting.sid);
        this.host.refuseUnknown(waiting.res, waiting.sid);
        return;
      }
      case Kind.ABORT: {
        const key = `${message.header.from} ${message.header.id}`;
        const req = this.serving.get(key);
        if (req === undefined) return;
        this.serving.delete(key);
        req.destroy();
        return;
      }
    }
  }

  // ---- on the owner ----

  private onWebSocketOpen(header: RequestHeader): void {
    if (header.from === this.nodeId) return;
    if (!this.host.owns(header.sid)) {
      if (header.direct) this.route.send(header.from, encode(Kind.GONE, { id: header.id }));
      return;
    }
    const key = `${header.from} ${header.id}`;
    const ws = new RelayedWebSocket(
      (payload, binary) =>
        this.route.send(
          header.from,
          encode(Kind.WS_FRAME, { id: header.id, from: this.nodeId, binary }, payload),
        ),
      () => {
        this.relayed.delete(key);
        this.route.send(header.from, encode(Kind.WS_CLOSE, { id: header.id, from: this.nodeId }));
      },
    );
    this.relayed.set(key, ws);
    this.route.send(header.from, encode(Kind.ACCEPTED, { id: header.id, from: this.nodeId }));
    if (!this.host.adoptWebSocket(ws, header.sid, header.url)) ws.close();
  }

  private onRequest(header: RequestHeader, body: Buffer): void {
    if (header.from === this.nodeId) return;
    if (!this.host.owns(header.sid)) {
      if (header.direct) this.route.send(header.from, encode(Kind.GONE, { id: header.id }));
      return;
    }
    const key = `${header.from} ${header.id}`;
    const req = Object.assign(new PassThrough(), {
      method: header.method,
      url: header.url,
      headers: header.headers,
    }) as ForwardedRequest;
    req.on("error", () => undefined);
    const res = new ForwardedResponse((status, headers, payload) => {
      this.serving.delete(key);
      this.route.send(
        header.from,
        encode(Kind.RESPONSE, { id: header.id, status, headers }, payload),
      );
      // a held GET's stand-in is done; its 'close' must not look like the client leaving
      if (header.method !== "POST") req.removeAllListeners("close");
      req.destroy();
    });
    this.serving.set(key, req);
    if (header.method === "GET") {
      this.route.send(header.from, encode(Kind.ACCEPTED, { id: header.id, from: this.nodeId }));
    }
    this.host.serve(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    if (header.method === "POST") req.end(body);
  }
}
