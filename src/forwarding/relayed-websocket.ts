/**
 * The owner's stand-in for a WebSocket that landed on another node: what the session's WebSocket transport
 * sends becomes WS_FRAME messages to that node, and the frames it relays arrive here as `message` events.
 * It offers the part of `ws`'s WebSocket the transport uses (readyState, bufferedAmount, send, close,
 * terminate; events message and close).
 */
import { EventEmitter } from "node:events";
import { RELAYED_WEBSOCKET } from "../engine/ws-internals";

const OPEN = 1;
const CLOSED = 3;

export class RelayedWebSocket extends EventEmitter {
  readonly [RELAYED_WEBSOCKET] = true;
  readyState = OPEN;
  /** Frames leave at once on the route, which buffers them itself. */
  readonly bufferedAmount = 0;

  constructor(
    private readonly sendFrame: (payload: Buffer, binary: boolean) => void,
    private readonly sendClose: () => void,
  ) {
    super();
  }

  send(
    data: string | Buffer | ArrayBuffer | ArrayBufferView,
    _options?: unknown,
    done?: (err?: Error | null) => void,
  ): void {
    if (this.readyState !== OPEN) return;
    if (typeof data === "string") this.sendFrame(Buffer.from(data), false);
    else if (Buffer.isBuffer(data)) this.sendFrame(data, true);
    else if (ArrayBuffer.isView(data))
      this.sendFrame(Buffer.from(data.buffer, data.byteOffset, data.byteLength), true);
    else this.sendFrame(Buffer.from(data), true);
    if (done) process.nextTick(done);
  }

  close(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.sendClose();
    process.nextTick(() => this.emit("close", 1000, Buffer.alloc(0)));
  }

  terminate(): void {
    this.close();
  }

  /** A frame the landing node relayed. */
  receive(payload: Buffer, binary: boolean): void {
    if (this.readyState !== OPEN) return;
    this.emit("message", binary ? payload : payload.toString(), binary);
  }

  /** The landing node closed the tunnel (the client's WebSocket closed, or that node stopped). */
  remoteClosed(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.emit("close", 1006, Buffer.alloc(0));
  }
}
