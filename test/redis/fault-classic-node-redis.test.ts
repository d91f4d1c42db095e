// the scenario and what it checks: test/redis/fault.ts
import { test } from "node:test";
import { classicRestart } from "./fault";

test("Redis stopped and restarted under a mixed cluster, classic adapter (node-redis)", () =>
  classicRestart("redis"));
