/**
 * The adapter conformance suite (test/adapter/suite.ts) on three Switchyard nodes joined by the Redis adapter:
 * classic over node-redis and sharded over ioredis, each node with its own pair of connections.
 */
import { once } from "node:events";
import { Redis } from "ioredis";
import { createClient } from "redis";
import type { AdapterConstructor } from "../../src";
import { createAdapter, createShardedAdapter } from "../../src/adapters/redis";
import { adapterSuite, startCluster } from "../adapter/suite";
import { REDIS_URL, uniqueKey, within } from "./cluster";

adapterSuite("redis (classic, node-redis, 3 nodes)", async () => {
  const key = uniqueKey("suite-classic");
  const pairs = await Promise.all(
    [0, 1, 2].map(async () => {
      const pub = createClient({ url: REDIS_URL });
      const sub = pub.duplicate();
      await Promise.all([pub.connect(), sub.connect()]);
      return { pub, sub };
    }),
  );
  let i = 0;
  const cluster = await startCluster(3, () => {
    const { pub, sub } = pairs[i++]!;
    return createAdapter(pub, sub, {
      key,
      requestsTimeout: 3000,
    }) as unknown as AdapterConstructor;
  });
  return {
    nodes: cluster.nodes,
    async close() {
      await cluster.close();
      await Promise.allSettled(pairs.flatMap(({ pub, sub }) => [pub.quit(), sub.quit()]));
    },
  };
});

adapterSuite("redis (sharded, ioredis, 3 nodes)", async () => {
  const key = uniqueKey("suite-sharded");
  // connected before the servers start: a subscription still queued in ioredis would miss the first messages
  const pairs = [0, 1, 2].map(() => {
    const pub = new Redis(REDIS_URL);
    return { pub, sub: pub.duplicate() };
  });
  const clients = pairs.flatMap(({ pub, sub }) => [pub, sub]);
  await Promise.all(
    clients.map((c) =>
      c.status === "ready" ? undefined : within(once(c, "ready"), "ioredis ready"),
    ),
  );
  let i = 0;
  const cluster = await startCluster(3, () => {
    const { pub, sub } = pairs[i++]!;
    return createShardedAdapter(pub, sub, {
      channelPrefix: key,
      requestsTimeout: 3000,
    }) as unknown as AdapterConstructor;
  });
  return {
    nodes: cluster.nodes,
    async close() {
      await cluster.close();
      await Promise.allSettled(clients.map((c) => c.quit()));
    },
  };
});
