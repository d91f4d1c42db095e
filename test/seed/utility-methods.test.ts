/**
 * Seed, section "Métodos de utilidad" (utility methods): socketsJoin, socketsLeave, disconnectSockets and
 * fetchSockets with the broadcast filters, on io and on a namespace, and with a socket id used as a room.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import type { Socket as ClientSocket } from "socket.io-client";
import type { Server, Socket } from "../../src";
import { next, start, type Running, until } from "../support/io";

let run: Running;
let io: Server;

/** Connects a client to `nsp` and returns both ends. */
async function connect(
  nsp = "/",
  rooms: string[] = [],
): Promise<{ client: ClientSocket; socket: Socket }> {
  const serverSide = next<[Socket]>(io.of(nsp), "connection");
  const client = run.client(nsp, { transports: ["websocket"] });
  await next(client, "connect");
  const [socket] = await serverSide;
  await socket.join(rooms);
  return { client, socket };
}

function roomsOf(socket: Socket): string[] {
  return [...socket.rooms]
    .filter((room) => room !== socket.id)
    .map(String)
    .sort();
}

beforeEach(async () => {
  run = await start();
  io = run.io;
});
afterEach(() => run.close());

describe("seed: the shared filters", () => {
  test('io.of("/admin").in("room1").except("room2").local.disconnectSockets()', async () => {
    const inRoom1 = await connect("/admin", ["room1"]);
    const inBoth = await connect("/admin", ["room1", "room2"]);
    const elsewhere = await connect("/admin", ["room3"]);
    const mainRoom1 = await connect("/", ["room1"]);
    const gone = next<[string]>(inRoom1.socket, "disconnect");

    io.of("/admin").in("room1").except("room2").local.disconnectSockets();

    assert.equal((await gone)[0], "server namespace disconnect");
    assert.ok(inBoth.socket.connected);
    assert.ok(elsewhere.socket.connected);
    assert.ok(mainRoom1.socket.connected);
  });
});

describe("seed: socketsJoin", () => {
  test("every snippet", async () => {
    const a = await connect("/", ["room1"]);
    const b = await connect("/");
    const admin = await connect("/admin", ["room1"]);
    const theSocketId = b.socket.id;

    // make all Socket instances join the "room1" room
    io.socketsJoin("room1");
    assert.deepEqual(roomsOf(b.socket), ["room1"]);

    // make all Socket instances in the "room1" room join the "room2" and "room3" rooms
    io.in("room1").socketsJoin(["room2", "room3"]);
    assert.deepEqual(roomsOf(a.socket), ["room1", "room2", "room3"]);
    assert.deepEqual(roomsOf(admin.socket), ["room1"], "another namespace is untouched");

    // make all Socket instances in the "room1" room of the "admin" namespace join the "room2" room
    io.of("/admin").in("room1").socketsJoin("room2");
    assert.deepEqual(roomsOf(admin.socket), ["room1", "room2"]);

    // this also works with a single socket ID
    io.in(theSocketId).socketsJoin("room4");
    assert.deepEqual(roomsOf(b.socket), ["room1", "room2", "room3", "room4"]);
    assert.ok(!a.socket.rooms.has("room4"));
    assert.deepEqual([...io.of("/").adapter.rooms.get("room4")!], [theSocketId]);
  });
});

describe("seed: socketsLeave", () => {
  test("every snippet", async () => {
    const a = await connect("/", ["room1", "room2", "room3"]);
    const b = await connect("/", ["room2", "room3"]);
    const admin = await connect("/admin", ["room1", "room2"]);
    const theSocketId = b.socket.id;

    // make all Socket instances in the "room1" room leave the "room2" and "room3" rooms
    io.in("room1").socketsLeave(["room2", "room3"]);
    assert.deepEqual(roomsOf(a.socket), ["room1"]);
    assert.deepEqual(roomsOf(b.socket), ["room2", "room3"]);

    // make all Socket instances in the "room1" room of the "admin" namespace leave the "room2" room
    io.of("/admin").in("room1").socketsLeave("room2");
    assert.deepEqual(roomsOf(admin.socket), ["room1"]);

    // this also works with a single socket ID
    io.in(theSocketId).socketsLeave("room3");
    assert.deepEqual(roomsOf(b.socket), ["room2"]);

    // make all Socket instances leave the "room1" room
    io.socketsLeave("room1");
    assert.deepEqual(roomsOf(a.socket), []);
    assert.equal(io.of("/").adapter.rooms.has("room1"), false);
    assert.deepEqual(roomsOf(admin.socket), ["room1"]);
  });
});

describe("seed: disconnectSockets", () => {
  test("make all Socket instances disconnect", async () => {
    const a = await connect("/");
    const b = await connect("/", ["room1"]);
    const admin = await connect("/admin");
    const reasons = Promise.all([
      next<[string]>(a.client, "disconnect"),
      next<[string]>(b.client, "disconnect"),
    ]);
    io.disconnectSockets();
    assert.deepEqual(
      (await reasons).map((args) => args[0]),
      ["io server disconnect", "io server disconnect"],
    );
    assert.equal(io.of("/").sockets.size, 0);
    assert.ok(admin.socket.connected);
  });

  test('in("room1").disconnectSockets(true) also closes the low-level connection', async () => {
    io.of("/admin");
    const a = await connect("/", ["room1"]);
    const other = await connect("/");
    // a second namespace on a's connection goes away with it
    const aAdmin = a.client.io.socket("/admin");
    await next(aAdmin, "connect");
    const adminGone = next<[string]>(aAdmin, "disconnect");
    const gone = next<[string]>(a.socket, "disconnect");
    io.in("room1").disconnectSockets(true);
    assert.equal((await gone)[0], "server namespace disconnect");
    assert.equal((await adminGone)[0], "io server disconnect");
    await until(() => io.engine.clientsCount === 1);
    assert.ok(other.socket.connected);
  });

  test("in a namespace's room, and with a single socket ID", async () => {
    const inRoom = await connect("/admin", ["room1"]);
    const target = await connect("/admin");
    const bystander = await connect("/admin");
    const theSocketId = target.socket.id;

    const first = next<[string]>(inRoom.socket, "disconnect");
    io.of("/admin").in("room1").disconnectSockets();
    assert.equal((await first)[0], "server namespace disconnect");

    const second = next<[string]>(target.socket, "disconnect");
    io.of("/admin").in(theSocketId).disconnectSockets();
    assert.equal((await second)[0], "server namespace disconnect");
    assert.ok(bystander.socket.connected);
  });
});

describe("seed: fetchSockets", () => {
  test("every snippet", async () => {
    const a = await connect("/", ["room1"]);
    const b = await connect("/");
    const admin = await connect("/admin", ["room1"]);
    await connect("/admin");
    const theSocketId = b.socket.id;

    {
      // return all Socket instances of the main namespace
      const sockets = await io.fetchSockets();
      assert.deepEqual(sockets.map((s) => s.id).sort(), [a.socket.id, b.socket.id].sort());
    }
    {
      // return all Socket instances in the "room1" room of the main namespace
      const sockets = await io.in("room1").fetchSockets();
      assert.deepEqual(
        sockets.map((s) => s.id),
        [a.socket.id],
      );
    }
    {
      // return all Socket instances in the "room1" room of the "admin" namespace
      const sockets = await io.of("/admin").in("room1").fetchSockets();
      assert.deepEqual(
        sockets.map((s) => s.id),
        [admin.socket.id],
      );
    }
    {
      // this also works with a single socket ID
      const sockets = await io.in(theSocketId).fetchSockets();
      assert.deepEqual(
        sockets.map((s) => s.id),
        [theSocketId],
      );
    }
  });

  test("the objects expose id, handshake, rooms, data, emit, join, leave, disconnect", async () => {
    io.on("connection", (socket) => {
      socket.data = { username: "alice" };
    });
    const { client, socket: original } = await connect("/", ["room1"]);
    client.on("ask", (question: string, ack: (a: string) => void) => ack(`answer to ${question}`));
    const sockets = await io.fetchSockets();
    assert.equal(sockets.length, 1);
    for (const socket of sockets) {
      assert.equal(socket.id, original.id);
      assert.equal(socket.handshake.headers.host, original.handshake.headers.host);
      assert.deepEqual([...socket.rooms].sort(), [original.id, "room1"].sort());
      assert.deepEqual(socket.data, { username: "alice" });
      const hello = next(client, "hello");
      socket.emit("hello", "from fetchSockets");
      assert.equal((await hello)[0], "from fetchSockets");
      assert.equal(await socket.timeout(2000).emitWithAck("ask", "life"), "answer to life");
      socket.join("room2");
      assert.ok(original.rooms.has("room2"));
      socket.leave("room1");
      assert.ok(!original.rooms.has("room1"));
      const gone = next<[string]>(client, "disconnect");
      socket.disconnect();
      assert.equal((await gone)[0], "io server disconnect");
    }
  });
});
