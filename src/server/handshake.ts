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

/**
 * What the handshake is built from: the connection and what was read from its opening request when it arrived
 * (the request itself may have been dropped since).
 */
interface HandshakeSource {
  readonly requestHeaders: IncomingMessage["headers"];
  readonly requestUrl: string;
  readonly requestSecure: boolean;
  readonly conn: EngineSocket;
}

/** The last `time` string made, and the second it shows: sockets that connect within one second share it. */
let lastTime = "";
let lastTimeSecond = NaN;

/** `new Date(issued).toString()`, one string per second rather than one per socket (it shows whole seconds). */
function timeString(issued: number): string {
  const second = Math.floor(issued / 1000);
  if (second !== lastTimeSecond) {
    lastTime = new Date(issued).toString();
    lastTimeSecond = second;
  }
  return lastTime;
}

export function buildHandshake(
  client: HandshakeSource,
  auth: Record<string, unknown>,
  issued: number,
): Handshake {
  const headers = client.requestHeaders;
  const url = client.requestUrl;
  return {
    headers,
    time: timeString(issued),
    address: client.conn.remoteAddress,
    xdomain: headers.origin !== undefined,
    secure: client.requestSecure,
    issued,
    url,
    query: parseQuery(url),
    auth,
  };
}
