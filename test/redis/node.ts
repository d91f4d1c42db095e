/**
 * One cluster node in its own process, for the multi-node tests: a socket.io or Switchyard server with the
 * official or the Switchyard Redis adapter (classic or sharded) over `redis` or `ioredis`, or (`backend:
 * "postgres"`) the official or the Switchyard Postgres adapter over a `pg` Pool. Started with
 * `fork(node.ts, [JSON config])` (advanced serialization), it answers commands sent over IPC.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface NodeConfig {
  name: string;
  impl: "switchyard" | "socket.io";
  adapter: "switchyard" | "official";
  /** "cluster": the node:cluster IPC adapter (the node is a cluster worker; no Redis). */
  mode: "classic" | "sharded" | "cluster" | "streams";
  client: "redis" | "ioredis";
  key: string;
  redisUrl: string;
  requestsTimeout?: number;
  subscriptionMode?: "static" | "dynamic" | "dynamic-private";
  publishOnSpecificResponseChannel?: boolean;
  /** Serve v2 clients (Engine.IO 3) too. */
  allowEIO3?: boolean;
  /** "redis" (default) or "postgres": then `key` is the channel prefix and `pg` says the rest. */
  backend?: "redis" | "postgres";
  pg?: PostgresNodeConfig;
}

export interface PostgresNodeConfig {
  host: string;
  port: number;
  user: string;
  database: string;
  /** The pool's application_name: the fault tests find this node's connections by it. */
  applicationName: string;
  tableName: string;
  heartbeatInterval?: number;
  heartbeatTimeout?: number;
}

export interface Command {
  id: number;
  cmd: string;
  nsp?: string;
  rooms?: Array<string | number>;
  except?: Array<string | number>;
  flags?: { volatile?: boolean; compress?: boolean; local?: boolean; timeout?: number };
  event?: string;
  args?: unknown[];
  room?: string | string[];
  close?: boolean;
}

/** The part of the socket.io API (shared by both implementations) this script drives. */
interface Op {
  to(room: string | number | Array<string | number>): Op;
  except(room: string | number | Array<string | number>): Op;
  readonly volatile: Op;
  readonly local: Op;
  compress(compress: boolean): Op;
  timeout(ms: number): Op;
  emit(ev: string, ...args: unknown[]): boolean;
  emitWithAck(ev: string, ...args: unknown[]): Promise<unknown>;
  socketsJoin(room: string | string[]): void;
  socketsLeave(room: string | string[]): void;
  disconnectSockets(close?: boolean): void;
  fetchSockets(): Promise<RemoteLike[]>;
  allSockets(): Promise<Set<string>>;
}
interface RemoteLike {
  id: string;
  rooms: Set<string | number>;
  data: { node: string; n: number };
  join(room: string | string[]): unknown;
  leave(room: string): unknown;
  disconnect(close?: boolean): unknown;
  emit(ev: string, ...args: unknown[]): unknown;
  timeout(ms: number): { emitWithAck(ev: string, ...args: unknown[]): Promise<unknown> };
}
interface SocketLike {
  data: unknown;
  recovered?: boolean;
  rooms: Set<string | number>;
  join(room: string): unknown;
  leave(room: string): unknown;
  on(ev: string, listener: (...args: never[]) => void): unknown;
}
interface NamespaceLike extends Op {
  name: string;
  adapter: {
    serverCount(): Promise<number>;
    uid?: string;
    on?(ev: string, fn: (...args: never[]) => void): unknown;
    /** The local maps of the in-memory base: socket id → rooms, room → socket ids. */
    sids?: Map<string, Set<string | number>>;
    rooms?: Map<string | number, Set<string>>;
  };
  sockets: Map<string, SocketLike>;
  on(ev: string, listener: (...args: never[]) => void): unknown;
  serverSideEmit(ev: string, ...args: unknown[]): boolean;
  serverSideEmitWithAck(ev: string, ...args: unknown[]): Promise<unknown[]>;
}
interface ServerLike {
  of(name: string): NamespaceLike;
  close(): Promise<void> | void;
}
interface RedisLike {
  on(ev: string, fn: (e: Error) => void): unknown;
  quit(): Promise<unknown>;
}

const config = JSON.parse(process.argv[2] ?? process.env.SY_NODE_CONFIG ?? "{}") as NodeConfig;
const errors: string[] = [];
const serverEvents: unknown[][] = [];
/** The adapter's room events per namespace, once "watchRoomEvents" asked: [event, room, socket id]. */
const roomEvents = new Map<string, Array<[string, string, string | undefined]>>();

async function makeClients(): Promise<{ pub: RedisLike; sub: RedisLike; quit(): Promise<void> }> {
  if (config.backend === "postgres") {
    const { Pool } = require("pg");
    const {
      applicationName,
      tableName: _t,
      heartbeatInterval: _i,
      heartbeatTimeout: _o,
      ...pg
    } = config.pg as PostgresNodeConfig;
    const pool = new Pool({ ...pg, application_name: applicationName });
    // idle connections killed by the tests: a pool without a listener would crash the official node
    pool.on("error", (e: Error) => errors.push(`pool: ${e.message}`));
    return { pub: pool, sub: pool, quit: async () => void (await pool.end().catch(() => {})) };
  }
  if (config.mode === "cluster") {
    const none = { on: () => undefined, quit: () => Promise.resolve() };
    return { pub: none, sub: none, quit: () => Promise.resolve() };
  }
  if (config.client === "redis") {
    const { createClient } = require("redis");
    const pub = createClient({ url: config.redisUrl, socket: { reconnectStrategy: () => 200 } });
    const sub = pub.duplicate();
    pub.on("error", (e: Error) => errors.push(`pub: ${e.message}`));
    sub.on("error", (e: Error) => errors.push(`sub: ${e.message}`));
    await Promise.all([pub.connect(), sub.connect()]);
    return {
      pub,
      sub,
      quit: async () => void (await Promise.allSettled([pub.quit(), sub.quit()])),
    };
  }
  const { Redis } = require("ioredis");
  const pub = new Redis(config.redisUrl, { retryStrategy: () => 200, maxRetriesPerRequest: 2 });
  const sub = pub.duplicate();
  pub.on("error", (e: Error) => errors.push(`pub: ${e.message}`));
  sub.on("error", (e: Error) => errors.push(`sub: ${e.message}`));
  return { pub, sub, quit: async () => void (await Promise.allSettled([pub.quit(), sub.quit()])) };
}

function adapterFactory(pub: RedisLike, sub: RedisLike): unknown {
  if (config.backend === "postgres") {
    const pg = config.pg as PostgresNodeConfig;
    const lib =
      config.adapter === "official"
        ? require("@socket.io/postgres-adapter")
        : require("../../src/adapters/postgres");
    // undefined options would override the official adapter's defaults (it merges with Object.assign)
    const opts: Record<string, unknown> = { channelPrefix: config.key, tableName: pg.tableName };
    if (pg.heartbeatInterval !== undefined) opts.heartbeatInterval = pg.heartbeatInterval;
    if (pg.heartbeatTimeout !== undefined) opts.heartbeatTimeout = pg.heartbeatTimeout;
    if (config.adapter !== "official" && config.requestsTimeout !== undefined)
      opts.requestsTimeout = config.requestsTimeout;
    opts.errorHandler = (e: Error) => errors.push(`errorHandler: ${e.message}`);
    return lib.createAdapter(pub, opts);
  }
  if (config.mode === "cluster") {
    const lib =
      config.adapter === "official"
        ? require("@socket.io/cluster-adapter")
        : require("../../src/adapters/cluster");
    return lib.createAdapter(
      config.requestsTimeout ? { requestsTimeout: config.requestsTimeout } : {},
    );
  }
  if (config.mode === "streams") {
    // one client: the streams adapters open their own connections with duplicate()
    const lib =
      config.adapter === "official"
        ? require("@socket.io/redis-streams-adapter")
        : require("../../src/adapters/redis-streams");
    return lib.createAdapter(pub, {
      streamName: `${config.key}-stream`,
      channelPrefix: `${config.key}-ch`,
      sessionKeyPrefix: `${config.key}-sess:`,
      blockTimeInMs: 1000,
    });
  }
  const lib =
    config.adapter === "official"
      ? require("@socket.io/redis-adapter")
      : require("../../src/adapters/redis");
  if (config.mode === "sharded") {
    // undefined options would override the official adapter's defaults (it merges with Object.assign)
    const opts: Record<string, unknown> = {
      channelPrefix: config.key,
      requestsTimeout: config.requestsTimeout,
    };
    if (config.subscriptionMode) opts.subscriptionMode = config.subscriptionMode;
    return lib.createShardedAdapter(pub, sub, opts);
  }
  return lib.createAdapter(pub, sub, {
    key: config.key,
    requestsTimeout: config.requestsTimeout,
    publishOnSpecificResponseChannel: config.publishOnSpecificResponseChannel,
  });
}

async function main(): Promise<void> {
  const clients = await makeClients();
  const httpServer = createServer();
  const { Server } = config.impl === "socket.io" ? require("socket.io") : require("../../src");
  const io = new Server(httpServer, {
    adapter: adapterFactory(clients.pub, clients.sub),
    allowEIO3: config.allowEIO3 === true,
    // the streams adapters are the ones that recover sessions across nodes
    ...(config.mode === "streams" ? { connectionStateRecovery: {} } : {}),
  }) as ServerLike;
  let counter = 0;
  const setup = (nsp: NamespaceLike) => {
    const adapter = nsp.adapter;
    if (typeof adapter.on === "function")
      adapter.on("error", (e: Error) => errors.push(`adapter: ${e.message}`));
    nsp.on("connection", (socket: SocketLike) => {
      // a recovered socket keeps the data of its session
      if (!socket.recovered) socket.data = { node: config.name, n: ++counter };
      socket.on("join", (room: string, cb?: () => void) => {
        void Promise.resolve(socket.join(room)).then(() => cb?.());
      });
      socket.on("leave", (room: string, cb?: () => void) => {
        void Promise.resolve(socket.leave(room)).then(() => cb?.());
      });
    });
    nsp.on("hello", (...args: unknown[]) => {
      const last = args[args.length - 1];
      if (typeof last === "function") {
        const payload = args.slice(0, -1);
        serverEvents.push([nsp.name, "hello", ...payload]);
        // a node asked "never-<its name>" does not answer (the requester must time out)
        if (payload[0] === `never-${config.name}`) return;
        (last as (v: unknown) => void)(`${config.name}:${JSON.stringify(payload)}`);
      } else {
        serverEvents.push([nsp.name, "hello", ...args]);
      }
    });
  };
  setup(io.of("/"));
  setup(io.of("/custom"));
  // exclusive: a cluster worker gets a port of its own instead of sharing the primary's
  httpServer.listen({ port: 0, exclusive: true });
  await new Promise((resolve) => httpServer.once("listening", resolve));
  const port = (httpServer.address() as AddressInfo).port;

  const run = async (c: Command): Promise<unknown> => {
    const nsp = io.of(c.nsp ?? "/");
    let op: Op = nsp;
    if (c.rooms?.length) op = op.to(c.rooms);
    if (c.except?.length) op = op.except(c.except);
    if (c.flags?.volatile) op = op.volatile;
    if (c.flags?.compress === false) op = op.compress(false);
    if (c.flags?.local) op = op.local;
    if (c.flags?.timeout !== undefined) op = op.timeout(c.flags.timeout);
    switch (c.cmd) {
      case "emit":
        op.emit(c.event as string, ...(c.args ?? []));
        return null;
      case "emitWithAck":
        try {
          return { responses: await op.emitWithAck(c.event as string, ...(c.args ?? [])) };
        } catch (e) {
          return {
            error: (e as Error).message,
            responses: (e as { responses?: unknown }).responses,
          };
        }
      case "socketsJoin":
        op.socketsJoin(c.room as string);
        return null;
      case "socketsLeave":
        op.socketsLeave(c.room as string);
        return null;
      case "disconnectSockets":
        op.disconnectSockets(c.close ?? false);
        return null;
      case "fetchSockets": {
        try {
          const sockets = await op.fetchSockets();
          return {
            sockets: sockets
              .map((s) => ({
                id: s.id,
                rooms: [...s.rooms].map(String).sort(),
                data: s.data,
              }))
              .sort(
                (a, b) => a.data.n - b.data.n || String(a.data.node).localeCompare(b.data.node),
              ),
          };
        } catch (e) {
          return {
            error: (e as Error).message,
            responses: (e as { responses?: unknown[] }).responses?.length,
          };
        }
      }
      case "remoteJoin": {
        // RemoteSocket.join / leave / disconnect / emit on every socket found, local or not
        const sockets = await op.fetchSockets();
        for (const s of sockets) {
          if (c.event === "join") s.join(c.room as string);
          else if (c.event === "leave") s.leave(c.room as string);
          else if (c.event === "disconnect") s.disconnect(c.close);
          else if (c.event === "emit") s.emit("direct", config.name);
        }
        return sockets.length;
      }
      case "remoteEmitWithAck": {
        // RemoteSocket.timeout().emitWithAck on each socket found (one answer each, across nodes)
        const sockets = await op.fetchSockets();
        const answers = await Promise.all(
          sockets.map((s) =>
            s
              .timeout(2000)
              .emitWithAck(c.event as string, ...(c.args ?? []))
              .catch((e: Error) => e.message),
          ),
        );
        return answers.map(String).sort();
      }
      case "allSockets":
        return [...(await op.allSockets())].sort();
      case "serverCount":
        return nsp.adapter.serverCount();
      case "serverSideEmit":
        nsp.serverSideEmit(c.event as string, ...(c.args ?? []));
        return null;
      case "serverSideEmitWithAck":
        try {
          return {
            responses: (
              (await nsp.serverSideEmitWithAck(c.event as string, ...(c.args ?? []))) as string[]
            ).sort(),
          };
        } catch (e) {
          return {
            error: (e as Error).message,
            responses: (e as { responses?: unknown }).responses,
          };
        }
      case "localRooms": {
        const out: Record<string, string[]> = {};
        for (const [id, socket] of nsp.sockets) out[id] = [...socket.rooms].map(String).sort();
        return out;
      }
      case "serverEvents":
        return serverEvents.splice(0);
      case "watchRoomEvents": {
        if (roomEvents.has(nsp.name)) return null;
        const seen: Array<[string, string, string | undefined]> = [];
        roomEvents.set(nsp.name, seen);
        for (const ev of ["create-room", "delete-room", "join-room", "leave-room"])
          nsp.adapter.on?.(ev, (room: string, id?: string) => seen.push([ev, String(room), id]));
        return null;
      }
      case "roomEvents":
        return (roomEvents.get(nsp.name) ?? []).splice(0);
      case "adapterMaps": {
        // the local maps, as plain data: { sids: { id: rooms }, rooms: { room: ids } }, sorted
        const plain = (map: Map<string | number, Set<string | number>> | undefined) =>
          Object.fromEntries(
            [...(map ?? [])].map(([k, v]) => [String(k), [...v].map(String).sort()]),
          );
        return { sids: plain(nsp.adapter.sids), rooms: plain(nsp.adapter.rooms) };
      }
      case "errors":
        return [...errors];
      case "uid":
        return nsp.adapter.uid;
      case "close":
        await io.close();
        await clients.quit();
        setTimeout(() => process.exit(0), 50);
        return null;
      default:
        throw new Error(`unknown command ${c.cmd}`);
    }
  };

  process.on("message", (c: Command) => {
    if (typeof c?.cmd !== "string") return; // a cluster adapter's message on the same channel
    run(c).then(
      (result) => process.send?.({ id: c.id, result }),
      (e: unknown) =>
        process.send?.({ id: c.id, error: e instanceof Error ? e.message : String(e) }),
    );
  });
  process.on("disconnect", () => process.exit(0));
  process.on("unhandledRejection", (e) => {
    errors.push(`unhandledRejection: ${String(e)}`);
    process.send?.({ unhandled: String(e) });
  });
  process.send?.({ ready: true, port });
}

main().catch((e: unknown) => {
  process.send?.({ fatal: e instanceof Error ? e.stack : String(e) });
  process.exit(1);
});
