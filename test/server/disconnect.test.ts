/** Every disconnect reason a test can provoke, seen by the server-side socket. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Socket } from "../../src";
import { next, start, until } from "../support/io";
import { openRaw } from "../support/raw";

async function connected(run: Awaited<ReturnType<typeof start>>, transports = ["websocket"]) {
  const serverSide = next<[Socket]>(run.io, "connection");
  const client = run.client("/", { transports });
  await next(client, "connect");
  const [socket] = await serverSide;
  return { client, socket };
}

describe("disconnect reasons", () => {
  test("server namespace disconnect, with disconnecting seeing the rooms", async () => {
    const run = await start();
    try {
      const { client, socket } = await connected(run);
      await socket.join("room1");
      const disconnecting = new Promise<[string, string[]]>((resolve) =>
        socket.on("disconnecting", (reason) => resolve([reason, [...socket.rooms].map(String)])),
      );
      const clientSide = next<[string]>(client, "disconnect");
      socket.disconnect();
      const [reason, rooms] = await disconnecting;
      assert.equal(reason, "server namespace disconnect");
      assert.deepEqual(rooms.sort(), [socket.id, "room1"].sort());
      assert.equal((await clientSide)[0], "io server disconnect");
      assert.equal(socket.connected, false);
      assert.equal(run.io.of("/").adapter.rooms.has("room1"), false);
      assert.equal(run.io.of("/").sockets.size, 0);
    } finally {
      await run.close();
    }
  });

  test("client namespace disconnect", async () => {
    const run = await start();
    try {
      const { client, socket } = await connected(run, ["polling"]);
      const reason = next<[string]>(socket, "disconnect");
      client.disconnect();
      assert.equal((await reason)[0], "client namespace disconnect");
    } finally {
      await run.close();
    }
  });

  test("disconnect(true) closes the whole connection", async () => {
    const run = await start();
    try {
      const { client, socket } = await connected(run);
      const reason = next<[string]>(socket, "disconnect");
      const clientSide = next<[string]>(client, "disconnect");
      socket.disconnect(true);
      assert.equal((await reason)[0], "server namespace disconnect");
      assert.equal((await clientSide)[0], "io server disconnect");
      await until(() => run.io.engine.clientsCount === 0);
    } finally {
      await run.close();
    }
  });

  test("transport close and forced close", async () => {
    const run = await start();
    try {
      const a = await connected(run);
      const reasonA = next<[string]>(a.socket, "disconnect");
      a.client.io.engine.close();
      assert.equal((await reasonA)[0], "transport close");

      const b = await connected(run);
      const reasonB = next<[string]>(b.socket, "disconnect");
      b.socket.conn.close();
      assert.equal((await reasonB)[0], "forced close");
    } finally {
      await run.close();
    }
  });

  test("ping timeout", async () => {
    const run = await start({ pingInterval: 100, pingTimeout: 100 });
    try {
      const peer = await openRaw(run.port, false);
      const serverSide = next<[Socket]>(run.io, "connection");
      await peer.connectMain();
      const [socket] = await serverSide;
      assert.equal((await next<[string]>(socket, "disconnect"))[0], "ping timeout");
    } finally {
      await run.close();
    }
  });

  test("forced server close on an invalid packet sequence (CONNECT twice)", async () => {
    const run = await start();
    try {
      const peer = await openRaw(run.port);
      const serverSide = next<[Socket]>(run.io, "connection");
      await peer.connectMain();
      const [socket] = await serverSide;
      const reason = next<[string]>(socket, "disconnect");
      peer.ws.send("40");
      assert.equal((await reason)[0], "forced server close");
    } finally {
      await run.close();
    }
  });

  test("server shutting down", async () => {
    const run = await start();
    const { client, socket } = await connected(run);
    const reason = next<[string]>(socket, "disconnect");
    const clientSide = next<[string]>(client, "disconnect");
    await run.io.close();
    assert.equal((await reason)[0], "server shutting down");
    assert.equal((await clientSide)[0], "transport close");
  });
});
