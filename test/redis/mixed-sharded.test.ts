import { test } from "node:test";
import { mixedCluster } from "./mixed";

const impl = "switchyard" as const;

test("mixed cluster, sharded adapter (dynamic), node-redis", () =>
  mixedCluster({ mode: "sharded", client: "redis", impl }));

test("mixed cluster, sharded adapter (dynamic), ioredis", () =>
  mixedCluster({ mode: "sharded", client: "ioredis", impl }));

test("mixed cluster, sharded adapter (static), node-redis", () =>
  mixedCluster({ mode: "sharded", client: "redis", impl, subscriptionMode: "static" }));

test("mixed cluster, sharded adapter (dynamic-private), ioredis", () =>
  mixedCluster({ mode: "sharded", client: "ioredis", impl, subscriptionMode: "dynamic-private" }));
