// Helpers for the engine tests: an engine on an ephemeral port, the official client, raw HTTP requests.
import type { EventEmitter } from "node:events";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Socket as ClientSocket, type SocketOptions } from "engine.io-client";
import { Server, type ServerOptions } from "../../src/engine";

export interface Harness {
  engine: Server;
  http: http.Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startEngine(
  opts: ServerOptions = {},
  onHttp?: (server: http.Server) => void,
  httpOptions: http.ServerOptions = {},
): Promise<Harness> {
  const server = http.createServer(httpOptions);
  onHttp?.(server);
  const engine = new Server(opts);
  engine.attach(server, opts);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    engine,
    http: server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        engine.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function connect(
  url: string,
  opts: Partial<SocketOptions> = {},
  waitForOpen = true,
): Promise<ClientSocket> {
  const client = new ClientSocket(url, opts);
  if (!waitForOpen) return Promise.resolve(client);
  return new Promise((resolve, reject) => {
    client.once("open", () => resolve(client));
    client.once("error", reject);
  });
}

/** The next emission of `event`, with its arguments. */
export function once<T extends unknown[] = unknown[]>(
  emitter: EventEmitter | ClientSocket,
  event: string,
  timeoutMs = 15000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for "${event}"`)),
      timeoutMs,
    );
    (emitter as EventEmitter).once(event, (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args as T);
    });
  });
}

export { request, type RawResponse } from "../support/http";

/** Polls `check` until it returns true (rejects after `timeoutMs`, with `what` in the message). */
export async function until(
  check: () => boolean,
  what = "condition",
  timeoutMs = 15000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
