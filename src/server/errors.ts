/**
 * The errors of the Socket.IO server layer: one code and one message each, socket.io's exact text where
 * socket.io has one (applications match on them); the keys of `ServerErrorMessage` are the stable codes. Build them here rather than with bare `new Error(...)`.
 */

/** The messages, keyed by their stable code. */
export const ServerErrorMessage = {
  /** An ack that did not come in time (socket.io's text). */
  TIMEOUT: "operation has timed out",
  /** The CONNECT_ERROR a client gets for a namespace that does not exist (socket.io's text). */
  INVALID_NAMESPACE: "Invalid namespace",
  /** `attach(app)` with an Express app instead of an HTTP server (socket.io's text). */
  EXPRESS_HANDLER:
    "You are trying to attach socket.io to an express request handler function. Please pass a http.Server instance.",
  BINARY_IN_SERVER_SIDE_EMIT:
    "serverSideEmit() arguments must be JSON-serializable: binary data is not supported",
  PARENT_FETCH_SOCKETS: "fetchSockets() is not supported on parent namespaces",
} as const;
export type ServerErrorCode = keyof typeof ServerErrorMessage;

/** `emit` of a name the protocol reserves (connect, disconnect, ...): socket.io's text. */
export function reservedEventError(ev: string | symbol): Error {
  return new Error(`"${String(ev)}" is a reserved event name`);
}

/** An ack that did not come in time. */
export function timeoutError(): Error {
  return new Error(ServerErrorMessage.TIMEOUT);
}

export function expressHandlerError(): Error {
  return new Error(ServerErrorMessage.EXPRESS_HANDLER);
}

export function invalidPortError(port: unknown): Error {
  return new Error(`Invalid port: ${String(port)}`);
}

export function binaryInServerSideEmitError(): Error {
  return new Error(ServerErrorMessage.BINARY_IN_SERVER_SIDE_EMIT);
}

export function parentFetchSocketsError(): Error {
  return new Error(ServerErrorMessage.PARENT_FETCH_SOCKETS);
}

/** Any thrown or rejected value as an Error (non-Errors are wrapped with their string form). */
export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
