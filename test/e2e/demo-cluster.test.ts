// Two demo nodes on one Redis (REDIS_URL, default redis://127.0.0.1:6379), one browser page on
// each: messages and their acknowledgements cross nodes, serverSideEmit reaches the other node and
// comes back with its answer, and the admin panel of one node moves and disconnects a socket that
// lives on the other.
import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  DemoBrowser,
  adminAction,
  contains,
  hasCount,
  hasText,
  joinRoom,
  login,
  roomItem,
  roomsOf,
  send,
  startDemo,
  type Demo,
} from "./support";

const REDIS_URL = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379";

describe("two demo nodes on Redis", () => {
  let nodeA: Demo;
  let nodeB: Demo;
  let browser: DemoBrowser;

  before(async () => {
    // A channel prefix of our own, so other tests on the same Redis stay out of this cluster.
    const redisKey = `demo-e2e-${randomUUID()}`;
    const common = { port: 0, host: "127.0.0.1", redisUrl: REDIS_URL, redisKey };
    nodeA = await startDemo({ ...common, nodeName: "node-a" });
    nodeB = await startDemo({ ...common, nodeName: "node-b" });
    browser = await DemoBrowser.launch();
  });

  after(async () => {
    await browser?.close();
    await nodeA?.close();
    await nodeB?.close();
  });

  test("chat, serverSideEmit and the admin actions work across the nodes", async () => {
    const ann = await browser.open(`${nodeA.url}/`);
    const annId = await login(ann, "ann");
    const ben = await browser.open(`${nodeB.url}/`);
    const benId = await login(ben, "ben");
    await hasText(ann.getByTestId("node-name"), "node-a");
    await hasText(ben.getByTestId("node-name"), "node-b");
    await hasText(ann.getByTestId("adapter-name"), "redis");
    // Each node counts its own connections.
    await hasText(ann.getByTestId("clients-count"), "1");
    await hasText(ben.getByTestId("clients-count"), "1");

    // A message and its acknowledgement cross the nodes.
    await joinRoom(ann, "hub");
    await joinRoom(ben, "hub");
    await send(ann, "hub", "hello from a");
    await hasText(ben.getByTestId("message").getByTestId("message-body"), "hello from a");
    await hasText(ann.getByTestId("message-status"), "✓ delivered · 1 reader");
    await send(ben, "hub", "hello from b");
    await hasText(ann.getByTestId("message").nth(1).getByTestId("message-body"), "hello from b");
    await hasText(
      ben.getByTestId("message").nth(1).getByTestId("message-status"),
      "✓ delivered · 1 reader",
    );

    // serverSideEmit with an ack: node-b answers, and ben's page shows the hello.
    await adminAction(ann, "hello");
    await hasText(ann.getByTestId("admin-result"), "answered by node-b (Redis adapter)");
    await contains(ben.getByTestId("events"), "hello from node-a");

    // fetchSockets lists the sockets of both nodes with their data.
    await adminAction(ann, "fetch");
    await hasCount(ann.getByTestId("socket-row"), 2);
    await hasText(ann.locator(`[data-id="${benId}"] td`), [
      "ben",
      benId,
      "hub",
      "node-b",
      "websocket",
    ]);
    await hasText(ann.locator(`[data-id="${annId}"] td`), [
      "ann",
      annId,
      "hub",
      "node-a",
      "websocket",
    ]);

    // socketsJoin / socketsLeave from node-a move ben, who lives on node-b.
    await adminAction(ann, "join", { target: benId, room: "annex" });
    await hasCount(roomItem(ben, "annex"), 1);
    await adminAction(ann, "leave", { target: benId, room: "hub" });
    await hasCount(roomItem(ben, "hub"), 0);
    assert.deepEqual(await roomsOf(ben), ["annex"]);
    assert.deepEqual(await roomsOf(ann), ["hub"]);

    // disconnectSockets from node-a disconnects ben on node-b.
    await adminAction(ann, "disconnect", { target: benId });
    await hasText(ben.getByTestId("status"), "disconnected (io server disconnect)");
    await hasText(ann.getByTestId("status"), "connected as ann");
    await adminAction(ann, "fetch");
    await hasCount(ann.getByTestId("socket-row"), 1);
    await hasText(ann.locator(`[data-id="${annId}"] td`).first(), "ann");
    assert.deepEqual(browser.pageErrors, [], "no uncaught errors in the pages");
  });
});
