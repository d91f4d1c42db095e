/**
 * The engine on its own (`switchyard/engine`): an Engine.IO protocol v4 server with engine.io 6.6's shape.
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { ServerOptions } from "./options";
import { Server } from "./server";

export { Server } from "./server";
export { Socket } from "./socket";
export type { CloseReason, MessageData, ReadyState, SendOptions } from "./socket";
export { PreparedMessage } from "./prepared";
export type {
  AttachOptions,
  AllowRequest,
  ServerOptions,
  PerMessageDeflateOptions,
} from "./options";
export type { CookieOptions } from "./cookie";
export type { Middleware } from "./middleware";
export type { Packet, PacketOptions, PacketType, RawData } from "./packet";
export type { Transport, TransportName } from "./transports/transport";
export * as errors from "./errors";
export { ErrorCode, ErrorMessages } from "./errors";
export type { ConnectionError, ErrorCodeValue, ErrorContext } from "./errors";

/** The Engine.IO protocol revision spoken. */
export const protocol = 4;

/** Creates an engine and attaches it to `server`. */
export function attach(server: HttpServer, options: ServerOptions = {}): Server {
  const engine = new Server(options);
  engine.attach(server, options);
  return engine;
}

/** Creates an HTTP server (non-engine requests get 501), an engine attached to it, and listens on `port`. */
export function listen(
  port: number,
  options?: ServerOptions | (() => void),
  fn?: () => void,
): Server {
  if (typeof options === "function") {
    fn = options;
    options = {};
  }
  const server = createServer((_req, res) => {
    res.writeHead(501);
    res.end("Not Implemented");
  });
  const engine = attach(server, options ?? {});
  engine.httpServer = server;
  server.listen(port, fn);
  return engine;
}
