/**
 * The HTTP long-polling transport: the client holds one GET open to receive (answered as soon as packets are
 * available), and POSTs the packets it sends. Both carry the payload of the session's protocol (protocol.ts; in
 * revision 4, packets joined by \x1e, binary as "b" + base64). Responses are gzip/deflate compressed when `httpCompression` allows it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseForm } from "node:querystring";
import { createDeflate, createGzip, deflate, gzip, type ZlibOptions } from "node:zlib";
import createDebug from "debug";
import { negotiateEncoding } from "../../util/accept-encoding";
import { TransportErrorMessages } from "../errors";
import type { Packet, RawData } from "../packet";
import { type PacketSpill, RECORD_BINARY } from "../packet-spill";
import type { EngineProtocol } from "../protocol";
import type { EngineQuery } from "../request";
import { type ChunkSink, Spill } from "./spill";
import {
  type ResponseHeaders,
  runCallbacks,
  type SendCallback,
  Transport,
  type TransportHost,
} from "./transport";

const debug = createDebug("switchyard:engine:polling");

/** The codings `httpCompression` can produce, in engine.io's order of preference. */
const HTTP_CODINGS = ["gzip", "deflate"] as const;

/** A session that is closing waits this long for the client's next poll to deliver the close packet. */
const CLOSE_TIMEOUT = 30_000;

export interface CompressionOptions extends ZlibOptions {
  threshold: number;
}

export interface PollingHost extends TransportHost {
  readonly maxHttpBufferSize: number;
  readonly httpCompression: CompressionOptions | false;
}

export class PollingTransport extends Transport {
  readonly name = "polling";
  private pollReq: IncomingMessage | null = null;
  private pollRes: ServerResponse | null = null;
  private pollInitial = false;
  private pollOnClose: (() => void) | null = null;
  private dataReq: IncomingMessage | null = null;
  /** The last response, while the peer has not read all of it (it is then part of the send buffer). */
  private unread: ServerResponse | null = null;
  private shouldClose: (() => void) | null = null;
  /** Revision 3: the client takes binary bodies (no `b64` at the handshake, not JSONP). */
  private readonly supportsBinary: boolean;
  /** JSONP polling (`j` at the handshake): the start of every response, `___eio[<digits of j>](`. */
  private readonly jsonpHead: string | undefined;

  /** `query`: the handshake's, which fixes binary support and JSONP for the whole session. */
  constructor(
    private readonly host: PollingHost,
    private readonly protocol: EngineProtocol,
    query?: Pick<EngineQuery, "b64" | "j">,
  ) {
    super();
    this.jsonpHead =
      query?.j === undefined ? undefined : `___eio[${query.j.replace(/[^0-9]/g, "")}](`;
    this.supportsBinary = protocol.binaryPayloads && !query?.b64 && this.jsonpHead === undefined;
  }

  /** Serves one HTTP request of the session; `initial` marks the handshake request. */
  onRequest(req: IncomingMessage, res: ServerResponse, initial: boolean): void {
    if (req.method === "GET") this.onPollRequest(req, res, initial);
    else if (req.method === "POST") this.onDataRequest(req, res);
    else {
      res.writeHead(500);
      res.end();
    }
  }

  private onPollRequest(req: IncomingMessage, res: ServerResponse, initial: boolean): void {
    if (this.pollRes !== null) {
      debug("poll overlap from client");
      this.onError(TransportErrorMessages.POLL_OVERLAP);
      res.writeHead(400);
      res.end();
      return;
    }
    this.pollReq = req;
    this.pollRes = res;
    this.pollInitial = initial;
    const onClose = (): void => this.onError(TransportErrorMessages.POLL_CLOSED);
    this.pollOnClose = onClose;
    req.on("close", onClose);
    this.writable = true;
    this.owner?.onTransportReady(this);
    // still writable with a close pending: answer the poll, which carries the close packet
    if (this.writable && this.shouldClose !== null) this.send([{ type: "noop" }]);
  }

  private onDataRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.dataReq !== null) {
      this.onError(TransportErrorMessages.DATA_OVERLAP);
      res.writeHead(400);
      res.end();
      return;
    }
    const binary =
      req.headers["content-type"] === "application/octet-stream" && this.jsonpHead === undefined;
    if (binary && !this.protocol.binaryPayloads) {
      this.onError(TransportErrorMessages.INVALID_CONTENT);
      res.writeHead(400);
      res.end();
      return;
    }
    this.dataReq = req;
    const max = this.host.maxHttpBufferSize;
    const chunks: Buffer[] = [];
    let length = 0;
    const cleanup = (): void => {
      req.removeListener("data", onData);
      req.removeListener("end", onEnd);
      req.removeListener("close", onClose);
      if (this.dataReq === req) this.dataReq = null;
    };
    const onData = (chunk: Buffer): void => {
      length += chunk.length;
      if (length > max) {
        cleanup();
        debug("payload of %d bytes exceeds maxHttpBufferSize", length);
        res.writeHead(413, { Connection: "close" });
        res.end();
        this.onError(TransportErrorMessages.PAYLOAD_TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length);
      if (binary) this.onData(bytes);
      else if (this.jsonpHead === undefined) this.onData(bytes.toString());
      else {
        const field = parseForm(bytes.toString()).d;
        if (typeof field === "string") this.onData(unescapeJsonpNewlines(field));
      }
      const headers: ResponseHeaders = { "Content-Type": "text/html", "Content-Length": "2" };
      res.writeHead(200, this.responseHeaders(req, headers, false));
      res.end("ok");
    };
    const onClose = (): void => {
      cleanup();
      this.onError(TransportErrorMessages.DATA_CLOSED);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("close", onClose);
  }

  private onData(body: RawData): void {
    const packets = this.protocol.decodePayload(body);
    for (let i = 0; i < packets.length; i++) {
      const packet = packets[i] as Packet;
      if (packet.type === "close") {
        debug("close packet received");
        this.onClose();
        return;
      }
      this.onPacket(packet);
    }
  }

  send(
    packets: Packet[],
    callbacks?: readonly SendCallback[] | null,
    spilled?: PacketSpill | null,
  ): void {
    const req = this.pollReq;
    const res = this.pollRes;
    if (req === null || res === null) return;
    this.writable = false;
    this.pollReq = this.pollRes = null;
    if (this.pollOnClose !== null) req.removeListener("close", this.pollOnClose);
    this.pollOnClose = null;
    const tail = spilled !== undefined && spilled !== null && spilled.count > 0 ? spilled : null;
    const closing = this.shouldClose;
    if (closing !== null) {
      this.shouldClose = null;
      if (tail !== null) tail.push(CLOSE_PACKET);
      else packets.push({ type: "close" });
    }
    let compress = tail !== null && tail.compressible;
    for (let i = 0; i < packets.length && !compress; i++) {
      const options = (packets[i] as Packet).options;
      if (options !== undefined && options.compress !== false) compress = true;
    }
    if (tail !== null && this.jsonpHead === undefined && !this.supportsBinary) {
      this.respondSpilled(req, res, packets, tail, compress, this.pollInitial);
    } else {
      // JSONP (or a binary payload): the records become packets again, for the payload's own encoding
      if (tail !== null) tail.drainPackets(packets);
      const payload = this.protocol.encodePayload(packets, this.supportsBinary);
      this.respond(req, res, this.jsonp(payload), compress, this.pollInitial);
    }
    if (callbacks) runCallbacks(this, callbacks);
    if (closing !== null) closing();
  }

  private respond(
    req: IncomingMessage,
    res: ServerResponse,
    payload: RawData,
    compress: boolean,
    initial: boolean,
  ): void {
    const headers: ResponseHeaders = {
      "Content-Type":
        typeof payload === "string" ? "text/plain; charset=UTF-8" : "application/octet-stream",
    };
    const length = Buffer.byteLength(payload);
    const compression = this.host.httpCompression;
    if (compress && compression && length >= compression.threshold) {
      const encoding = negotiateEncoding(req.headers["accept-encoding"], HTTP_CODINGS);
      if (encoding !== undefined) {
        const zip = encoding === "gzip" ? gzip : deflate;
        zip(payload, compression, (err, out) => {
          if (err) {
            debug("compression failed: %s", err.message);
            headers["Content-Length"] = length;
            res.writeHead(200, this.responseHeaders(req, headers, initial));
            res.end(payload);
            this.watchUnread(res);
            return;
          }
          headers["Content-Encoding"] = encoding;
          headers["Content-Length"] = out.length;
          res.writeHead(200, this.responseHeaders(req, headers, initial));
          res.end(out);
          this.watchUnread(res);
        });
        return;
      }
    }
    headers["Content-Length"] = length;
    res.writeHead(200, this.responseHeaders(req, headers, initial));
    res.end(payload);
    this.watchUnread(res);
  }

  /**
   * A response whose payload ends with a lagging session's spilled packets: the packets queued before them are
   * encoded as usual, and the records are copied into 16 KiB chunks outside the heap in their polling form
   * (separated by \x1e, binary data as "b" + base64), each chunk handed to the response (or to the compression
   * stream in front of it) once full, and each record chunk dropped once read. The payload's length is known from
   * the records, so the response keeps its Content-Length; a compressed one is measured once compressed, as above.
   */
  private respondSpilled(
    req: IncomingMessage,
    res: ServerResponse,
    packets: Packet[],
    tail: PacketSpill,
    compress: boolean,
    initial: boolean,
  ): void {
    const head = packets.length > 0 ? (this.protocol.encodePayload(packets, false) as string) : "";
    const headBytes = head.length > 0 ? Buffer.from(head, "utf8") : null;
    const length =
      (headBytes === null ? 0 : headBytes.length + 1) + tail.pollingBytes + tail.count - 1;
    const headers: ResponseHeaders = { "Content-Type": "text/plain; charset=UTF-8" };
    const compression = this.host.httpCompression;
    const encoding =
      compress && compression && length >= compression.threshold
        ? negotiateEncoding(req.headers["accept-encoding"], HTTP_CODINGS)
        : undefined;
    if (compression && encoding !== undefined) {
      const zip = encoding === "gzip" ? createGzip(compression) : createDeflate(compression);
      const out: Buffer[] = [];
      let outLength = 0;
      zip.on("data", (chunk: Buffer) => {
        out.push(chunk);
        outLength += chunk.length;
      });
      zip.on("error", (err) => {
        // the records were read into the stream: nothing is left to send uncompressed
        debug("compression failed: %s", err.message);
        res.writeHead(500);
        res.end();
      });
      zip.on("end", () => {
        headers["Content-Encoding"] = encoding;
        headers["Content-Length"] = outLength;
        res.writeHead(200, this.responseHeaders(req, headers, initial));
        for (let i = 0; i < out.length; i++) res.write(out[i] as Buffer);
        res.end();
        this.watchUnread(res);
      });
      writePollingPayload(zip, headBytes, tail);
      zip.end();
      return;
    }
    headers["Content-Length"] = length;
    res.writeHead(200, this.responseHeaders(req, headers, initial));
    writePollingPayload(res, headBytes, tail);
    res.end();
    this.watchUnread(res);
  }

  /**
   * A response the peer has not read yet (Node still holds some of it) counts in the session's send buffer until
   * it is written out: a peer that stops reading in the middle of a response holds it. Nothing is allocated for a
   * response written at once.
   */
  private watchUnread(res: ServerResponse): void {
    if (!(res.writableLength > 0)) return;
    this.unread = res;
    const written = (): void => {
      if (this.unread === res) this.unread = null;
    };
    res.once("finish", written);
    res.once("close", written);
  }

  override get bufferedAmount(): number {
    const res = this.unread;
    return res === null ? 0 : res.writableLength;
  }

  /** Closes at once: a response the peer has not read is dropped with its connection (an overflowing session). */
  override terminate(): void {
    const res = this.unread;
    this.unread = null;
    if (res !== null) res.destroy();
    this.close();
  }

  /** A JSONP session's payload as a call of the client's callback with a JavaScript string literal. */
  private jsonp(payload: RawData): RawData {
    if (this.jsonpHead === undefined || typeof payload !== "string") return payload;
    // JSON escapes everything but U+2028/U+2029, which end a line in older JavaScript
    const literal = JSON.stringify(payload)
      .replace(/\u2028/g, "\\u2028")
      .replace(/\u2029/g, "\\u2029");
    return this.jsonpHead + literal + ");";
  }

  private responseHeaders(
    req: IncomingMessage,
    headers: ResponseHeaders,
    initial: boolean,
  ): ResponseHeaders {
    const ua = req.headers["user-agent"];
    if (ua !== undefined && (ua.includes(";MSIE") || ua.includes("Trident/"))) {
      headers["X-XSS-Protection"] = "0";
    }
    headers["cache-control"] = "no-store";
    this.host.emitResponseHeaders(headers, req, initial, this.sid);
    return headers;
  }

  protected doClose(fn?: () => void): void {
    if (this.dataReq !== null) {
      this.dataReq.destroy();
      this.dataReq = null;
    }
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      fn?.();
      this.onClose();
    };
    if (this.writable) {
      this.send([{ type: "close" }]);
      finish();
    } else if (this.discarded) {
      finish();
    } else {
      this.shouldClose = finish;
      timer = setTimeout(finish, CLOSE_TIMEOUT);
      timer.unref();
    }
  }

  protected override onClose(): void {
    // answer a pending poll so that the request does not hang
    if (this.writable) this.send([{ type: "noop" }]);
    super.onClose();
  }
}

const CLOSE_PACKET: Packet = Object.freeze({ type: "close" }) as Packet;
const SEPARATOR_BYTE = Buffer.from("\x1e", "latin1");
const BASE64_PREFIX = Buffer.from("b", "latin1");

/** Writes `head` (the packets queued before the spill, encoded), then every record of `tail`, in polling form. */
function writePollingPayload(sink: ChunkSink, head: Buffer | null, tail: PacketSpill): void {
  if (head !== null) sink.write(head);
  const chunks = new Spill();
  let first = head === null;
  while (tail.next()) {
    if (!first) chunks.append(sink, SEPARATOR_BYTE);
    first = false;
    if (tail.flags & RECORD_BINARY) {
      chunks.append(sink, BASE64_PREFIX);
      chunks.append(sink, Buffer.from(tail.payload.toString("base64"), "latin1"));
    } else {
      chunks.append(sink, tail.payload);
    }
  }
  chunks.release(sink);
}

/**
 * A JSONP POST's `d` field as the client wrote it before escaping: a backslash-n not preceded by a backslash was a
 * newline, then a double-backslash-n was a backslash-n.
 */
function unescapeJsonpNewlines(field: string): string {
  return field
    .replace(/(\\)?\\n/g, (match, slash: string | undefined) => (slash ? match : "\n"))
    .replace(/\\\\n/g, "\\n");
}
