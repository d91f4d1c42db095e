// The demo in a real headless browser (Debian's chromium driven by playwright-core): two users chat
// in a room with acknowledgements, the admin panel moves one of them to another room and
// disconnects it; one session stays on HTTP long-polling while another upgrades to WebSocket.
//
// DEMO_SCREENSHOT=docs/demo.png also saves the screenshot shown in the README.
import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Page } from "playwright-core";
import {
  DemoBrowser,
  adminAction,
  contains,
  hasAttribute,
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

describe("the demo in chromium", () => {
  let demo: Demo;
  let browser: DemoBrowser;

  before(async () => {
    demo = await startDemo({ port: 0, host: "127.0.0.1" });
    browser = await DemoBrowser.launch();
  });

  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  function open(query: string): Promise<Page> {
    return browser.open(`${demo.url}/?${query}`);
  }

  test("two users chat with acks; the admin moves one to another room and disconnects it", async () => {
    // The page loads the client bundle from the server itself.
    const alice = await open("");
    assert.equal(
      await alice.evaluate(() => typeof (window as unknown as { io: unknown }).io),
      "function",
    );
    const aliceId = await login(alice, "alice");
    const bob = await open("");
    const bobId = await login(bob, "bob");
    assert.notEqual(aliceId, bobId);
    await hasText(alice.getByTestId("clients-count"), "2");
    await hasText(alice.getByTestId("sockets-count"), "2");
    await hasText(alice.getByTestId("adapter-name"), "in-memory");

    await joinRoom(alice, "lobby");
    await joinRoom(bob, "lobby");

    // A message to the room reaches bob, and alice sees its acknowledgement.
    await send(alice, "lobby", "hello bob");
    const received = bob.getByTestId("message");
    await hasCount(received, 1);
    await hasText(received.getByTestId("message-body"), "hello bob");
    await hasText(received.locator("strong"), "alice");
    const sent = alice.getByTestId("message");
    await hasText(sent.getByTestId("message-status"), "✓ delivered · 1 reader");

    // And back.
    await send(bob, "lobby", "hi alice");
    await hasCount(alice.getByTestId("message"), 2);
    await hasText(alice.getByTestId("message").nth(1).getByTestId("message-body"), "hi alice");
    await hasText(
      bob.getByTestId("message").nth(1).getByTestId("message-status"),
      "✓ delivered · 1 reader",
    );

    // socketsJoin / socketsLeave on bob's socket id: bob moves from "lobby" to "backstage".
    await adminAction(alice, "join", { target: bobId, room: "backstage" });
    await hasCount(roomItem(bob, "backstage"), 1);
    await adminAction(alice, "leave", { target: bobId, room: "lobby" });
    await hasCount(roomItem(bob, "lobby"), 0);
    assert.deepEqual(await roomsOf(bob), ["backstage"]);
    assert.deepEqual(await roomsOf(alice), ["lobby"]);
    await contains(bob.getByTestId("events"), 'now in room "backstage"');
    await contains(bob.getByTestId("events"), 'no longer in room "lobby"');

    // fetchSockets lists both users with their data and rooms.
    await adminAction(alice, "fetch", {});
    const rows = alice.getByTestId("socket-row");
    await hasCount(rows, 2);
    const bobRow = alice.locator(`[data-testid="socket-row"][data-id="${bobId}"] td`);
    await hasText(bobRow, ["bob", bobId, "backstage", /^node-\d+$/, "websocket"]);
    const aliceRow = alice.locator(`[data-testid="socket-row"][data-id="${aliceId}"] td`);
    await hasText(aliceRow, ["alice", aliceId, "lobby", /^node-\d+$/, "websocket"]);
    // Filters apply: in("lobby") finds alice only, except("lobby") bob only.
    await adminAction(alice, "fetch", { target: "lobby" });
    await hasText(alice.getByTestId("admin-result"), "fetchSockets(): 1 socket(s)");
    await hasCount(rows, 1);
    await hasAttribute(rows.first(), "data-id", aliceId);
    await adminAction(alice, "fetch", { except: "lobby" });
    await hasAttribute(rows.first(), "data-id", bobId);
    await hasCount(rows, 1);

    // A lobby message no longer reaches bob; the ack says nobody read it.
    await send(alice, "lobby", "anyone here?");
    await hasText(
      alice.getByTestId("message").nth(2).getByTestId("message-status"),
      "✓ delivered · 0 readers",
    );
    await hasCount(bob.getByTestId("message"), 2);

    if (process.env["DEMO_SCREENSHOT"]) {
      await adminAction(alice, "fetch", {});
      await hasCount(rows, 2);
      await alice.getByTestId("admin-target").fill(bobId);
      await alice.getByTestId("admin-room").fill("backstage");
      await alice.getByTestId("admin-room").blur();
      const file = path.resolve(process.env["DEMO_SCREENSHOT"]);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      await alice.locator("body").screenshot({ path: file });
    }

    // disconnectSockets on bob's id: bob is disconnected by the server, alice stays.
    await adminAction(alice, "disconnect", { target: bobId });
    await hasText(bob.getByTestId("status"), "disconnected (io server disconnect)");
    await hasText(bob.getByTestId("connect"), "Reconnect");
    await hasText(alice.getByTestId("clients-count"), "1");
    await hasText(alice.getByTestId("sockets-count"), "1");
    await hasText(alice.getByTestId("status"), "connected as alice");
    await adminAction(alice, "fetch", {});
    await hasCount(rows, 1);
    await hasAttribute(rows.first(), "data-id", aliceId);

    // serverSideEmit on a single node: no other node answers.
    await adminAction(alice, "hello", {});
    await hasText(alice.getByTestId("admin-result"), "no other node answered (in-memory adapter)");
  });

  test("one session stays on long-polling, another upgrades to WebSocket", async () => {
    const carol = await open("transports=polling");
    const carolId = await login(carol, "carol");
    const dave = await open("");
    const daveId = await login(dave, "dave");
    await hasText(dave.getByTestId("transport"), "websocket");
    await hasText(carol.getByTestId("transport"), "polling");

    // Messages flow both ways across the two transports.
    await joinRoom(carol, "mixed");
    await joinRoom(dave, "mixed");
    await send(carol, "mixed", "from polling");
    await hasText(dave.getByTestId("message").getByTestId("message-body"), "from polling");
    await hasText(carol.getByTestId("message-status"), "✓ delivered · 1 reader");
    await send(dave, "mixed", "from websocket");
    await hasText(
      carol.getByTestId("message").nth(1).getByTestId("message-body"),
      "from websocket",
    );
    await hasText(
      dave.getByTestId("message").nth(1).getByTestId("message-status"),
      "✓ delivered · 1 reader",
    );

    // The server agrees on each session's transport (socket.data.transport via fetchSockets).
    await adminAction(dave, "fetch", { target: "mixed" });
    await hasText(dave.locator(`[data-id="${carolId}"] td`).nth(4), "polling");
    await hasText(dave.locator(`[data-id="${daveId}"] td`).nth(4), "websocket");
    // Still polling after all that traffic.
    await hasText(carol.getByTestId("transport"), "polling");

    // /metrics counts carol on polling, dave (and alice, still there) on WebSocket; the admin panel's
    // live chart reads the same numbers and draws its line.
    const scraped = await fetch(`${demo.url}/metrics`);
    assert.equal(scraped.status, 200);
    const text = await scraped.text();
    const connected = (transport: string) =>
      Number(
        new RegExp(
          `^switchyard_sockets_connected\\{namespace="/",transport="${transport}"\\} (\\d+)$`,
          "m",
        ).exec(text)?.[1],
      );
    assert.equal(connected("polling"), 1);
    assert.ok(connected("websocket") >= 1);
    await hasText(
      dave.getByTestId("metric-connections"),
      String(connected("polling") + connected("websocket")),
    );
    await dave.waitForFunction(
      () =>
        (document.getElementById("chart-connections")?.getAttribute("points") ?? "").includes(","),
      undefined,
      { timeout: 15000 },
    );
    assert.deepEqual(browser.pageErrors, [], "no uncaught errors in the pages");
  });

  test("a dropped connection comes back as the same session, with the events it missed", async () => {
    const erin = await open("");
    const erinId = await login(erin, "erin");
    await joinRoom(erin, "garden");
    // The page drops its connection (the server sees a transport close, as when a network goes away); its
    // manager is told not to reconnect by itself, so that events happen while it is away.
    await erin.evaluate("socket.io.reconnection(false); socket.io.engine.close()");
    await hasText(erin.getByTestId("status"), "disconnected (forced close)");
    // Meanwhile the server broadcasts the stats twice: erin's session ended, frank arrived.
    const frank = await open("");
    await login(frank, "frank");
    await erin.evaluate("socket.connect()");
    await hasText(erin.getByTestId("status"), "connected as erin");
    const recovered = erin.getByTestId("events").locator("li", { hasText: "reconnected:" });
    await hasCount(recovered, 1);
    const line = (await recovered.textContent()) ?? "";
    const missed = Number(/reconnected: (\d+) missed events delivered/.exec(line)?.[1]);
    assert.ok(missed >= 2, `missed events: ${line}`);
    await hasText(erin.getByTestId("socket-id"), erinId);
    assert.deepEqual(await roomsOf(erin), ["garden"]);
    assert.deepEqual(browser.pageErrors, [], "no uncaught errors in the pages");
  });
});
