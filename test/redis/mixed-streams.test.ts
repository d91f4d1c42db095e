/**
 * Mixed clusters over Redis Streams: an official socket.io node with @socket.io/redis-streams-adapter 0.3.1 and
 * a Switchyard node with switchyard/redis-streams-adapter (connection state recovery on), every broadcast and
 * utility method in both directions (test/redis/mixed.ts), with both Redis clients. Recovery between the two
 * kinds of nodes, both ways: streams-recovery.test.ts.
 */
import { test } from "node:test";
import { mixedCluster } from "./mixed";

const impl = "switchyard" as const;

// both clients at once (each scenario has its own keys and nodes), to halve the wall time
test("mixed cluster, streams adapter, node-redis and ioredis", async () => {
  await Promise.all([
    mixedCluster({ mode: "streams", client: "redis", impl }),
    mixedCluster({ mode: "streams", client: "ioredis", impl }),
  ]);
});
