import { test } from "node:test";
import { mixedCluster } from "./mixed";

const impl = "switchyard" as const;

test("mixed cluster, classic adapter, node-redis: official node and Switchyard adapter node", () =>
  mixedCluster({ mode: "classic", client: "redis", impl }));

test("mixed cluster, classic adapter, ioredis: official node and Switchyard adapter node", () =>
  mixedCluster({ mode: "classic", client: "ioredis", impl }));
