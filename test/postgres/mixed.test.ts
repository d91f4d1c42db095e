/**
 * A mixed cluster on Postgres: an official socket.io 4.8 node with `@socket.io/postgres-adapter` 0.5 and a
 * Switchyard node with `switchyard/postgres-adapter`, each in its own process; every broadcast and utility method
 * in both directions (the scenario of test/redis/mixed.ts, over Postgres).
 */
import { after, before, test } from "node:test";
import type { Pool } from "pg";
import { mixedCluster } from "../redis/mixed";
import { adminPool, createTable, dropTable, nodePg, uniqueNames } from "./support";

const { table } = uniqueNames("mixed");
let admin: Pool;

before(async () => {
  admin = adminPool();
  // the official node never creates the attachment table; the Switchyard one would, but it may start second
  await createTable(admin, table);
});
after(async () => {
  await dropTable(admin, table);
  await admin.end();
});

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
