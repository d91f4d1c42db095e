/**
 * `switchyard/cluster-adapter` under Switchyard's `setupPrimary` (this test process is the primary): official
 * socket.io workers on `@socket.io/cluster-adapter` and Switchyard workers form one cluster; a killed worker
 * is announced to the others at once.
 */
import { test } from "node:test";
import { setupPrimary } from "../../src/adapters/cluster";
import { mixedCluster } from "../redis/mixed";
import { joinLeaveAndKill } from "./scenarios";

setupPrimary();

test("mixed node:cluster workers under Switchyard's primary: every broadcast and utility, both ways", () =>
  mixedCluster({ mode: "cluster", client: "redis", impl: "switchyard" }));

test("Switchyard's primary: serverCount follows workers; a killed worker ends requests at once", () =>
  joinLeaveAndKill({ requestsTimeout: 20000, closeNotice: true }));
