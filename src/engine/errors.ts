/**
 * The engine's error codes: every request the engine refuses is reported through the server's
 * `connection_error` event with one of these codes, and answered with the matching message.
 * The codes, messages and contexts are the ones engine.io 6.6 uses, so code that inspects them keeps working.
 */
import type { IncomingMessage } from "node:http";

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
