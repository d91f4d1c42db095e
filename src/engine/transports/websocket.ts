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
import { writeFrameHeader } from "../frame";
import { type PacketSpill, RECORD_BINARY, RECORD_NO_COMPRESS } from "../packet-spill";
import { linkWebSocket, writeFrame } from "../ws-internals";
import { Spill, SPILL_COPY_MAX } from "./spill";
import { runCallbacks, type SendCallback, Transport } from "./transport";

const debug = createDebug("switchyard:engine:ws");

const kTransport = Symbol("switchyard:transport");

/** The transport, found from a `ws` WebSocket by the shared listeners. */
interface Tagged {
  [kTransport]?: WebSocketTransport;
}

/**
 * Backpressure through ws (perMessageDeflate, or no `_socket`): unwritable while ws holds at least this many bytes
 * (its `bufferedAmount`: messages waiting to be compressed plus the socket's unwritten bytes).
 */
const WS_HIGH_WATER = 16 * 1024;

const COMPRESS = Object.freeze({ compress: true });
const NO_COMPRESS = Object.freeze({ compress: false });
/** ws.send() options for a spilled record (its payload is a Buffer: the frame type must be given). */
const TEXT_COMPRESS = Object.freeze({ binary: false, compress: true });
const TEXT_NO_COMPRESS = Object.freeze({ binary: false, compress: false });
const BINARY_COMPRESS = Object.freeze({ binary: true, compress: true });
const BINARY_NO_COMPRESS = Object.freeze({ binary: true, compress: false });

/** A frame header being built (copied into the spill at once). */
const frameHead = Buffer.alloc(10);

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
  /**
   * Through ws: the records of a session's spilled packets not yet handed to ws, handed over as ws writes what it
   * holds (the transport is unwritable meanwhile), and what runs once the last one is written.
   */
  private pending: PacketSpill | null = null;
  private pendingDone: ((err?: Error | null) => void) | undefined = undefined;

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

  send(
    packets: Packet[],
    callbacks?: readonly SendCallback[] | null,
    spilled?: PacketSpill | null,
  ): void {
    if (this.socket.readyState !== 1 /* OPEN */) {
      debug("send on a websocket that is not open, %d packets dropped", packets.length);
      return;
    }
    const tail = spilled !== undefined && spilled !== null && spilled.count > 0 ? spilled : null;
    const raw = this.raw;
    if (raw === null || !this.preFramed) {
      if (raw !== null) this.cork(raw);
      this.sendThroughWs(packets, callbacks, tail);
      return;
    }
    this.cork(raw);
    const last = packets.length - 1;
    for (let i = 0; i <= last; i++) {
      const done =
        i === last && tail === null && callbacks ? this.completion(callbacks) : undefined;
      this.write(raw, packets[i] as Packet, done);
    }
    if (tail !== null)
      this.writeSpilled(raw, tail, callbacks ? this.completion(callbacks) : undefined);
    if (!this.spilling && raw.writableNeedDrain) this.startSpilling(raw);
  }

  /**
   * Pre-framed: a session's spilled packets (queued while it was polling, before the upgrade) framed into the
   * spill's chunks, record by record; the chunks go to the socket as they fill.
   */
  private writeSpilled(
    raw: NetSocket,
    tail: PacketSpill,
    done?: (err?: Error | null) => void,
  ): void {
    while (tail.next()) {
      const payload = tail.payload;
      const headLength = writeFrameHeader(
        frameHead,
        (tail.flags & RECORD_BINARY) !== 0,
        payload.length,
      );
      this.spill.append(raw, frameHead.subarray(0, headLength));
      this.spill.append(raw, payload, tail.count === 0 ? done : undefined);
    }
    if (!this.spilling) this.spill.release(raw);
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
   * perMessageDeflate, or no underlying socket: every packet through `ws.send()`. Backpressure from ws's
   * `bufferedAmount`, which counts the messages waiting for compression too (they are not in the socket yet): the
   * transport is unwritable from when it reaches the high-water mark until the last message handed over is written.
   * A session's spilled packets are handed over record by record while ws holds less than the mark, the rest as
   * it writes (`pump`).
   */
  private sendThroughWs(
    packets: Packet[],
    callbacks: readonly SendCallback[] | null | undefined,
    tail: PacketSpill | null,
  ): void {
    const last = packets.length - 1;
    const done = callbacks ? this.completion(callbacks) : undefined;
    if (tail === null) {
      if (last < 0) return;
      for (let i = 0; i < last; i++) this.sendData(packets[i] as Packet);
      this.sendData(packets[last] as Packet, this.lastCallback(done));
      return;
    }
    for (let i = 0; i <= last; i++) this.sendData(packets[i] as Packet);
    this.pending = tail;
    this.pendingDone = done;
    this.pump();
  }

  /** Hands pending records to ws until it holds its high-water mark (then waits for that record's write). */
  private pump(): void {
    const tail = this.pending as PacketSpill;
    const ws = this.socket;
    while (tail.next()) {
      if (tail.count === 0) {
        const done = this.pendingDone;
        this.pending = null;
        this.pendingDone = undefined;
        this.sendRecord(tail, this.lastCallback(done));
        return;
      }
      if (this.wsBuffered() >= WS_HIGH_WATER) {
        this.writable = false;
        this.sendRecord(tail, (err) => {
          if (err || this.readyState !== "open" || ws.readyState !== 1 /* OPEN */) return;
          if (this.pending === tail) this.pump();
        });
        return;
      }
      this.sendRecord(tail);
    }
  }

  /**
   * The callback of the last message of a write: `done` as it is while ws holds less than its high-water mark and
   * nothing was pending; otherwise the transport is unwritable until this message is written.
   */
  private lastCallback(
    done?: (err?: Error | null) => void,
  ): ((err?: Error | null) => void) | undefined {
    if (this.writable && this.wsBuffered() < WS_HIGH_WATER) return done;
    this.writable = false;
    const ws = this.socket;
    return (err) => {
      done?.(err);
      if (this.writable || this.readyState !== "open" || ws.readyState !== 1 /* OPEN */) return;
      this.writable = true;
      this.owner?.onTransportReady(this);
    };
  }

  /** What ws holds (a WebSocket engine without `bufferedAmount` counts as full: every write is awaited). */
  private wsBuffered(): number {
    const buffered = this.socket.bufferedAmount;
    return typeof buffered === "number" ? buffered : Infinity;
  }

  /** The record `tail` just read, as one message. */
  private sendRecord(tail: PacketSpill, done?: (err?: Error | null) => void): void {
    const flags = tail.flags;
    const options =
      flags & RECORD_BINARY
        ? flags & RECORD_NO_COMPRESS
          ? BINARY_NO_COMPRESS
          : BINARY_COMPRESS
        : flags & RECORD_NO_COMPRESS
          ? TEXT_NO_COMPRESS
          : TEXT_COMPRESS;
    this.socket.send(tail.payload, options, done);
  }

  private sendData(packet: Packet, done?: (err?: Error | null) => void): void {
    const prepared = packet.prepared;
    const data =
      prepared !== undefined
        ? prepared.wsDataFor(this.protocol)
        : this.protocol.encodeForWebSocket(packet);
    this.socket.send(data, packet.options?.compress === false ? NO_COMPRESS : COMPRESS, done);
  }

  private write(raw: NetSocket, packet: Packet, done?: (err?: Error | null) => void): void {
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
    const pending = this.pending === null ? 0 : this.pending.bytes;
    return this.preFramed
      ? (this.raw as NetSocket).writableLength + this.spill.length
      : this.socket.bufferedAmount + pending;
  }

  override terminate(): void {
    if (this.readyState !== "open") return;
    this.readyState = "closing";
    this.spill.clear();
    this.pending?.clear();
    this.pending = null;
    this.socket.terminate();
  }

  protected doClose(fn?: () => void): void {
    // the spilled frames, and the records not yet handed to ws, go before ws's close frame
    if (this.raw !== null && this.preFramed) this.spill.release(this.raw);
    const pending = this.pending;
    if (pending !== null) {
      const done = this.pendingDone;
      this.pending = null;
      this.pendingDone = undefined;
      while (pending.next()) this.sendRecord(pending, pending.count === 0 ? done : undefined);
    }
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
    this.pending = null;
    this.pendingDone = undefined;
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
