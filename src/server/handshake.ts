/**
 * The handshake of a socket: what the client sent to connect, as `socket.handshake` shows it (socket.io's
 * shape), built from the connection's HTTP request.
 */
import type { IncomingMessage } from "node:http";
import type { ParsedUrlQuery } from "node:querystring";
import type { Socket as EngineSocket } from "../engine";
import { parseQuery } from "../util/query";

export interface Handshake {
  headers: IncomingMessage["headers"];
  time: string;
  address: string;
  xdomain: boolean;
  secure: boolean;
  issued: number;
  url: string;
  query: ParsedUrlQuery;
  auth: { [key: string]: unknown };
}

/** What the handshake is built from: the connection and the request that opened it. */
interface HandshakeSource {
  readonly request: IncomingMessage;
  readonly conn: EngineSocket;
}

export function buildHandshake(
  client: HandshakeSource,
  auth: Record<string, unknown>,
  issued: number,
): Handshake {
  const req = client.request;
  const url = req.url ?? "/";
  return {
    headers: req.headers,
    time: new Date(issued).toString(),
    address: client.conn.remoteAddress,
    xdomain: req.headers.origin !== undefined,
    secure: Boolean((req.socket as { encrypted?: boolean } | undefined)?.encrypted),
    issued,
    url,
    query: parseQuery(url),
    auth,
  };
}
