/**
 * PreparedMessage: one message sent to many connections (a broadcast), encoded once per protocol in use.
 *
 * Build it once from the message (a string or a Buffer) and pass it to `socket.send()` of every target. Its forms
 * are computed on first use and cached on the object, per Engine.IO protocol revision (each session speaks one,
 * see protocol.ts), so N targets cost one encoding per revision, not N:
 * - the polling form ("4..." or "b" + base64 in revision 4), joined into each polling response;
 * - the WebSocket form ("4..." string or the raw Buffer in revision 4), for connections that compress;
 * - the complete WebSocket frame (frame.ts), written as is to the socket of every WebSocket target that does not
 *   compress (a compressed frame depends on each connection's deflate context).
 */
import type { Frame } from "./frame";
import type { RawData } from "./packet";
import { EIO4, type EngineProtocol } from "./protocol";

interface Forms {
  polling: string | undefined;
  ws: RawData | undefined;
  frame: Frame | undefined;
}

export class PreparedMessage {
  /** The message as given. */
  readonly data: RawData;
  /** Revision 4's forms (the common case, no lookup); other revisions in `others`, by version. */
  private readonly v4: Forms = { polling: undefined, ws: undefined, frame: undefined };
  private others: Map<number, Forms> | undefined = undefined;
  private frameList: readonly Buffer[] | undefined = undefined;

  constructor(data: RawData) {
    this.data = data;
  }

  private forms(protocol: EngineProtocol): Forms {
    if (protocol.version === 4) return this.v4;
    const others = (this.others ??= new Map());
    let forms = others.get(protocol.version);
    if (forms === undefined) {
      forms = { polling: undefined, ws: undefined, frame: undefined };
      others.set(protocol.version, forms);
    }
    return forms;
  }

  /** The message packet in polling form for `protocol`. */
  pollingFor(protocol: EngineProtocol): string {
    const forms = this.forms(protocol);
    return (forms.polling ??= protocol.prepareForPolling(this.data));
  }

  /** The message packet in WebSocket form for `protocol`. */
  wsDataFor(protocol: EngineProtocol): RawData {
    const forms = this.forms(protocol);
    return (forms.ws ??= protocol.prepareForWebSocket(this.data));
  }

  /** The complete, unmasked, uncompressed WebSocket frame for `protocol`. */
  wsFrameFor(protocol: EngineProtocol): Frame {
    const forms = this.forms(protocol);
    return (forms.frame ??= protocol.frame({ type: "message", data: this.data }));
  }

  /** Revision 4's polling form. */
  get pollingPacket(): string {
    return this.pollingFor(EIO4);
  }

  /** Revision 4's WebSocket form: a "4..." string for text, the Buffer itself for binary. */
  get wsData(): RawData {
    return this.wsDataFor(EIO4);
  }

  /** Revision 4's complete frame, as a list of buffers ([frame] or [header, payload]). */
  get wsFrame(): readonly Buffer[] {
    if (this.frameList === undefined) {
      const frame = this.wsFrameFor(EIO4);
      this.frameList = Buffer.isBuffer(frame) ? [frame] : frame;
    }
    return this.frameList;
  }
}
