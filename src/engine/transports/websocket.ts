/**
 * The WebSocket transport, on top of a `ws` connection: one packet per message, text frames for typed packets,
 * binary frames for binary messages.
 *
 * Write batching: every write goes to a corked socket, and one process-wide `process.nextTick` uncorks every
 * socket written to during the current tick. Several packets sent to one connection within a tick thus leave in a
 * single `writev`, and a broadcast to N connections costs one scheduled callback, not N.
 *
 * Pre-built frames: when `perMessageDeflate` is off and `ws` offers its socket (ws-internals.ts), every packet
 * is written as a complete frame: a {@link PreparedMessage}'s frame cached per protocol (a broadcast is framed once
 * for all its targets), an engine.io-style `options.wsPreEncodedFrame`, or a frame built by the session's protocol.
 * Otherwise every packet goes through `ws.send()`.
 */
import type { Socket as NetSocket } from "node:net";
import type { Duplex } from "node:stream";
import type { WebSocket as WsSocket } from "ws";
import createDebug from "debug";
import { TransportErrorMessages } from "../errors";
import { frameLength } from "../frame";
import type { Packet } from "../packet";
import type { EngineProtocol } from "../protocol";
import { linkWebSocket, writeFrame } from "../ws-internals";
import { Spill, SPILL_COPY_MAX } from "./spill";
import { runCallbacks, type SendCallback, Transport } from "./transport";

const debug = createDebug("switchyard:engine:ws");

const kTransport = Symbol("switchyard:transport");

/** The transport, found from a `ws` WebSocket by the shared listeners. */
interface Tagged {
  [kTransport]?: WebSocketTransport;
}

/** Fallback backpressure (no `_socket`): unwritable while ws buffers at least this many bytes. */
const FALLBACK_HIGH_WATER = 16 * 1024;

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
  private readonly protocol: EngineProtocol;
  /** Frames are built by the engine and written to `raw` (perMessageDeflate off, `raw` available). */
  private readonly preFramed: boolean;
  private corked = false;
  /** Frames kept off-heap while the peer lags (pre-framed only; see spill.ts). */
  private readonly spill = new Spill();
  /** The network socket is past its high-water mark and frames go to `spill` until it drains. */
  private spilling = false;

  constructor(ws: WsSocket, perMessageDeflate: boolean, protocol: EngineProtocol) {
    super();
    this.socket = ws;
    this.protocol = protocol;
    this.raw = linkWebSocket(ws).raw;
    this.preFramed = !perMessageDeflate && this.raw !== null;
    this.writable = true;
    (ws as unknown as Tagged)[kTransport] = this;
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
    const raw = this.raw;
    if (raw === null) {
      this.sendFallback(packets, callbacks);
      return;
    }
    this.cork(raw);
    const last = packets.length - 1;
    for (let i = 0; i <= last; i++) {
      const done = i === last && callbacks ? this.completion(callbacks) : undefined;
      this.write(raw, packets[i] as Packet, done);
    }
    if (!this.spilling && raw.writableNeedDrain) {
      if (this.preFramed) this.startSpilling(raw);
      else this.awaitDrain(raw);
    }
  }

  override get lagging(): boolean {
    return this.spilling;
  }

  /**
   * Backpressure, pre-framed: the transport stays writable and the session keeps no packets; the frames' bytes
   * go off-heap (spill.ts) until the socket drains, when they are written in order and the session hears of it.
   */
  private startSpilling(raw: NetSocket): void {
    this.spilling = true;
    raw.once("drain", () => {
      this.spilling = false;
      if (this.readyState !== "open" || this.socket.readyState !== 1 /* OPEN */) return;
      this.spill.release(raw);
      if (raw.writableNeedDrain) this.startSpilling(raw);
      else this.owner?.onTransportReady(this);
    });
  }

  /**
   * Without the underlying socket: every packet through `ws.send()`; backpressure from ws's `bufferedAmount`
   * (the transport is unwritable from when it reaches the high-water mark until the last send completes).
   */
  private sendFallback(packets: Packet[], callbacks?: readonly SendCallback[] | null): void {
    const ws = this.socket;
    const last = packets.length - 1;
    for (let i = 0; i < last; i++) this.sendData(packets[i] as Packet);
    const done = callbacks ? this.completion(callbacks) : undefined;
    const buffered = ws.bufferedAmount;
    if (typeof buffered === "number" && buffered < FALLBACK_HIGH_WATER) {
      this.sendData(packets[last] as Packet, done);
      return;
    }
    this.writable = false;
    this.sendData(packets[last] as Packet, (err) => {
      done?.(err);
      if (this.writable || this.readyState !== "open" || ws.readyState !== 1 /* OPEN */) return;
      this.writable = true;
      this.owner?.onTransportReady(this);
    });
  }

  private sendData(packet: Packet, done?: (err?: Error | null) => void): void {
    const prepared = packet.prepared;
    const data =
      prepared !== undefined
        ? prepared.wsDataFor(this.protocol)
        : this.protocol.encodeForWebSocket(packet);
    this.socket.send(data, packet.options?.compress === false ? NO_COMPRESS : COMPRESS, done);
  }

  /**
   * Backpressure, ws framing (perMessageDeflate): while the socket holds more than its high-water mark, the
   * transport is not writable, so the session keeps packets in its own buffer and volatile packets are dropped,
   * until the socket drains.
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

  private write(raw: NetSocket, packet: Packet, done?: (err?: Error | null) => void): void {
    if (!this.preFramed) {
      this.sendData(packet, done);
      return;
    }
    const prepared = packet.prepared;
    // a broadcast's frame is built once for all its targets; a lagging target copies it like its own frames
    const frame =
      (prepared !== undefined
        ? prepared.wsFrameFor(this.protocol)
        : packet.options?.wsPreEncodedFrame) ?? this.protocol.frame(packet);
    if (this.spilling && frameLength(frame) < SPILL_COPY_MAX) {
      this.spill.append(raw, frame, done);
      return;
    }
    if (this.spilling) this.spill.writeTo(raw);
    writeFrame(raw, frame, done);
  }

  private completion(callbacks: readonly SendCallback[]): (err?: Error | null) => void {
    return (err) => {
      if (err) this.onError(TransportErrorMessages.WRITE_ERROR, err.stack);
      else runCallbacks(this, callbacks);
    };
  }

  private cork(raw: NetSocket): void {
    if (this.corked) return;
    this.corked = true;
    raw.cork();
    corked.push(this);
    scheduleUncork();
  }

  /** @internal */
  uncork(): void {
    this.corked = false;
    this.raw?.uncork();
  }

  override get bufferedAmount(): number {
    return this.raw !== null
      ? this.raw.writableLength + this.spill.length
      : this.socket.bufferedAmount;
  }

  override terminate(): void {
    if (this.readyState !== "open") return;
    this.readyState = "closing";
    this.spill.clear();
    this.socket.terminate();
  }

  protected doClose(fn?: () => void): void {
    // the spilled frames go before ws's close frame
    if (this.raw !== null) this.spill.release(this.raw);
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
      this.onPacket(this.protocol.decodeWebSocket(bytes));
    } else {
      this.onPacket(this.protocol.decodeWebSocket(data.toString()));
    }
  }

  /** @internal */
  closed(): void {
    this.spill.clear();
    this.onClose();
  }

  /** @internal */
  failed(err: Error): void {
    this.onError(err.message, err);
  }
}

function transportOf(ws: WsSocket): WebSocketTransport | undefined {
  return (ws as unknown as Tagged)[kTransport];
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
