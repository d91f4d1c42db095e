/**
 * Every error the engine reports, with a stable code and the message users see (engine.io 6.6's exact text):
 * - refused requests: `connection_error` codes 0-5 (`ErrorCode`, `ErrorMessages`), with engine.io's contexts;
 * - transport failures: `TransportError`s (`TransportErrorMessages`), which close a session with reason
 *   "transport error";
 * - the other texts the engine sends or throws (`EngineErrorMessages`).
 * Code elsewhere in the engine takes its texts from here, never from a string literal of its own.
 */
import type { IncomingMessage } from "node:http";

import { MIDDLEWARE_FAILURE } from "../util/middleware";

export const ErrorCode = {
  UNKNOWN_TRANSPORT: 0,
  UNKNOWN_SID: 1,
  BAD_HANDSHAKE_METHOD: 2,
  BAD_REQUEST: 3,
  FORBIDDEN: 4,
  UNSUPPORTED_PROTOCOL_VERSION: 5,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ErrorMessages: Readonly<Record<ErrorCodeValue, string>> = {
  0: "Transport unknown",
  1: "Session ID unknown",
  2: "Bad handshake method",
  3: "Bad request",
  4: "Forbidden",
  5: "Unsupported protocol version",
};

/** Extra details about a refused request (`context` of the `connection_error` event). */
export type ErrorContext = Record<string, unknown>;

/** The payload of the `connection_error` event. */
export interface ConnectionError {
  req: IncomingMessage;
  code: ErrorCodeValue;
  message: string;
  context: ErrorContext;
}

/** The HTTP status of a refused polling request: 403 for Forbidden, 400 for everything else. */
export function statusOf(code: ErrorCodeValue): number {
  return code === ErrorCode.FORBIDDEN ? 403 : 400;
}

/** The message of a transport failure, by code (what `err.message` reads on a "transport error" close). */
export const TransportErrorMessages = {
  /** A second GET arrived while one was pending. */
  POLL_OVERLAP: "overlap from client",
  /** The pending GET's connection closed before it was answered. */
  POLL_CLOSED: "poll connection closed prematurely",
  /** A second POST arrived while one was being read. */
  DATA_OVERLAP: "data request overlap from client",
  /** A POST body with a content type the transport does not read. */
  INVALID_CONTENT: "invalid content",
  /** A POST body longer than `maxHttpBufferSize` (answered 413). */
  PAYLOAD_TOO_LARGE: "payload too large",
  /** A POST's connection closed before its body was read. */
  DATA_CLOSED: "data request connection closed prematurely",
  /** Writing a WebSocket frame failed. */
  WRITE_ERROR: "write error",
} as const;

export type TransportErrorCode = keyof typeof TransportErrorMessages;

/** The error a failed transport reports (engine.io's shape: `type` "TransportError" and a `description`). */
export interface TransportError extends Error {
  type: "TransportError";
  description: unknown;
}

/** A transport failure: one of `TransportErrorMessages`, or the message of the socket error behind it. */
export function transportError(message: string, description?: unknown): TransportError {
  const err = new Error(message) as TransportError;
  err.type = "TransportError";
  err.description = description;
  return err;
}

/** The engine's other texts, by code. */
export const EngineErrorMessages = {
  /** An Engine.IO 4 client sent a ping (the server pings): the session closes with this error. */
  INVALID_HEARTBEAT_DIRECTION: "invalid heartbeat direction",
  /** The data of the `error` packet a malformed payload decodes to. */
  PARSER_ERROR: "parser error",
  /** A handshake that completed after `close()`. */
  SERVER_CLOSED: "Server closed",
  /** What a middleware that failed without an error (`throw undefined`) is reported as. */
  MIDDLEWARE_FAILURE,
} as const;
