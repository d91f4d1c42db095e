/**
 * Socket: one Engine.IO session (engine.io's `Socket`, `socket.conn` in Socket.IO). It owns the current
 * transport, the write buffer and the readyState machine (opening → open → closing → closed), and takes part in
 * the server's shared heartbeat (see heartbeat.ts) and, while polling, in at most one upgrade (see upgrade.ts).
 */
import { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import createDebug from "debug";
import { channels } from "../diagnostics";
import { type Heartbeat, type HeartbeatNode, ListId } from "./heartbeat";
import type { Packet, PacketOptions, PacketType, RawData } from "./packet";
import { PreparedMessage } from "./prepared";
import { EIO4, type EngineProtocol, type ProtocolVersion } from "./protocol";
import { PacketSpill } from "./packet-spill";
import { packetSize, SEND_BUFFER_OVERFLOW } from "./send-buffer";
import type { Server } from "./server";
import type { SendCallback, Transport } from "./transports/transport";
import { Upgrade } from "./upgrade";

const debug = createDebug("switchyard:engine:socket");

export type ReadyState = "opening" | "open" | "closing" | "closed";

export type CloseReason =
  | "transport error"
  | "transport close"
  | "forced close"
  | "ping timeout"
  | "parse error"
  | typeof SEND_BUFFER_OVERFLOW;

export type SendOptions = PacketOptions;

/** What `send()` accepts: a string, binary data, or a message prepared once for many targets. */
export type MessageData = RawData | PreparedMessage | ArrayBuffer | ArrayBufferView;

const DEFAULT_OPTIONS: PacketOptions = Object.freeze({ compress: true });

/**
 * @internal The layer above (the Socket.IO client of this connection), called directly before the `data`,
 * `close` and `bufferDrain` events: the same order as a listener registered first, without a listener entry
 * (and the dictionary V8 makes of a listener map) per connection.
 */
export interface SessionConsumer {
  _ondata(data: RawData | undefined): void;
  _onclose(reason: CloseReason, description?: unknown): void;
  _ondrain(): void;
}

// The Socket is a TransportOwner, a HeartbeatNode and a HeartbeatSession, checked where it is passed as one: those
// members are internal and left out of the published types, so no `implements` clause names them.
export class Socket extends EventEmitter {
  /** The session id (engine `sid`). */
  readonly id: string;
  readonly server: Server;
  /**
   * The request that opened the session. An application may set it to null once the connection arrived, to free
   * the request's memory: the Socket.IO layer reads it through here (`socket.request` is then null too) and took
   * what `socket.handshake` shows beforehand.
   */
  request: IncomingMessage;
  /** The Engine.IO protocol revision this session speaks, chosen at the handshake. */
  readonly protocol: ProtocolVersion;
  /** @internal The codec and heartbeat strategy of `protocol`. */
  readonly engineProtocol: EngineProtocol;
  readonly remoteAddress: string;
  readyState: ReadyState = "opening";
  transport: Transport;
  /** Whether the session moved from polling to WebSocket. */
  upgraded = false;
  /**
   * Packets waiting for the transport to become writable. Once the session lags (past `sendBufferHighWaterMark`)
   * further packets go to `spilled` instead, off the heap (packet-spill.ts), and follow these.
   */
  writeBuffer: Packet[] = [];
  /** Packets queued while the session lags, as bytes; null while nothing is spilled. */
  private spilled: PacketSpill | null = null;
  private packetsFn: SendCallback[] | null = null;
  /** Bytes of the packets in `writeBuffer` and `spilled` (see send-buffer.ts). */
  private queuedBytes = 0;
  /** Set once the buffer passed `sendBufferHighWaterMark`; cleared (with `bufferDrain`) when back under it. */
  private overHighWaterMark = false;
  private upgradeState: Upgrade | null = null;
  private consumer: SessionConsumer | null = null;
  /** The pong deadline was extended by other traffic (always true where the protocol has no such rule). */
  private pongRefreshed: boolean;
  /** @internal heartbeat links */
  hbPrev: HeartbeatNode | null = null;
  /** @internal */
  hbNext: HeartbeatNode | null = null;
  /** @internal */
  hbDue = 0;
  /** @internal */
  hbList = ListId.NONE;

  constructor(
    id: string,
    server: Server,
    transport: Transport,
    req: IncomingMessage,
    protocol: EngineProtocol = EIO4,
  ) {
    super();
    this.id = id;
    this.engineProtocol = protocol;
    this.protocol = protocol.version;
    this.pongRefreshed = !protocol.heartbeat.trafficExtendsDeadline;
    this.server = server;
    this.request = req;
    this.remoteAddress =
      (transport as { remoteAddress?: string }).remoteAddress ?? req.socket?.remoteAddress ?? "";
    this.transport = transport;
    transport.setOwner(this);
    this.onOpen();
  }

  /** Bytes waiting to reach the peer: queued packets plus what the transport holds unwritten. */
  get bufferedAmount(): number {
    return this.queuedBytes + this.transport.bufferedAmount;
  }

  /**
   * Whether the send buffer is past `sendBufferHighWaterMark`: the Socket.IO layer's `emit()` returns false and
   * volatile packets are dropped until `bufferDrain`.
   */
  get needsDrain(): boolean {
    return this.overHighWaterMark;
  }

  /** @internal Sets the layer above, which hears data, close and bufferDrain before any listener. */
  _setConsumer(consumer: SessionConsumer): void {
    this.consumer = consumer;
  }

  /** Whether an upgrade is in progress. */
  get upgrading(): boolean {
    return this.upgradeState !== null;
  }

  private onOpen(): void {
    this.readyState = "open";
    this.transport.sid = this.id;
    this.sendPacket("open", this.server._openPacket(this.id, this.transport.name));
    const initial = this.server.opts.initialPacket;
    if (initial !== undefined) this.sendPacket("message", initial);
    this.emit("open");
    this.engineProtocol.heartbeat.start(this);
  }

  /** Sends a message. `data` may be a {@link PreparedMessage} built once for many targets. */
  send(data: MessageData, options?: SendOptions | SendCallback, callback?: SendCallback): this {
    this.sendPacket("message", data, options, callback);
    return this;
  }

  /** Alias of {@link send}. */
  write(data: MessageData, options?: SendOptions | SendCallback, callback?: SendCallback): this {
    this.sendPacket("message", data, options, callback);
    return this;
  }

  /** Queues a packet and flushes if the transport is writable. */
  sendPacket(
    type: PacketType,
    data?: MessageData,
    options?: SendOptions | SendCallback,
    callback?: SendCallback,
  ): void {
    if (typeof options === "function") {
      callback = options;
      options = undefined;
    }
    if (this.readyState === "closing" || this.readyState === "closed") return;
    const packet: Packet = {
      type,
      data: undefined,
      options: options === undefined ? DEFAULT_OPTIONS : options,
      prepared: undefined,
    };
    if (data instanceof PreparedMessage) {
      packet.data = data.data;
      packet.prepared = data;
    } else if (data !== undefined && data !== "") {
      packet.data = toRawData(data);
    }
    this.emit("packetCreate", packet);
    if (this.spilled !== null) this.queuedBytes += this.spilled.push(packet);
    else if (this.overHighWaterMark && !this.transport.writable && this.canSpill()) {
      this.spilled = new PacketSpill();
      this.queuedBytes += this.spilled.push(packet);
    } else {
      this.writeBuffer.push(packet);
      this.queuedBytes += packetSize(packet);
    }
    if (typeof callback === "function") (this.packetsFn ??= []).push(callback);
    this.flush();
    // the peer is not keeping up (or polling between requests): look at the bound
    if (!this.transport.writable || this.transport.lagging) this.checkSendBuffer();
  }

  /**
   * Whether a lagging session may keep its queue as bytes: its protocol is revision 4 (whose packets the records
   * hold), and nothing asks for the queued packets as objects on every flush (`flush` listeners, the
   * `enginePacketOut` diagnostics channel).
   */
  private canSpill(): boolean {
    return (
      this.engineProtocol === EIO4 &&
      !channels.enginePacketOut.hasSubscribers &&
      this.listenerCount("flush") === 0 &&
      this.server.listenerCount("flush") === 0
    );
  }

  private checkSendBuffer(): void {
    const buffered = this.bufferedAmount;
    const opts = this.server.opts;
    if (buffered > opts.maxSendBufferBytes) {
      this.overflow(buffered);
      return;
    }
    if (!this.overHighWaterMark && buffered > opts.sendBufferHighWaterMark) {
      this.overHighWaterMark = true;
    }
  }

  /**
   * The send buffer passed `maxSendBufferBytes`: everything buffered is dropped and the session closes. The
   * close itself waits for the next tick: this may run in the middle of a broadcast's loop over its targets.
   */
  private overflow(buffered: number): void {
    debug("%s: send buffer overflow (%d bytes), closing", this.id, buffered);
    this.readyState = "closing";
    this.writeBuffer = [];
    this.spilled = null;
    this.queuedBytes = 0;
    this.packetsFn = null;
    // detached first: a transport that closes at once (polling between requests) would report "transport close"
    const transport = this.transport;
    transport.discard();
    transport.setOwner(null);
    transport.terminate();
    process.nextTick(closeOverflowing, this);
  }

  /** @internal */
  _clearWriteBuffer(): void {
    this.writeBuffer = [];
    this.spilled = null;
  }

  /** @internal */
  _closeOverflowing(): void {
    this.onClose(SEND_BUFFER_OVERFLOW);
  }

  /** Writes the buffered packets if the transport can take them. */
  flush(): void {
    if (this.readyState === "closed" || !this.transport.writable) return;
    const spilled = this.spilled;
    if (this.writeBuffer.length === 0 && spilled === null) return;
    const buffer = this.writeBuffer;
    this.emit("flush", buffer);
    this.server.emit("flush", this, buffer);
    this.writeBuffer = [];
    this.spilled = null;
    this.queuedBytes = 0;
    if (channels.enginePacketOut.hasSubscribers) {
      channels.enginePacketOut.publish({ socket: this, packets: buffer });
    }
    const counter = this.server._trafficCounter;
    if (counter !== undefined) {
      counter.countOut(this.transport.name, buffer);
      if (spilled !== null) spilled.countOut(counter, this.transport.name);
    }
    const callbacks = this.packetsFn;
    this.packetsFn = null;
    this.transport.send(buffer, callbacks, spilled);
    this.emit("drain");
    this.server.emit("drain", this);
  }

  /** The upgrades the client may try from the current transport. */
  getAvailableUpgrades(): string[] {
    return this.server._upgradesFrom(this.transport.name);
  }

  /**
   * Closes the session: waits for the write buffer to drain (unless `discard`), then closes the transport;
   * the `close` event follows with reason "forced close".
   */
  close(discard?: boolean): void {
    if (discard && (this.readyState === "open" || this.readyState === "closing")) {
      this.closeTransport(true);
      return;
    }
    if (this.readyState !== "open") return;
    this.readyState = "closing";
    if (this.writeBuffer.length > 0 || this.spilled !== null) {
      debug("%s: waiting for %d buffered bytes before closing", this.id, this.queuedBytes);
      this.once("drain", () => this.closeTransport(false));
      return;
    }
    this.closeTransport(false);
  }

  private closeTransport(discard: boolean): void {
    if (discard) this.transport.discard();
    this.transport.close(() => this.onClose("forced close"));
  }

  // ---- transport events ----

  /** @internal */
  onTransportPacket(transport: Transport, packet: Packet): void {
    if (transport !== this.transport || this.readyState !== "open") return;
    debug.enabled && debug("%s: received %s", this.id, packet.type);
    if (channels.enginePacketIn.hasSubscribers)
      channels.enginePacketIn.publish({ socket: this, packet });
    const counter = this.server._trafficCounter;
    if (counter !== undefined) counter.countIn(transport.name, packet);
    this.emit("packet", packet);
    if (this.hbList === ListId.PONG && !this.pongRefreshed && packet.type !== "pong") {
      // incoming traffic shows the peer is alive: extend the pong deadline once per ping
      this.pongRefreshed = true;
      this.heartbeat.awaitPong(this);
    }
    switch (packet.type) {
      case "ping":
        this.engineProtocol.heartbeat.onPing(this, packet);
        break;
      case "pong":
        this.engineProtocol.heartbeat.onPong(this, packet);
        break;
      case "error":
        this.onClose("parse error");
        break;
      case "message":
        this.consumer?._ondata(packet.data);
        this.emit("data", packet.data);
        this.emit("message", packet.data);
        break;
      default:
        break;
    }
  }

  /** @internal */
  onTransportError(transport: Transport, err: Error): void {
    if (transport === this.transport) this.onClose("transport error", err);
  }

  /** @internal */
  onTransportClose(transport: Transport): void {
    if (transport === this.transport) this.onClose("transport close");
  }

  /** @internal */
  onTransportReady(transport: Transport): void {
    if (transport !== this.transport) return;
    this.flush();
    if (this.overHighWaterMark && this.bufferedAmount <= this.server.opts.sendBufferHighWaterMark) {
      this.overHighWaterMark = false;
      this.consumer?._ondrain();
      this.emit("bufferDrain");
    }
    this.upgradeState?.onPollingReady();
  }

  // ---- heartbeat (the strategy of the session's protocol drives these) ----

  /** @internal */
  get heartbeatNode(): HeartbeatNode {
    return this;
  }

  /** @internal */
  get heartbeat(): Heartbeat {
    return this.server._heartbeatFor(this.engineProtocol);
  }

  /** @internal */
  heartbeatFailed(err: Error): void {
    this.onClose("transport error", err);
  }

  /** @internal */
  heartbeatReceived(): void {
    this.emit("heartbeat");
  }

  /** @internal */
  onPingDue(): void {
    if (this.readyState !== "open" && this.readyState !== "closing") return;
    this.pongRefreshed = false;
    this.sendPacket("ping");
    if ((this.readyState as ReadyState) !== "closed") this.heartbeat.awaitPong(this);
  }

  /** @internal */
  onPongOverdue(): void {
    if (this.readyState !== "closed") this.onClose("ping timeout");
  }

  // ---- upgrade ----

  /** @internal Starts probing a WebSocket for this polling session. */
  _maybeUpgrade(transport: Transport): void {
    this.upgradeState = new Upgrade(this, transport, this.server.opts.upgradeTimeout);
  }

  /** @internal The upgrade state machine reached DONE: switch to its transport. */
  _completeUpgrade(upgrade: Upgrade): void {
    this.upgradeState = null;
    const previous = this.transport;
    const next = upgrade.transport;
    previous.discard();
    this.upgraded = true;
    previous.setOwner(null);
    previous.close();
    this.transport = next;
    next.sid = this.id;
    next.setOwner(this);
    if (channels.engineUpgrade.hasSubscribers) {
      channels.engineUpgrade.publish({ socket: this, from: previous.name, to: next.name });
    }
    this.emit("upgrade", next);
    this.flush();
    if (this.readyState === "closing") next.close(() => this.onClose("forced close"));
  }

  /** @internal The upgrade was aborted. */
  _upgradeEnded(upgrade: Upgrade): void {
    if (this.upgradeState === upgrade) this.upgradeState = null;
  }

  private onClose(reason: CloseReason, description?: unknown): void {
    if (this.readyState === "closed") return;
    this.readyState = "closed";
    debug("%s closed: %s", this.id, reason);
    this.heartbeat.remove(this);
    this.upgradeState?.abort();
    // the buffer stays readable in `close` listeners; it is dropped on the next tick
    process.nextTick(clearWriteBuffer, this);
    this.packetsFn = null;
    const transport = this.transport;
    transport.setOwner(null);
    transport.close();
    this.server._removeSession(this);
    if (channels.engineClose.hasSubscribers) {
      channels.engineClose.publish({ socket: this, reason, transport: transport.name });
    }
    this.consumer?._onclose(reason, description);
    this.emit("close", reason, description);
  }
}

function clearWriteBuffer(socket: Socket): void {
  socket._clearWriteBuffer();
}

function closeOverflowing(socket: Socket): void {
  socket._closeOverflowing();
}

function toRawData(data: RawData | ArrayBuffer | ArrayBufferView): RawData {
  if (typeof data === "string" || Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
