/** Room membership edge cases, and the acks a timed-out broadcast leaves behind. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Socket } from "../../src";
import { next, start, until } from "../support/io";

test("rooms are empty in disconnect, and a join after it is a no-op", async () => {
  const run = await start();
  try {
    const serverSide = next<[Socket]>(run.io, "connection");
    const client = run.client("/");
    await next(client, "connect");
    const [socket] = await serverSide;
    await socket.join(["a", "b"]);
    const roomsAtDisconnect = new Promise<number>((resolve) =>
      socket.on("disconnect", () => {
        resolve(socket.rooms.size);
        void socket.join("late");
      }),
    );
    client.disconnect();
    assert.equal(await roomsAtDisconnect, 0);
    await socket.join("later");
    const adapter = run.io.of("/").adapter;
    assert.equal(adapter.sids.has(socket.id), false);
    assert.deepEqual([...adapter.rooms.keys()], []);
  } finally {
    await run.close();
  }
});

test("a broadcast ack that times out is forgotten by the silent sockets", async () => {
  const run = await start();
  try {
    const serverSide = next<[Socket]>(run.io, "connection");
    const client = run.client("/");
    await next(client, "connect");
    const [socket] = await serverSide;
    client.on("question", () => {
      // never answers
    });
    await assert.rejects(run.io.timeout(100).emitWithAck("question"), /operation has timed out/);
    await until(() => socket.acks.size === 0);
  } finally {
    await run.close();
  }
});
