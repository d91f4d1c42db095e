/**
 * The WebSocket transport, on top of a `ws` connection: one packet per message, text frames for typed packets,
 * binary frames for binary messages.
 *
 * Write batching: every write goes to a corked socket, and one process-wide `process.nextTick` uncorks every
 * socket written to during the current tick. Several packets sent to one connection within a tick thus leave in a
 * single `writev`, and a broadcast to N connections costs one scheduled callback, not N.
 *
 * Pre-built frames: when `perMessageDeflate` is off, a packet that carries a {@link PreparedMessage} (or an
 * engine.io-style `options.wsPreEncodedFrame`) is written as its finished frame through ws's `sendFrame`, so a
 * broadcast is framed once for all its targets.
 */
import type { Socket as NetSocket } from "node:net";
import type { Duplex } from "node:stream";
import type { WebSocket as WsSocket } from "ws";
import createDebug from "debug";
import { decodeText, encodeForWebSocket, type Packet } from "../packet";
import { runCallbacks, type SendCallback, Transport } from "./transport";

const debug = createDebug("switchyard:engine:ws");

const kTransport = Symbol("switchyard:transport");

/** The parts of a `ws` WebSocket that are not in its typings. */
interface WsInternals {
  _sender?: { sendFrame?(list: readonly Buffer[], cb?: (err?: Error | null) => void): void } | null;
  _socket?: NetSocket | null;
  [kTransport]?: WebSocketTransport;
}

const COMPRESS = Object.freeze({ compress: true });
const NO_COMPRESS = Object.freeze({ compress: false });

let corked: WebSocketTransport[] = [];
let corkedRaw: Duplex[] = [];
let uncorkScheduled = false;

function uncorkAll(): void {
  uncorkScheduled = false;
  const list = corked;
  corked = [];
  for (let i = 0; i < list.length; i++) (list[i] as WebSocketTransport).uncork();
  if (corkedRaw.length > 0) {
    const raw = corkedRaw;
    corkedRaw = [];
    for (let i = 0; i < raw.length; i++) (raw[i] as Duplex).uncork();
  }
}

function scheduleUncork(): void {
  if (!uncorkScheduled) {
    uncorkScheduled = true;
    process.nextTick(uncorkAll);
  }
}

/**
 * Corks an upgrade socket until the end of the tick, so that the 101 response and the first packets of the
 * session (the open packet...) leave in one write.
 */
export function corkUpgradeSocket(socket: Duplex): void {
  socket.cork();
  corkedRaw.push(socket);
  scheduleUncork();
}

export class WebSocketTransport extends Transport {
  readonly name = "websocket";
  /** The `ws` connection. */
  readonly socket: WsSocket;
  private readonly raw: NetSocket | null;
  private readonly sender: WsInternals["_sender"];
  private readonly preFramed: boolean;
  private corked = false;

  constructor(ws: WsSocket, perMessageDeflate: boolean) {
    super();
    this.socket = ws;
    const internals = ws as unknown as WsInternals;
    this.raw = internals._socket ?? null;
    this.sender = internals._sender;
    this.preFramed = !perMessageDeflate && typeof this.sender?.sendFrame === "function";
    this.writable = true;
    internals[kTransport] = this;
    ws.on("message", wsOnMessage);
    ws.on("close", wsOnClose);
    ws.on("error", wsOnError);
  }

  override get handlesUpgrades(): boolean {
    return true;
  }

  /** The peer's address, from the connection's socket. */
  get remoteAddress(): string | undefined {
    return this.raw?.remoteAddress;
  }

  send(packets: Packet[], callbacks?: readonly SendCallback[] | null): void {
    if (this.socket.readyState !== 1 /* OPEN */) {
      debug("send on a websocket that is not open, %d packets dropped", packets.length);
      return;
    }
    this.cork();
    const last = packets.length - 1;
    for (let i = 0; i <= last; i++) {
      const done = i === last && callbacks ? this.completion(callbacks) : undefined;
      this.write(packets[i] as Packet, done);
    }
    const raw = this.raw;
    if (raw !== null && raw.writableNeedDrain) this.awaitDrain(raw);
  }

  /**
   * Backpressure: while the socket holds more than its high-water mark, the transport is not writable, so
   * the session keeps packets in its own buffer and volatile packets are dropped, until the socket drains.
   * (socket.io's transport is unwritable during every single write; this one only when the peer lags.)
   */
  private awaitDrain(raw: NetSocket): void {
    if (!this.writable) return;
    this.writable = false;
    raw.once("drain", () => {
      if (this.readyState !== "open" || this.socket.readyState !== 1 /* OPEN */) return;
      this.writable = true;
      this.owner?.onTransportReady(this);
    });
  }

  private write(packet: Packet, done?: (err?: Error | null) => void): void {
    const prepared = packet.prepared;
    if (this.preFramed) {
      const frame = prepared !== undefined ? prepared.wsFrame : packet.options?.wsPreEncodedFrame;
      if (frame !== undefined) {
        this.sender?.sendFrame?.(frame, done);
        return;
      }
      const raw = this.raw;
      if (raw !== null && prepared === undefined) {
        // one buffer per frame: a lone frame leaves in a plain write, not a writev of header and payload
        const single = frameSingle(packet);
        if (single !== null) {
          raw.write(single, done);
          return;
        }
      }
    }
    const data = prepared !== undefined ? prepared.wsData : encodeForWebSocket(packet);
    this.socket.send(data, packet.options?.compress === false ? NO_COMPRESS : COMPRESS, done);
  }

  private completion(callbacks: readonly SendCallback[]): (err?: Error | null) => void {
    return (err) => {
      if (err) this.onError("write error", err.stack);
      else runCallbacks(this, callbacks);
    };
  }

  private cork(): void {
    if (this.corked || this.raw === null) return;
    this.corked = true;
    this.raw.cork();
    corked.push(this);
    scheduleUncork();
  }

  /** @internal */
  uncork(): void {
    this.corked = false;
    this.raw?.uncork();
  }

  protected doClose(fn?: () => void): void {
    this.socket.close();
    fn?.();
  }

  /** @internal */
  receive(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (isBinary) {
      const bytes = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      this.onPacket({ type: "message", data: bytes });
    } else {
      this.onPacket(decodeText(data.toString()));
    }
  }

  /** @internal */
  closed(): void {
    this.onClose();
  }

  /** @internal */
  failed(err: Error): void {
    this.onError(err.message, err);
  }
}

/** Frames up to this payload size are built in one buffer; larger ones are left to ws (no copy of the payload). */
const MAX_SINGLE_FRAME = 16 * 1024;

/** The complete unmasked, uncompressed frame of a packet in one buffer, or null when the payload is large. */
function frameSingle(packet: Packet): Buffer | null {
  const data = packet.data;
  if (data === undefined || typeof data === "string") {
    const typeChar = TYPE_CODES[packet.type];
    const textLength = data === undefined ? 0 : Buffer.byteLength(data);
    const length = (typeChar === 0 ? 0 : 1) + textLength;
    if (length > MAX_SINGLE_FRAME) return null;
    const header = length < 126 ? 2 : 4;
    const frame = Buffer.allocUnsafe(header + length);
    writeHeader(frame, 0x81, length);
    let offset = header;
    if (typeChar !== 0) frame[offset++] = typeChar;
    if (data !== undefined) frame.write(data, offset, textLength, "utf8");
    return frame;
  }
  const length = data.length;
  if (length > MAX_SINGLE_FRAME) return null;
  const header = length < 126 ? 2 : 4;
  const frame = Buffer.allocUnsafe(header + length);
  writeHeader(frame, 0x82, length);
  data.copy(frame, header);
  return frame;
}

/** FIN + opcode, then the 7-bit or 16-bit payload length (no mask). */
function writeHeader(frame: Buffer, first: number, length: number): void {
  frame[0] = first;
  if (length < 126) {
    frame[1] = length;
  } else {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  }
}

/** The packet type as its character code; 0 for "error", which has no type character. */
const TYPE_CODES: Readonly<Record<Packet["type"], number>> = {
  open: 48,
  close: 49,
  ping: 50,
  pong: 51,
  message: 52,
  upgrade: 53,
  noop: 54,
  error: 0,
};

function transportOf(ws: WsSocket): WebSocketTransport | undefined {
  return (ws as unknown as WsInternals)[kTransport];
}

function wsOnMessage(
  this: WsSocket,
  data: Buffer | ArrayBuffer | Buffer[],
  isBinary: boolean,
): void {
  transportOf(this)?.receive(data, isBinary);
}

function wsOnClose(this: WsSocket): void {
  transportOf(this)?.closed();
}

function wsOnError(this: WsSocket, err: Error): void {
  debug.enabled && debug("websocket error: %s", err.message);
  transportOf(this)?.failed(err);
}
