/** Test helpers: a Switchyard server on an ephemeral port, official socket.io-client clients, waiting. */
import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  io as ioc,
  type ManagerOptions,
  type Socket as ClientSocket,
  type SocketOptions,
} from "socket.io-client";
import { Server, type ServerOptions } from "../../src";

export interface Running {
  io: Server;
  httpServer: HttpServer;
  port: number;
  url: string;
  /** Opens a client (socket.io-client 4.8) to `nsp`; closed by `close()`. */
  client(nsp?: string, opts?: Partial<ManagerOptions & SocketOptions>): ClientSocket;
  close(): Promise<void>;
}

export async function start(opts: Partial<ServerOptions> = {}): Promise<Running> {
  const httpServer = createServer();
  const io = new Server(httpServer, opts);
  httpServer.listen(0);
  await once(httpServer, "listening");
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://localhost:${port}`;
  const clients: ClientSocket[] = [];
  return {
    io,
    httpServer,
    port,
    url,
    client(nsp = "/", clientOpts = {}) {
      const socket = ioc(url + nsp, { forceNew: true, reconnection: false, ...clientOpts });
      clients.push(socket);
      return socket;
    },
    async close() {
      for (const socket of clients) socket.disconnect();
      httpServer.closeAllConnections();
      await io.close();
    },
  };
}

/**
 * Resolves with the arguments of the next `event` (rejects after `ms`). Deadlines are generous so that a loaded
 * machine only slows a test down; a test waits for what it expects, never for a fixed time.
 */
export function next<T extends unknown[] = unknown[]>(
  emitter: { once(event: string, listener: (...args: never[]) => void): unknown },
  event: string,
  ms = 15000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${event}"`)), ms);
    emitter.once(event, (...args: never[]) => {
      clearTimeout(timer);
      resolve(args as unknown as T);
    });
  });
}

/** Polls `check` until it returns true (rejects after `ms`). */
export async function until(check: () => boolean, ms = 15000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The transports every integration test runs over. */
export const TRANSPORTS = [["polling"], ["websocket"]] as const;
