/**
 * Mixed clusters over Redis Streams: an official socket.io node with @socket.io/redis-streams-adapter 0.3.1 and
 * a Switchyard node with switchyard/redis-streams-adapter (connection state recovery on), every broadcast and
 * utility method in both directions (test/redis/mixed.ts), with both Redis clients. Recovery between the two
 * kinds of nodes, both ways: streams-recovery.test.ts.
 *
 * The two scenarios run at once in this process, so each closes only its own clients (ClusterNode.closeClients).
 * Until 2026-12-02 both called the global closeClients(), and the first to end disconnected the other's clients
 * in the middle of its checks, which then timed out waiting for a broadcast that no client of its was left to
 * receive: that kept this file out of `npm test` as "flaky", the official node being suspected at first.
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
