/**
 * Taking over an HTTP server (`engine.attach(server)`): requests under the engine path go to the engine, all
 * others to the `request` listeners the server had (replayed untouched); upgrade requests under the path are
 * handled, others are ended after `destroyUpgradeTimeout` unless `destroyUpgrade` is false. Closing the server
 * closes the engine.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import createDebug from "debug";
import { type AttachOptions, computePath } from "./options";
import { onUpgradeSocketError } from "./checks";
import type { Server } from "./server";

const debug = createDebug("switchyard:engine");

export function attachToHttpServer(
  engine: Server,
  server: HttpServer,
  options: AttachOptions,
): void {
  const path = computePath({
    path: options.path ?? engine.opts.path,
    addTrailingSlash: options.addTrailingSlash ?? engine.opts.addTrailingSlash,
  });
  const destroyUpgrade = options.destroyUpgrade ?? engine.opts.destroyUpgrade;
  const destroyUpgradeTimeout = options.destroyUpgradeTimeout || engine.opts.destroyUpgradeTimeout;
  const check = (req: IncomingMessage): boolean => (req.url ?? "").startsWith(path);
  const listeners = server.listeners("request").slice() as ((
    req: IncomingMessage,
    res: ServerResponse,
  ) => void)[];
  server.removeAllListeners("request");
  server.on("close", () => engine.close());
  server.on("listening", () => engine.init());
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (check(req)) {
      debug('intercepting request for path "%s"', path);
      engine.handleRequest(req, res);
    } else {
      for (const listener of listeners) listener.call(server, req, res);
    }
  });
  if (engine.opts.transports.includes("websocket")) {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (check(req)) {
        engine.handleUpgrade(req, socket, head);
      } else if (destroyUpgrade) {
        // nobody may answer this upgrade: end it unless someone wrote to it in time
        socket.on("error", onUpgradeSocketError);
        setTimeout(() => {
          const s = socket as Duplex & { bytesWritten?: number };
          if (s.writable && (s.bytesWritten ?? 0) <= 0) s.end();
        }, destroyUpgradeTimeout).unref();
      }
    });
  }
}
