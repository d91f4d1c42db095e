/**
 * A redis-server of the test's own, on a free port, for tests that stop and restart Redis (the shared server at
 * 6379 must never be stopped). It persists nothing: a restart comes back empty, as after a crash without
 * persistence. The pub/sub state is read with redis-cli, independently of the clients under test.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { Redis } from "ioredis";
import { createClient } from "redis";
import type { RedisClient } from "../../src/adapters/redis/client";
import { freePort } from "./net";

export type RedisKind = "redis" | "ioredis";

/**
 * A connected client (node-redis or ioredis) that retries every 200 ms while Redis is away (and holds its commands
 * meanwhile), for tests of outages.
 */
export async function retryingRedisClient(kind: RedisKind, url: string): Promise<RedisClient> {
  if (kind === "redis") {
    const client = createClient({ url, socket: { reconnectStrategy: () => 200 } });
    client.on("error", () => {});
    await client.connect();
    return client;
  }
  const client = new Redis(url, { retryStrategy: () => 200 });
  client.on("error", () => {});
  await once(client, "ready");
  return client;
}

export interface PrivateRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Kills the server (SIGKILL: a crash, the clients' connections drop) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts the server again on the same port (killing it first if it runs), empty; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Runs one command with redis-cli (5 s deadline); the reply as redis-cli prints it, trimmed. */
  cli(...args: string[]): Promise<string>;
  /** `PUBSUB NUMSUB <channel>`: the connections subscribed to `channel`. */
  subscribers(channel: string): Promise<number>;
  /** `PUBSUB NUMPAT`: the pattern subscriptions of every connection. */
  patterns(): Promise<number>;
}

/** Servers still running when the test process exits are killed with it. */
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

const STARTUP_DEADLINE_MS = 20000;

function spawnRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  running.add(child);
  child.once("exit", () => running.delete(child));
  let out = "";
  return new Promise<ChildProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`redis-server on port ${port} not ready in ${STARTUP_DEADLINE_MS} ms: ${out}`),
      );
    }, STARTUP_DEADLINE_MS);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (!out.includes("Ready to accept connections")) return;
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stdout?.resume();
      resolve(child);
    };
    child.stdout?.on("data", onData);
    // e.g. the port was taken by another process while this server was down
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server on port ${port} exited with ${code}: ${out}`));
    });
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

function count(reply: string): number {
  // NUMSUB prints "<channel>\n<count>", NUMPAT "<count>"
  const n = Number(reply.split("\n").pop());
  if (!Number.isInteger(n)) throw new Error(`unexpected redis-cli reply: ${reply}`);
  return n;
}

/** Starts a private redis-server on a free port. Call `stop()` when done (also on failure). */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child = await spawnRedis(port);
  const redis: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => kill(child),
    async restart() {
      await kill(child);
      child = await spawnRedis(port);
    },
    cli: (...args) =>
      new Promise((resolve, reject) => {
        execFile(
          "redis-cli",
          ["-h", "127.0.0.1", "-p", String(port), ...args],
          { timeout: 5000 },
          (err, stdout) => (err ? reject(err) : resolve(stdout.trim())),
        );
      }),
    subscribers: async (channel) => count(await redis.cli("PUBSUB", "NUMSUB", channel)),
    patterns: async () => count(await redis.cli("PUBSUB", "NUMPAT")),
  };
  return redis;
}
