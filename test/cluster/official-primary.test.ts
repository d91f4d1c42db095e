/**
 * `switchyard/cluster-adapter` under `@socket.io/cluster-adapter`'s own `setupPrimary` (this test process is
 * the primary): the same mixed cluster; a killed worker ends requests at the requests timeout, with the
 * answers received so far.
 */
import { test } from "node:test";
import { setupPrimary } from "@socket.io/cluster-adapter";
import { mixedCluster } from "../redis/mixed";
import { joinLeaveAndKill } from "./scenarios";

setupPrimary();

test("mixed node:cluster workers under the official primary: every broadcast and utility, both ways", () =>
  mixedCluster({ mode: "cluster", client: "redis", impl: "switchyard" }));

test("official primary: serverCount follows workers; a killed worker ends requests at the timeout", () =>
  joinLeaveAndKill({ requestsTimeout: 3000, closeNotice: false }));
