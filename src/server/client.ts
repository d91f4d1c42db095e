/**
 * Client: one Engine.IO connection, multiplexing the sockets of every namespace it joined. It decodes incoming
 * packets and routes them to their socket, encodes outgoing ones, and ties the sockets' lifetime to the
 * connection's.
 */
import type { IncomingMessage } from "node:http";
import createDebug from "debug";
import type { EncodedPacket } from "../adapter/adapter";
import { Socket as EngineSocket } from "../engine";
import { type Decoder, type Packet, PacketType } from "../parser";
import { ServerErrorMessage } from "./errors";
import { LimitErrorMessage, packetBucket } from "./limits";
import type { TokenBucket } from "../util/token-bucket";
import type { Server } from "./server";
import type { DisconnectReason, Socket } from "./socket";
import type { DefaultEventsMap, EventsMap } from "./typed-events";

const debug = createDebug("switchyard:client");

/** How encoded packets are written to the connection (socket.io's `writeToEngine` options). */
export interface WriteOptions {
  /** Accepted for socket.io compatibility: what `writeToEngine` gets is always encoded. */
  preEncoded?: boolean;
  /** Dropped when the transport cannot take it right now. */
  volatile?: boolean;
  /** Compressed unless false. */
  compress?: boolean;
  /** socket.io-adapter 2.5's pre-built WebSocket frame: accepted, not needed (our engine frames once itself). */
  wsPreEncodedFrame?: unknown;
}

// Shared by every write to our own engine, which only reads them. Another engine (engine.io through
// `io.bind()`) writes to the options it gets, so it gets a fresh object per write.
const COMPRESSED = Object.freeze({ compress: true });
const UNCOMPRESSED = Object.freeze({ compress: false });

export class Client<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = DefaultEventsMap,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = unknown,
> {
  readonly id: string;
  /**
   * What the handshake reads from the opening request, taken when the connection arrives: an application may
   * drop the request afterwards (`io.engine.on("connection", (raw) => { raw.request = null })`, as socket.io
   * advises, to save memory), and nothing here keeps it reachable. `headers` is the request's own object.
   */
  readonly requestHeaders: IncomingMessage["headers"];
  readonly requestUrl: string;
  readonly requestSecure: boolean;
  /**
   * The connection's own decoder: always with a custom parser; with the built-in one only while a binary packet
   * waits for its attachments (otherwise the server's shared decoder decodes for this client).
   */
  private decoder: InstanceType<Server["_parser"]["Decoder"]> | Decoder | undefined;
  /**
   * Sockets by namespace name: the first in two fields (most connections join one namespace), the others in a
   * Map made when a second namespace is joined.
   */
  private firstNsp: string | undefined;
  private firstSocket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData> | undefined;
  private otherNsps:
    Map<string, Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> | undefined;
  /**
   * Sockets whose namespace was connected again by the same client (a second CONNECT answered while the first
   * was in the middlewares): no longer reachable by name, they still leave with the connection.
   */
  private displaced: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>[] | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  /**
   * Namespaces with a CONNECT in progress: one at a time per namespace (later ones are ignored). Made when a
   * CONNECT starts and dropped once none is in progress: an idle connection holds no set.
   */
  private connecting: Set<string> | undefined;
  /** The `packetRateLimit` bucket, when that limit is on. */
  private readonly bucket: TokenBucket | undefined;
  /** Packets decoded from the current engine message, handled once it is fully decoded. */
  private decoded: Packet | Packet[] | undefined;
  private closed = false;
  /** False for a connection of another engine (engine.io through `io.bind()`): see `writeToEngine`. */
  private readonly ownEngine: boolean;

  constructor(
    readonly server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
    readonly conn: EngineSocket,
  ) {
    this.id = conn.id;
    const req = conn.request;
    this.requestHeaders = req.headers;
    this.requestUrl = req.url ?? "/";
    this.requestSecure = Boolean((req.socket as { encrypted?: boolean } | undefined)?.encrypted);
    this.bucket = packetBucket(server._limits.packetRateLimit);
    this.ownEngine = conn instanceof EngineSocket;
    if (server._sharedDecoder === undefined) {
      const decoder = new server._parser.Decoder();
      this.decoder = decoder;
      // Shared listeners find their client through a symbol: no closures per connection.
      (decoder as unknown as Owned)[kClient] = this;
      decoder.on("decoded", onDecoded);
    }
    if (this.ownEngine) {
      // our engine calls the client directly (and never emits "error")
      conn._setConsumer(this);
    } else {
      (conn as unknown as Owned)[kClient] = this;
      conn.on("data", onData);
      conn.on("error", onError);
      conn.on("close", onClose);
      conn.on("bufferDrain", onBufferDrain);
    }
    this.connectTimer = setTimeout(onConnectTimeout, server._connectTimeout, this);
    // a v2 client (Engine.IO 3, Socket.IO protocol 4) is in the main namespace without asking
    if (conn.protocol === 3) this.connect("/", {});
  }

  /** The HTTP request that opened the connection, read through the engine: null once the application dropped it. */
  get request(): IncomingMessage {
    return this.conn.request;
  }

  /** @internal A connection that joined no namespace in time is closed. */
  _onConnectTimeout(): void {
    this.connectTimer = undefined;
    if (this.namespaceCount() === 0) {
      debug("no namespace joined in time, closing %s", this.id);
      this.close();
    }
  }

  /** The sockets of this connection, by socket id. */
  get sockets(): Map<string, Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>> {
    const byId = new Map<string, Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>();
    for (const socket of this.everySocket()) byId.set(socket.id, socket);
    return byId;
  }

  private connect(name: string, auth: Record<string, unknown>): void {
    if (this.connecting?.has(name)) {
      debug.enabled && debug("CONNECT to %s already in progress for %s: ignored", name, this.id);
      return;
    }
    if (
      this.namespaceCount() + (this.connecting?.size ?? 0) >=
      this.server._limits.maxNamespacesPerConnection
    ) {
      debug("too many namespaces for %s", this.id);
      this._packet({
        type: PacketType.CONNECT_ERROR,
        nsp: name,
        data: { message: LimitErrorMessage.TOO_MANY_NAMESPACES },
      });
      return;
    }
    (this.connecting ??= new Set()).add(name);
    if (this.server._nsps.has(name)) {
      this.doConnect(name, auth);
      return;
    }
    this.server._checkNamespace(name, auth, (dynamic) => {
      if (dynamic && !this.closed) {
        this.doConnect(name, auth);
      } else {
        this.endConnect(name);
        debug("unknown namespace %s", name);
        this._packet({
          type: PacketType.CONNECT_ERROR,
          nsp: name,
          data: { message: ServerErrorMessage.INVALID_NAMESPACE },
        });
      }
    });
  }

  /** The CONNECT to `name` is over (joined or refused). */
  private endConnect(name: string): void {
    const connecting = this.connecting;
    if (connecting === undefined) return;
    connecting.delete(name);
    if (connecting.size === 0) this.connecting = undefined;
  }

  private doConnect(name: string, auth: Record<string, unknown>): void {
    const nsp = this.server.of(name);
    nsp._add(
      this,
      auth,
      (socket) => {
        this.endConnect(name);
        const previous = this.socketOf(nsp.name);
        if (previous) (this.displaced ??= []).push(previous);
        this.setSocket(nsp.name, socket);
        if (this.connectTimer) {
          clearTimeout(this.connectTimer);
          this.connectTimer = undefined;
        }
      },
      () => this.endConnect(name),
    );
  }

  /** @internal Disconnects every socket of this connection, then closes it. */
  _disconnect(): void {
    for (const socket of this.everySocket()) socket.disconnect();
    this.clearSockets();
    this.displaced = undefined;
    this.close();
  }

  /** @internal Forgets a socket that left its namespace. */
  _remove(socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>): void {
    if (this.socketOf(socket.nsp.name) === socket) {
      this.deleteSocket(socket.nsp.name);
    } else if (this.displaced) {
      const index = this.displaced.indexOf(socket);
      if (index !== -1) this.displaced.splice(index, 1);
    }
  }

  private socketOf(
    name: string,
  ): Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData> | undefined {
    return name === this.firstNsp ? this.firstSocket : this.otherNsps?.get(name);
  }

  private setSocket(
    name: string,
    socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
  ): void {
    if (this.otherNsps?.has(name) || (this.firstNsp !== undefined && this.firstNsp !== name)) {
      (this.otherNsps ??= new Map()).set(name, socket);
    } else {
      this.firstNsp = name;
      this.firstSocket = socket;
    }
  }

  private deleteSocket(name: string): void {
    if (name === this.firstNsp) {
      this.firstNsp = undefined;
      this.firstSocket = undefined;
    } else this.otherNsps?.delete(name);
  }

  private clearSockets(): void {
    this.firstNsp = undefined;
    this.firstSocket = undefined;
    this.otherNsps = undefined;
  }

  private namespaceCount(): number {
    return (this.firstSocket !== undefined ? 1 : 0) + (this.otherNsps?.size ?? 0);
  }

  /** Every socket of this connection (the rare displaced ones included). */
  private everySocket(): Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>[] {
    const sockets = this.firstSocket !== undefined ? [this.firstSocket] : [];
    if (this.otherNsps) for (const socket of this.otherNsps.values()) sockets.push(socket);
    if (this.displaced) sockets.push(...this.displaced);
    return sockets;
  }

  private close(): void {
    this.closeWith("forced server close");
  }

  /** Closes the connection, the sockets learning `reason` (not the engine's own "forced close"). */
  private closeWith(reason: DisconnectReason): void {
    if (this.conn.readyState !== "open") return;
    this._onclose(reason);
    this.conn.close();
  }

  /** @internal Encodes and writes a packet. */
  _packet(packet: Packet, opts: WriteOptions = {}): void {
    if (this.conn.readyState !== "open") return;
    this.writeToEngine(this.server._encode(packet), opts);
  }

  /**
   * Writes encoded packets (strings, buffers or prepared broadcast messages) to the connection. Our
   * namespace calls it for broadcasts (`Namespace.deliver`); socket.io-adapter based adapters call it too.
   */
  writeToEngine(encoded: EncodedPacket | string | Buffer, opts: WriteOptions): void {
    const conn = this.conn;
    if (conn.readyState !== "open") return;
    if (opts.volatile && (!conn.transport.writable || conn.transport.lagging || conn.needsDrain)) {
      debug.enabled && debug("volatile packet dropped for %s", this.id);
      return;
    }
    const compress = opts.compress !== false;
    // one part alone, as socket.io accepts it
    const parts = Array.isArray(encoded)
      ? (encoded as EncodedPacket)
      : [encoded as string | Buffer];
    if (this.ownEngine) {
      const sendOpts = compress ? COMPRESSED : UNCOMPRESSED;
      for (const part of parts) conn.write(part, sendOpts);
    } else {
      // typed as ours, but bound from elsewhere (`io.bind(engine)`)
      const foreign = conn as { write(data: unknown, opts: { compress: boolean }): unknown };
      for (const part of parts) foreign.write(part, { compress });
    }
  }

  /** @internal An engine message: decoded whole, then its packets handled. */
  _ondata(data: unknown): void {
    try {
      const decoder = this.decoder;
      const shared = this.server._sharedDecoder;
      if (decoder === undefined) {
        this.decoder = (shared as Decoder)._decodeFor(this, data as string | Buffer);
      } else {
        (decoder as { add(chunk: unknown): void }).add(data);
        // the binary packet is complete: back to the shared decoder
        if (shared !== undefined && !(decoder as Decoder)._waiting) this.decoder = undefined;
      }
    } catch (err) {
      this.decoded = undefined;
      debug("invalid packet from %s: %s", this.id, (err as Error).message);
      this.onParseError(err as Error);
      return;
    }
    // Packets are handled once decoding is over, so that an error thrown by application code (an ack
    // callback, a packet middleware) is never taken for a malformed packet.
    const decoded = this.decoded;
    if (decoded === undefined) return;
    this.decoded = undefined;
    if (Array.isArray(decoded)) for (const packet of decoded) this.handle(packet);
    else this.handle(decoded);
  }

  /** @internal One packet out of the decoder, kept until the message is fully decoded. */
  _ondecoded(packet: Packet): void {
    const pending = this.decoded;
    if (pending === undefined) this.decoded = packet;
    else if (Array.isArray(pending)) pending.push(packet);
    else this.decoded = [pending, packet];
  }

  private handle(packet: Packet): void {
    if (this.closed) return;
    if (this.bucket !== undefined && !this.bucket.take()) {
      this.onRateLimited();
      return;
    }
    if (this.conn.protocol === 3 && packet.nsp.includes("?")) {
      this.handleWithQuery(packet);
      return;
    }
    const socket = this.socketOf(packet.nsp);
    if (!socket && packet.type === PacketType.CONNECT) {
      this.connect(packet.nsp, (packet.data as Record<string, unknown> | undefined) ?? {});
    } else if (
      socket &&
      packet.type !== PacketType.CONNECT &&
      packet.type !== PacketType.CONNECT_ERROR
    ) {
      socket._onpacket(packet);
    } else {
      debug("invalid state for packet type %d (%s) on %s", packet.type, packet.nsp, this.id);
      this.close();
    }
  }

  /**
   * Socket.IO protocol 4 (v2 clients): a namespace may carry a query string (`/admin?token=abc`), which is the
   * socket's `handshake.auth` when the packet is a CONNECT (a null-prototype object, the last of a repeated key).
   */
  private handleWithQuery(packet: Packet): void {
    const url = new URL(packet.nsp, "https://socket.io");
    const auth = Object.create(null) as Record<string, unknown>;
    for (const [key, value] of url.searchParams) auth[key] = value;
    const name = url.pathname;
    const socket = this.socketOf(name);
    if (!socket && packet.type === PacketType.CONNECT) this.connect(name, auth);
    else if (
      socket &&
      packet.type !== PacketType.CONNECT &&
      packet.type !== PacketType.CONNECT_ERROR
    ) {
      packet.nsp = name;
      socket._onpacket(packet);
    } else {
      debug("invalid state for packet type %d (%s) on %s", packet.type, packet.nsp, this.id);
      this.close();
    }
  }

  /** A packet over `packetRateLimit`: dropped, or the connection closes ("rate limit exceeded"). */
  private onRateLimited(): void {
    if (this.server._limits.packetRateLimit?.onLimit !== "disconnect") {
      debug.enabled && debug("packet over the rate limit dropped for %s", this.id);
      return;
    }
    debug("rate limit exceeded by %s, closing", this.id);
    for (const socket of this.everySocket()) {
      this._packet({ type: PacketType.DISCONNECT, nsp: socket.nsp.name });
    }
    this.closeWith("rate limit exceeded");
  }

  /** A malformed packet: the sockets' error listeners hear it, and the connection closes as `parse error`. */
  private onParseError(err: Error): void {
    for (const socket of this.everySocket()) {
      if (socket.listenerCount("error") > 0) socket._onerror(err);
    }
    this.closeWith("parse error");
  }

  /** @internal A transport error: the sockets hear it and the connection closes. */
  _onerror(err: Error): void {
    for (const socket of this.everySocket()) socket._onerror(err);
    this.conn.close();
  }

  /** @internal The send buffer is back under its high-water mark: every socket emits `drain`. */
  _ondrain(): void {
    for (const socket of this.everySocket()) socket._ondrain();
  }

  /** @internal The connection closed: every socket of it leaves with `reason`. */
  _onclose(reason: DisconnectReason, description?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    debug.enabled && debug("client %s closed: %s", this.id, reason);
    for (const socket of this.everySocket()) socket._onclose(reason, description);
    this.clearSockets();
    this.displaced = undefined;
    this.decoder?.destroy();
    this.decoder = undefined;
    if (this.connectTimer) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
  }
}

const kClient = Symbol("switchyard.client");

interface Owned {
  [kClient]: Client;
}

function onDecoded(this: Owned, packet: Packet): void {
  this[kClient]._ondecoded(packet);
}

function onData(this: Owned, data: unknown): void {
  this[kClient]._ondata(data);
}

function onError(this: Owned, err: Error): void {
  this[kClient]._onerror(err);
}

function onClose(this: Owned, reason: DisconnectReason, description?: unknown): void {
  this[kClient]._onclose(reason, description);
}

function onBufferDrain(this: Owned): void {
  this[kClient]._ondrain();
}

function onConnectTimeout(client: Client): void {
  client._onConnectTimeout();
}
