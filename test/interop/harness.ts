/**
 * Differential harness: one scenario runs against Switchyard and against socket.io 4.8.4, each on its own
 * ephemeral port with the same options. The scenario records what the client side observes into named
 * channels; recordings are normalized (random ids) and compared.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Socket as EioSocket, type SocketOptions as EioOptions } from "engine.io-client";
import { Server as SioServer } from "socket.io";
import {
  io as ioc,
  type ManagerOptions,
  type Socket as ClientSocket,
  type SocketOptions,
} from "socket.io-client";
import WebSocket from "ws";
import { Server, type ServerOptions } from "../../src";
import { next as nextEvent, sleep } from "../support/io";

export type Impl = "switchyard" | "socket.io";
export type Recording = Record<string, unknown[]>;

export interface RawWs {
  ws: WebSocket;
  /** Every frame received: text as is, binary as `bin:<hex>`. */
  frames: Array<string>;
  /** Resolves with `[code, reason]` once the socket closed. */
  closed: Promise<[number, string]>;
  send(data: string | Buffer): void;
  /** Waits until a frame matching `test` arrived (returns it). */
  waitFor(test: (frame: string) => boolean, ms?: number): Promise<string>;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Side {
  impl: Impl;
  /** socket.io's Server is typed as Switchyard's: the scenarios use the shared API only. */
  io: Server;
  httpServer: http.Server;
  port: number;
  url: string;
  rec(channel: string, ...entry: unknown[]): void;
  client(nsp?: string, opts?: Partial<ManagerOptions & SocketOptions>): ClientSocket;
  eio(opts?: Partial<EioOptions>): EioSocket;
  raw(query?: string, answerPings?: boolean): Promise<RawWs>;
  request(
    method: string,
    path: string,
    body?: string | Buffer,
    headers?: http.OutgoingHttpHeaders,
  ): Promise<HttpResult>;
}

/** The fields of an error worth comparing. */
export function errInfo(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { notAnError: err };
  const info: Record<string, unknown> = { message: err.message };
  const extra = err as Error & { data?: unknown; type?: unknown; description?: unknown };
  if (extra.data !== undefined) info.data = extra.data;
  if (extra.type !== undefined) info.type = extra.type;
  return info;
}

export { sleep };

/** Resolves with the arguments of the next `event`; scenarios wait up to 15 s (both servers run at once, maybe on a loaded machine). */
export function next<T extends unknown[] = unknown[]>(
  emitter: { once(event: string, listener: (...args: never[]) => void): unknown },
  event: string,
  ms = 15000,
): Promise<T> {
  return nextEvent<T>(emitter, event, ms);
}

/** Polls `check` until it is true (rejects after `ms`). */
export async function until(check: () => boolean, ms = 15000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function frameText(data: WebSocket.RawData, isBinary: boolean): string {
  const buf = Buffer.isBuffer(data)
    ? data
    : Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.from(data);
  return isBinary ? `bin:${buf.toString("hex")}` : buf.toString();
}

async function startSide(
  impl: Impl,
  opts: Partial<ServerOptions>,
): Promise<{ side: Side; close(): Promise<void>; recording: Recording }> {
  const httpServer = http.createServer();
  const io =
    impl === "switchyard"
      ? new Server(httpServer, opts)
      : (new SioServer(
          httpServer,
          opts as ConstructorParameters<typeof SioServer>[1],
        ) as unknown as Server);
  httpServer.listen(0, "127.0.0.1");
  await once(httpServer, "listening");
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const recording: Recording = {};
  const engineSockets: Array<{ transport?: { shouldClose?: (() => void) | null } }> = [];
  io.engine.on("connection", (socket: (typeof engineSockets)[number]) =>
    engineSockets.push(socket),
  );
  const clients: ClientSocket[] = [];
  const eios: EioSocket[] = [];
  const raws: WebSocket[] = [];
  const side: Side = {
    impl,
    io,
    httpServer,
    port,
    url,
    rec(channel, ...entry) {
      (recording[channel] ??= []).push(entry.length === 1 ? entry[0] : entry);
    },
    client(nsp = "/", clientOpts = {}) {
      const socket = ioc(url + nsp, { forceNew: true, reconnection: false, ...clientOpts });
      clients.push(socket);
      return socket;
    },
    eio(eioOpts = {}) {
      const socket = new EioSocket(url, eioOpts);
      eios.push(socket);
      return socket;
    },
    async raw(query = "EIO=4&transport=websocket", answerPings = true) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?${query}`);
      raws.push(ws);
      const frames: string[] = [];
      const closed = new Promise<[number, string]>((resolve) =>
        ws.on("close", (code, reason) => resolve([code, reason.toString()])),
      );
      ws.on("error", () => {});
      ws.on("message", (data, isBinary) => {
        const text = frameText(data, isBinary);
        if (text === "2" && answerPings) ws.send("3");
        frames.push(text);
      });
      await next(ws, "open");
      const waitFor = async (test: (frame: string) => boolean, ms = 15000): Promise<string> => {
        let found: string | undefined;
        await until(() => (found = frames.find(test)) !== undefined, ms, "a frame");
        return found!;
      };
      await waitFor((f) => f.startsWith("0{"));
      return { ws, frames, closed, send: (d) => ws.send(d), waitFor };
    },
    request(method, path, body, headers = {}) {
      return new Promise((resolve, reject) => {
        const req = http.request(
          { host: "127.0.0.1", port, method, path, headers, agent: false },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: Buffer.concat(chunks).toString(),
              }),
            );
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    },
  };
  let closed = false;
  return {
    side,
    recording,
    async close() {
      if (closed) return;
      closed = true;
      for (const c of clients) c.disconnect();
      for (const e of eios) e.close();
      for (const w of raws) w.terminate();
      httpServer.closeAllConnections();
      await io.close().catch(() => {});
      httpServer.closeAllConnections();
      // socket.io's polling transport, closed while no GET is pending, waits 30 s for one on a ref'd timer
      // (after disconnect(true), say): the test is over, so that wait is cut short (shouldClose clears it).
      for (const socket of engineSockets) socket.transport?.shouldClose?.();
    },
  };
}

const ID = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{20}(?![A-Za-z0-9_-])/g;

/** Replaces every 20-character base64url token (engine and socket ids) with `<idN>`, stable per recording. */
export function normalize(value: unknown, ids = new Map<string, string>()): unknown {
  if (typeof value === "string") {
    return value.replace(ID, (id) => {
      let name = ids.get(id);
      if (!name) ids.set(id, (name = `<id${ids.size}>`));
      return name;
    });
  }
  if (Array.isArray(value)) return value.map((v) => normalize(v, ids));
  if (value && typeof value === "object" && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      out[key] = normalize((value as Record<string, unknown>)[key], ids);
    }
    return out;
  }
  return value;
}

export type Scenario = (side: Side) => Promise<void>;

/** Runs `scenario` on both servers (concurrently) and returns each normalized recording. */
export async function runBoth(
  opts: Partial<ServerOptions>,
  scenario: Scenario,
  timeoutMs = 45000,
): Promise<Record<Impl, Recording>> {
  const run = async (impl: Impl): Promise<Recording> => {
    const started = await startSide(impl, opts);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        scenario(started.side),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `scenario timed out; recorded so far: ${JSON.stringify(started.recording)}`,
                ),
              ),
            timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      if (err instanceof Error) err.message = `[${impl}] ${err.message}`;
      throw err;
    } finally {
      clearTimeout(timer);
      await started.close();
    }
    return normalize(started.recording) as Recording;
  };
  const [switchyard, socketio] = await Promise.all([run("switchyard"), run("socket.io")]);
  return { switchyard, "socket.io": socketio };
}

/** Runs `scenario` on both servers and asserts the recordings are equal (and not empty). */
export async function same(
  opts: Partial<ServerOptions>,
  scenario: Scenario,
  timeoutMs?: number,
): Promise<Recording> {
  const both = await runBoth(opts, scenario, timeoutMs);
  if (process.env.INTEROP_PRINT) {
    console.log(JSON.stringify(process.env.INTEROP_PRINT === "both" ? both : both["socket.io"]));
  }
  assert.ok(Object.keys(both["socket.io"]).length > 0, "the scenario recorded nothing");
  assert.deepEqual(both.switchyard, both["socket.io"]);
  return both["socket.io"];
}

/**
 * Runs `scenario` on both servers; the channels `differing` names must hold the values it gives for each
 * (a documented, intended difference), and every other channel must be equal on both sides.
 */
export async function sameExcept(
  opts: Partial<ServerOptions>,
  scenario: Scenario,
  differing: (channel: string) => Record<Impl, unknown[]> | undefined,
): Promise<void> {
  const both = await runBoth(opts, scenario);
  const channels = new Set([...Object.keys(both.switchyard), ...Object.keys(both["socket.io"])]);
  let documented = 0;
  for (const channel of channels) {
    const expected = differing(channel);
    if (expected) {
      documented++;
      assert.deepEqual(both.switchyard[channel], expected.switchyard, `switchyard, ${channel}`);
      assert.deepEqual(both["socket.io"][channel], expected["socket.io"], `socket.io, ${channel}`);
    } else {
      assert.deepEqual(both.switchyard[channel], both["socket.io"][channel], channel);
    }
  }
  assert.ok(documented > 0, "no channel showed the documented difference");
}
