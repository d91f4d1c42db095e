/**
 * What travels between nodes for a forwarded polling request. One message is one Buffer:
 *
 *   byte 0        the kind (Kind below)
 *   bytes 1..4    n, the length of the header (unsigned 32-bit, big endian)
 *   bytes 5..5+n  the header: UTF-8 JSON (per kind, below)
 *   the rest      the body bytes, untouched (a POST's body, a response's payload; binary as is)
 *
 *   REQUEST  {id, from, sid, method, url, headers, direct}  requester → owner (or every node when the owner is
 *            not known yet; `direct` false then, and only the owner answers)
 *   ACCEPTED {id, from}                                      owner → requester: a GET is held (deadline extended)
 *   RESPONSE {id, status, headers}                           owner → requester: the HTTP answer, body follows
 *   GONE     {id}                                            owner → requester: a direct request, no such session
 *   ABORT    {id, from}                                      requester → owner: the client closed its request
 *
 * A WebSocket upgrade that lands on a node other than the owner is accepted there and its frames relayed
 * (a tunnel, `id` chosen by the landing node):
 *
 *   WS_OPEN  {id, from, sid, url, headers, direct}          landing → owner (or every node): the upgrade
 *            request; the owner answers ACCEPTED and upgrades the session to the tunnel, else GONE (direct)
 *   WS_FRAME {id, from, binary}                              either way: one WebSocket message, body = payload
 *   WS_CLOSE {id, from}                                      either way: the tunnel is closed
 */
export const Kind = {
  REQUEST: 1,
  ACCEPTED: 2,
  RESPONSE: 3,
  GONE: 4,
  ABORT: 5,
  WS_OPEN: 6,
  WS_FRAME: 7,
  WS_CLOSE: 8,
} as const;
export type KindValue = (typeof Kind)[keyof typeof Kind];

export interface RequestHeader {
  id: string;
  from: string;
  sid: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  direct: boolean;
}
export interface AcceptedHeader {
  id: string;
  from: string;
}
export interface ResponseHeader {
  id: string;
  status: number;
  headers: Record<string, string | number | string[]>;
}
export interface GoneHeader {
  id: string;
}
export interface AbortHeader {
  id: string;
  from: string;
}

export type WsOpenHeader = RequestHeader;
export interface WsFrameHeader {
  id: string;
  from: string;
  binary: boolean;
}
export interface WsCloseHeader {
  id: string;
  from: string;
}

export type Decoded =
  | { kind: typeof Kind.REQUEST; header: RequestHeader; body: Buffer }
  | { kind: typeof Kind.ACCEPTED; header: AcceptedHeader; body: Buffer }
  | { kind: typeof Kind.RESPONSE; header: ResponseHeader; body: Buffer }
  | { kind: typeof Kind.GONE; header: GoneHeader; body: Buffer }
  | { kind: typeof Kind.ABORT; header: AbortHeader; body: Buffer }
  | { kind: typeof Kind.WS_OPEN; header: WsOpenHeader; body: Buffer }
  | { kind: typeof Kind.WS_FRAME; header: WsFrameHeader; body: Buffer }
  | { kind: typeof Kind.WS_CLOSE; header: WsCloseHeader; body: Buffer };

export function encode(kind: KindValue, header: object, body?: Buffer | string): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const bodyBytes =
    body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const out = Buffer.allocUnsafe(5 + json.length + (bodyBytes?.length ?? 0));
  out[0] = kind;
  out.writeUInt32BE(json.length, 1);
  json.copy(out, 5);
  bodyBytes?.copy(out, 5 + json.length);
  return out;
}

/** The message, or undefined when it is not one of ours (malformed input is dropped, never thrown). */
export function decode(message: Buffer): Decoded | undefined {
  if (message.length < 5) return undefined;
  const kind = message[0] as number;
  if (kind < Kind.REQUEST || kind > Kind.WS_CLOSE) return undefined;
  const length = message.readUInt32BE(1);
  if (5 + length > message.length) return undefined;
  try {
    const header = JSON.parse(message.toString("utf8", 5, 5 + length)) as unknown;
    if (typeof header !== "object" || header === null) return undefined;
    if (typeof (header as { id?: unknown }).id !== "string") return undefined;
    return { kind, header, body: message.subarray(5 + length) } as Decoded;
  } catch {
    return undefined;
  }
}
