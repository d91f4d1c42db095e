/** Test helpers for the Redis adapter: cluster nodes in child processes, clients, waiting, unique keys. */
import { fork, type ChildProcess } from "node:child_process";
import cluster from "node:cluster";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { io as ioc, type Socket as ClientSocket } from "socket.io-client";
import type { Command, NodeConfig } from "./node";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** A key prefix no other test (or run) uses. */
export function uniqueKey(label: string): string {
  return `sy-test-${label}-${randomBytes(4).toString("hex")}`;
}

export interface ClusterNode {
  name: string;
  port: number;
  child: ChildProcess;
  unhandled: string[];
  run<T = unknown>(cmd: Omit<Command, "id">): Promise<T>;
  /** A socket.io-client 4.8 client of this node, connected. */
  client(nsp?: string): Promise<ClientSocket>;
  /**
   * Disconnects the clients made by `client()` on this node, and only those: scenarios that run at once in one
   * process (mixed-streams.test.ts) each close their own clients, where the global closeClients() would cut
   * the other scenario's clients off in the middle of its checks.
   */
  closeClients(): void;
  stop(): Promise<void>;
  kill(): void;
}

const clientsToClose = new Set<ClientSocket>();

export async function startNode(
  config: Partial<NodeConfig> & Pick<NodeConfig, "name" | "key">,
): Promise<ClusterNode> {
  const full: NodeConfig = {
    impl: "switchyard",
    adapter: "switchyard",
    mode: "classic",
    client: "redis",
    redisUrl: REDIS_URL,
    requestsTimeout: 2000,
    ...config,
  };
  const child = full.mode === "cluster" ? forkWorker(full) : forkNode(full);
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const unhandled: string[] = [];
  const ownClients = new Set<ClientSocket>();
  let nextId = 1;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${full.name} did not start`)), 60000);
    child.on(
      "message",
      (m: {
        ready?: boolean;
        port?: number;
        fatal?: string;
        id?: number;
        result?: unknown;
        error?: string;
        unhandled?: string;
      }) => {
        if (m.ready) {
          clearTimeout(timer);
          resolve(m.port as number);
        } else if (m.fatal) {
          clearTimeout(timer);
          reject(new Error(m.fatal));
        } else if (m.unhandled) {
          unhandled.push(m.unhandled);
        } else if (m.id !== undefined) {
          const p = pending.get(m.id);
          pending.delete(m.id);
          if (m.error !== undefined) p?.reject(new Error(m.error));
          else p?.resolve(m.result);
        }
      },
    );
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${full.name} exited with ${code}`));
      for (const p of pending.values()) p.reject(new Error(`node ${full.name} exited`));
      pending.clear();
    });
  });
  const node: ClusterNode = {
    name: full.name,
    port,
    child,
    unhandled,
    run<T>(cmd: Omit<Command, "id">): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        // a command that never answers fails here, named, instead of running into the test's timeout
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`node ${full.name}: no answer to ${JSON.stringify(cmd)} in 30 s`));
        }, 30000);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            (resolve as (v: unknown) => void)(v);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ ...cmd, id });
      });
    },
    async client(nsp = "/") {
      const socket = ioc(`http://127.0.0.1:${port}${nsp}`, {
        forceNew: true,
        reconnection: false,
        transports: ["websocket"],
      });
      clientsToClose.add(socket);
      ownClients.add(socket);
      await connected(socket, `a client of ${full.name}`);
      return socket;
    },
    closeClients() {
      for (const socket of ownClients) {
        socket.disconnect();
        clientsToClose.delete(socket);
      }
      ownClients.clear();
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      await node.run({ cmd: "close" }).catch(() => undefined);
      await Promise.race([exited, sleep(3000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
    kill() {
      child.kill("SIGKILL");
    },
  };
  return node;
}

function forkNode(config: NodeConfig): ChildProcess {
  return fork(join(__dirname, "node.ts"), [JSON.stringify(config)], {
    execArgv: ["--import", "tsx"],
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

/**
 * A node:cluster worker of this process (mode "cluster"): the test process is the primary, and the caller has
 * installed a primary's forwarding (`setupPrimary` of either cluster adapter) before.
 */
function forkWorker(config: NodeConfig): ChildProcess {
  cluster.setupPrimary({
    exec: join(__dirname, "node.ts"),
    execArgv: ["--import", "tsx"],
    serialization: "advanced",
  });
  return cluster.fork({ SY_NODE_CONFIG: JSON.stringify(config) }).process;
}

/** Disconnects every client made by any node's `client()` (for tests that run one scenario at a time). */
export function closeClients(): void {
  for (const socket of clientsToClose) socket.disconnect();
  clientsToClose.clear();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Collects the events `event` a client receives. */
export function record(socket: ClientSocket, event: string): unknown[][] {
  const seen: unknown[][] = [];
  socket.on(event, (...args: unknown[]) => seen.push(args));
  return seen;
}

/** `promise`, or a rejection naming `what` once `ms` have passed: a wait with a deadline. */
export function within<T>(promise: Promise<T>, what: string, ms = 15000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Resolves when `socket` connects; rejects on its connect_error or after `ms`. */
export function connected(socket: ClientSocket, what: string, ms = 15000): Promise<void> {
  const connection = new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", reject);
  });
  return within(connection, `${what} to connect`, ms);
}

/** Resolves with the reason of `socket`'s next disconnection (rejects after `ms`). */
export function disconnected(socket: ClientSocket, what: string, ms = 15000): Promise<string> {
  return within(
    new Promise<string>((resolve) => socket.once("disconnect", (reason) => resolve(reason))),
    `${what} to disconnect`,
    ms,
  );
}

/** Polls `check` until it returns true (rejects after `ms`, with `what` in the message). */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 15000,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Moves a client to `to` and waits for its next connection; whether it recovered. */
export async function moveTo(socket: ClientSocket, to: ClusterNode): Promise<boolean> {
  const manager = socket.io as unknown as { uri: string };
  manager.uri = `http://127.0.0.1:${to.port}`;
  const connection = connected(socket, `a client moving to ${to.name}`);
  socket.connect();
  await connection;
  return socket.recovered;
}

/** Drops the client's connection (a transport close: the server keeps its session). */
export async function drop(socket: ClientSocket): Promise<void> {
  const gone = disconnected(socket, "a dropped client");
  (socket.io as unknown as { engine: { close(): void } }).engine.close();
  await gone;
}
