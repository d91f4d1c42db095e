/**
 * The official `@socket.io/redis-emitter` 5.1 reaching a cluster of a Switchyard node and an official node:
 * broadcasts (rooms, except, binary, other namespace), socketsJoin/Leave, disconnectSockets, serverSideEmit.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import {
  closeClients,
  disconnected,
  record,
  startNode,
  uniqueKey,
  until,
  REDIS_URL,
} from "./cluster";

test("the official redis-emitter reaches Switchyard nodes", async () => {
  const key = uniqueKey("emitter");
  const S = await startNode({ name: "S", key, impl: "switchyard", adapter: "switchyard" });
  const O = await startNode({ name: "O", key, impl: "socket.io", adapter: "official" });
  const redis = createClient({ url: REDIS_URL });
  await redis.connect();
  try {
    const emitter = new Emitter(redis, { key });
    const s1 = await S.client();
    const s2 = await S.client();
    const o1 = await O.client();
    const sCustom = await S.client("/custom");
    await s1.timeout(15000).emitWithAck("join", "room1");
    await o1.timeout(15000).emitWithAck("join", "room1");
    const got = [s1, s2, o1].map((c) => record(c, "news"));
    const custom = record(sCustom, "news");

    // volatile first, while every transport is idle (a busy one may drop it, on either server)
    emitter.volatile.emit("news", "volatile");
    await until(() => got.every((list) => list.length === 1), "emitter volatile broadcast");
    emitter.emit("news", "all");
    emitter.to("room1").emit("news", "room1");
    emitter.except("room1").emit("news", "not-room1");
    emitter.emit("news", "bin", Buffer.from([7, 8, 9]));
    emitter.of("/custom").emit("news", "custom");
    await until(
      () => got[0]!.length === 4 && got[1]!.length === 4 && got[2]!.length === 4,
      "emitter broadcasts",
    );
    await until(() => custom.length === 1, "emitter broadcast to /custom");
    // markers published after the broadcasts, on the emitter's one connection: once every client has one, no
    // copy of an earlier broadcast is still on its way
    const markers = [s1, s2, o1, sCustom].map((c) => record(c, "marker"));
    emitter.emit("marker");
    emitter.of("/custom").emit("marker");
    await until(() => markers.every((list) => list.length === 1), "the markers");
    const labels = (list: unknown[][]) => list.map((a) => String(a[0])).sort();
    assert.deepEqual(labels(got[0]!), ["all", "bin", "room1", "volatile"]);
    assert.deepEqual(labels(got[1]!), ["all", "bin", "not-room1", "volatile"]);
    assert.deepEqual(labels(got[2]!), ["all", "bin", "room1", "volatile"]);
    assert.deepEqual(custom, [["custom"]]);
    const bin = got[0]!.find((a) => a[0] === "bin") as unknown[];
    assert.deepEqual([...new Uint8Array(bin[1] as ArrayBuffer)], [7, 8, 9]);

    // socketsJoin / socketsLeave / disconnectSockets (requests without a uid)
    const roomsOf = async (id: string) =>
      (await S.run<Record<string, string[]>>({ cmd: "localRooms" }))[id] ?? [];
    emitter.in("room1").socketsJoin("joined");
    await until(
      async () => (await roomsOf(s1.id as string)).includes("joined"),
      "emitter socketsJoin",
    );
    assert.ok(!(await roomsOf(s2.id as string)).includes("joined"));
    emitter.socketsLeave("room1");
    await until(
      async () => !(await roomsOf(s1.id as string)).includes("room1"),
      "emitter socketsLeave",
    );

    // serverSideEmit: uid "emitter", heard by every node
    emitter.serverSideEmit("hello", "from-emitter");
    await until(
      async () =>
        (await S.run<unknown[][]>({ cmd: "serverEvents" })).some((e) => e[2] === "from-emitter"),
      "emitter serverSideEmit",
    );

    const gone = disconnected(s2, "s2");
    emitter.in(s2.id as string).disconnectSockets();
    assert.equal(await gone, "io server disconnect");
    assert.ok(s1.connected && o1.connected);
    assert.deepEqual(await S.run({ cmd: "errors" }), []);
  } finally {
    closeClients();
    await redis.quit();
    await Promise.all([S.stop(), O.stop()]);
  }
});
