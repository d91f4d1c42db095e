/**
 * A mixed cluster on Postgres: an official socket.io 4.8 node with `@socket.io/postgres-adapter` 0.5 and a
 * Switchyard node with `switchyard/postgres-adapter`, each in its own process; every broadcast and utility method
 * in both directions (the scenario of test/redis/mixed.ts, over Postgres).
 */
import { test } from "node:test";
import { mixedCluster } from "../redis/mixed";
import { attachmentTable, nodePg } from "../support/postgres";

const { table } = attachmentTable("mixed");

test("mixed cluster on Postgres: official node and Switchyard node, both directions", () =>
  mixedCluster({
    mode: "classic",
    client: "redis",
    impl: "switchyard",
    extra: {
      backend: "postgres",
      pg: nodePg(table, "sy-test-mixed", { heartbeatInterval: 1000, heartbeatTimeout: 5000 }),
    },
  }));
