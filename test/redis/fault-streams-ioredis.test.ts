// the scenario and what it checks: test/redis/fault.ts
import { test } from "node:test";
import { streamsRestart } from "./fault";

test("Redis stopped and restarted under two nodes, streams adapter (ioredis)", () =>
  streamsRestart("ioredis"));
