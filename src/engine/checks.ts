/**
 * Verifying an engine request before anything is done with it, in engine.io 6's order, and answering a refusal.
 *
 * Every check returns either nothing (go on) or a {@link Refusal}: the `connection_error` code and context the
 * server reports. The order is part of the public behaviour (the tests in test/engine and test/interop pin it):
 *   1. transport unknown or not enabled                          → 0 UNKNOWN_TRANSPORT
 *   2. Origin header with characters a header may not carry      → 3 INVALID_ORIGIN
 *   3. with a sid: session unknown                                → 1 UNKNOWN_SID
 *                  polling request on another transport           → 3 TRANSPORT_MISMATCH
 *                  EIO differs from the session's                 → 3 PROTOCOL_MISMATCH
 *      without a sid (a handshake): not a GET                     → 2 BAD_HANDSHAKE_METHOD
 *                  a WebSocket handshake without an upgrade       → 3 TRANSPORT_HANDSHAKE_ERROR
 *                  `allowRequest` refuses                         → 4 FORBIDDEN
 *                  EIO not a revision the server speaks           → 5 UNSUPPORTED_PROTOCOL_VERSION
 * Before all of them, a request giving `transport`, `sid` or `EIO` more than once is refused with the code of that
 * parameter (0, 1 or 5): which of the values a server would read is not something to leave to chance.
 * An upgrade for a session that is already on WebSocket is refused (3 TRANSPORT_MISMATCH): it would take the
 * session over.
 * CORS preflights are answered earlier, by the `cors` middleware the server installs (see `Server`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import createDebug from "debug";
import {
  EngineErrorMessages,
  type ErrorCodeValue,
  type ErrorContext,
  ErrorCode,
  ErrorMessages,
  statusOf,
} from "./errors";
import type { AllowRequest } from "./options";
import {
  type EngineProtocol,
  type ProtocolVersion,
  protocolFor,
  requestedVersion,
} from "./protocol";
import type { EngineQuery } from "./request";

const debug = createDebug("switchyard:engine");

/** Why a request is refused: the `code` and `context` of the `connection_error` event. */
export interface Refusal {
  readonly code: ErrorCodeValue;
  readonly context: ErrorContext;
}

/** What the checks need to know about an open session. */
export interface CheckedSession {
  readonly transport: { readonly name: string };
  readonly protocol: ProtocolVersion;
}

/** Characters allowed in a header value (RFC 7230 field-content: HTAB, visible ASCII, obs-text). */
const INVALID_HEADER_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

export function isInvalidHeaderValue(value: string | undefined): boolean {
  return value !== undefined && INVALID_HEADER_CHAR.test(value);
}

/**
 * The synchronous checks (steps 1-3 above, `allowRequest` and the protocol revision excepted). An invalid Origin
 * header is removed from `req` so that nothing later echoes it.
 */
export function checkRequest(
  transports: readonly string[],
  sessions: Readonly<Record<string, CheckedSession | undefined>>,
  req: IncomingMessage,
  query: EngineQuery,
  upgrade: boolean,
): Refusal | undefined {
  const repeated = query.repeated;
  if (repeated !== undefined) {
    debug('parameter "%s" repeated', repeated);
    if (repeated === "transport") {
      return { code: ErrorCode.UNKNOWN_TRANSPORT, context: { transport: query.transport } };
    }
    if (repeated === "sid") return { code: ErrorCode.UNKNOWN_SID, context: { sid: query.sid } };
    return {
      code: ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
      context: { protocol: requestedVersion(query.EIO) },
    };
  }
  const transport = query.transport;
  if (transport === undefined || !transports.includes(transport) || transport === "webtransport") {
    debug('unknown transport "%s"', transport);
    return { code: ErrorCode.UNKNOWN_TRANSPORT, context: { transport } };
  }
  const origin = req.headers.origin;
  if (isInvalidHeaderValue(origin)) {
    delete req.headers.origin;
    return { code: ErrorCode.BAD_REQUEST, context: { name: "INVALID_ORIGIN", origin } };
  }
  const sid = query.sid;
  if (sid) {
    const session = sessions[sid];
    if (session === undefined) return { code: ErrorCode.UNKNOWN_SID, context: { sid } };
    const previousTransport = session.transport.name;
    if (
      (!upgrade && previousTransport !== transport) ||
      (upgrade && previousTransport !== "polling")
    ) {
      return {
        code: ErrorCode.BAD_REQUEST,
        context: { name: "TRANSPORT_MISMATCH", transport, previousTransport },
      };
    }
    const protocol = requestedVersion(query.EIO);
    if (protocol !== session.protocol) {
      return {
        code: ErrorCode.BAD_REQUEST,
        context: { name: "PROTOCOL_MISMATCH", protocol, previousProtocol: session.protocol },
      };
    }
    return undefined;
  }
  if (req.method !== "GET") {
    return { code: ErrorCode.BAD_HANDSHAKE_METHOD, context: { method: req.method } };
  }
  if (transport === "websocket" && !upgrade) {
    return { code: ErrorCode.BAD_REQUEST, context: { name: "TRANSPORT_HANDSHAKE_ERROR" } };
  }
  return undefined;
}

/** Asks the `allowRequest` option about a handshake (its first answer counts). */
export function checkAllowed(
  allowRequest: AllowRequest | undefined,
  req: IncomingMessage,
): Promise<Refusal | undefined> | undefined {
  if (allowRequest === undefined) return undefined;
  return new Promise((resolve) => {
    allowRequest(req, (message, success) => {
      resolve(success ? undefined : { code: ErrorCode.FORBIDDEN, context: { message } });
    });
  });
}

/** The protocol revision a handshake asks for, or the refusal when the server does not speak it. */
export function checkProtocol(query: EngineQuery, allowEIO3: boolean): EngineProtocol | Refusal {
  return (
    protocolFor(query.EIO, allowEIO3) ?? {
      code: ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
      context: { protocol: requestedVersion(query.EIO) },
    }
  );
}

/** The text a refused request is answered with: the context's message when it has one, else the code's. */
function refusalMessage(refusal: Refusal): string {
  const message = refusal.context.message;
  return typeof message === "string" && message !== "" ? message : ErrorMessages[refusal.code];
}

/** Answers a refused polling request: JSON body, 403 for Forbidden, 400 otherwise. */
export function answerRefusedRequest(res: ServerResponse, refusal: Refusal): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  res.writeHead(statusOf(refusal.code), { "Content-Type": "application/json" });
  res.end(JSON.stringify({ code: refusal.code, message: refusalMessage(refusal) }));
}

/** Answers a handshake that completed after the server closed: 503. */
export function answerClosed(res: ServerResponse): void {
  res.writeHead(503, { "Content-Type": "application/json" });
  res.end(
    JSON.stringify({ code: ErrorCode.BAD_REQUEST, message: EngineErrorMessages.SERVER_CLOSED }),
  );
}

/** Answers a refused upgrade with a raw HTTP 400 response, then destroys the socket. */
export function answerRefusedUpgrade(socket: Duplex, refusal: Refusal): void {
  socket.on("error", onUpgradeSocketError);
  if (socket.writable) {
    const message = refusalMessage(refusal);
    socket.write(
      "HTTP/1.1 400 Bad Request\r\n" +
        "Connection: close\r\n" +
        "Content-type: text/html\r\n" +
        `Content-Length: ${Buffer.byteLength(message)}\r\n` +
        "\r\n" +
        message,
    );
  }
  socket.destroy();
}

/** Keeps an upgrade socket's errors (a TCP reset...) from crashing the process. */
export function onUpgradeSocketError(this: unknown, err: Error): void {
  debug("error on an upgrade socket: %s", err.message);
}
