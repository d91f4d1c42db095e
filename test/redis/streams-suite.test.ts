/**
 * The adapter conformance suite (test/adapter/suite.ts) on three Switchyard nodes joined by the Redis Streams
 * adapter, over node-redis and over ioredis; each run has its own stream, channel prefix and session prefix.
 */
import { once } from "node:events";
import { Redis } from "ioredis";
import { createClient } from "redis";
import type { AdapterConstructor } from "../../src";
import { createAdapter } from "../../src/adapters/redis-streams";
import { adapterSuite, startCluster } from "../adapter/suite";
import { REDIS_URL, uniqueKey, within } from "./cluster";

function streamsOptions(key: string) {
  return {
    streamName: `${key}-stream`,
    channelPrefix: `${key}-ch`,
    sessionKeyPrefix: `${key}-sess:`,
    blockTimeInMs: 1000,
    requestsTimeout: 3000,
  };
}

async function cleanup(client: { sendCommand(args: string[]): Promise<unknown> }, key: string) {
  await client.sendCommand(["DEL", `${key}-stream`]);
}

adapterSuite("redis streams (node-redis, 3 nodes)", async () => {
  const key = uniqueKey("suite-streams");
  const clients = await Promise.all(
    [0, 1, 2].map(async () => {
      const c = createClient({ url: REDIS_URL });
      await c.connect();
      return c;
    }),
  );
  let i = 0;
  const cluster = await startCluster(
    3,
    () => createAdapter(clients[i++]!, streamsOptions(key)) as unknown as AdapterConstructor,
  );
  return {
    nodes: cluster.nodes,
    async close() {
      await cluster.close();
      await cleanup(clients[0]!, key);
      await Promise.allSettled(clients.map((c) => c.quit()));
    },
  };
});

adapterSuite("redis streams (ioredis, 3 nodes)", async () => {
  const key = uniqueKey("suite-streams-io");
  const clients = [0, 1, 2].map(() => new Redis(REDIS_URL));
  await Promise.all(
    clients.map((c) =>
      c.status === "ready" ? undefined : within(once(c, "ready"), "ioredis ready"),
    ),
  );
  let i = 0;
  const cluster = await startCluster(
    3,
    () => createAdapter(clients[i++]!, streamsOptions(key)) as unknown as AdapterConstructor,
  );
  return {
    nodes: cluster.nodes,
    async close() {
      await cluster.close();
      await clients[0]!.del(`${key}-stream`);
      await Promise.allSettled(clients.map((c) => c.quit()));
    },
  };
});
