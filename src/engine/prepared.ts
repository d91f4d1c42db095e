/**
 * PreparedMessage: one message sent to many connections (a broadcast), encoded once.
 *
 * Build it once from the message (a string or a Buffer) and pass it to `socket.send()` of every target. The
 * encodings are computed on first use and cached on the object, so N targets cost one encoding, not N:
 * - `pollingPacket`: the packet in polling form ("4..." or "b" + base64), joined into each polling response;
 * - `wsFrame`: the complete WebSocket frame (header + payload) built once with ws's `Sender.frame`, written as is to
 *   the socket of every WebSocket target (used only when `perMessageDeflate` is off: a compressed frame depends
 *   on each connection's deflate context);
 * - `wsData`: the WebSocket form ("4..." string or the raw Buffer), for connections that compress.
 */
import WebSocket from "ws";
import type { RawData } from "./packet";

interface FrameOptions {
  fin: boolean;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
  opcode: number;
}

const { Sender } = WebSocket as unknown as {
  Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] };
};

export class PreparedMessage {
  /** The message as given. */
  readonly data: RawData;
  private polling: string | undefined = undefined;
  private ws: RawData | undefined = undefined;
  private frameList: readonly Buffer[] | undefined = undefined;

  constructor(data: RawData) {
    this.data = data;
  }

  /** The message packet in polling form. */
  get pollingPacket(): string {
    if (this.polling === undefined) {
      const data = this.data;
      this.polling = typeof data === "string" ? "4" + data : "b" + data.toString("base64");
    }
    return this.polling;
  }

  /** The message packet in WebSocket form: a "4..." string for text, the Buffer itself for binary. */
  get wsData(): RawData {
    if (this.ws === undefined) {
      const data = this.data;
      this.ws = typeof data === "string" ? "4" + data : data;
    }
    return this.ws;
  }

  /** The complete, unmasked, uncompressed WebSocket frame: [header, payload] or [frame]. */
  get wsFrame(): readonly Buffer[] {
    if (this.frameList === undefined) {
      const data = this.wsData;
      const isText = typeof data === "string";
      this.frameList = Sender.frame(isText ? Buffer.from(data) : data, {
        fin: true,
        mask: false,
        readOnly: false,
        rsv1: false,
        opcode: isText ? 1 : 2,
      });
    }
    return this.frameList;
  }
}
