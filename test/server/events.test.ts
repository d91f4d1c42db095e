/** Connection, handshake, events, acknowledgements and binary with socket.io-client 4.8, over both transports. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Socket } from "../../src";
import { next, start, type Running, TRANSPORTS } from "../support/io";

for (const transports of TRANSPORTS) {
  describe(`events over ${transports[0]}`, () => {
    let run: Running;
    before(async () => {
      run = await start();
    });
    after(() => run.close());

    async function pair(auth?: Record<string, unknown>) {
      const serverSide = next<[Socket]>(run.io, "connection");
      const client = run.client("/", {
        transports: [...transports],
        auth,
        query: { token: "abc" },
      });
      const [socket] = await serverSide;
      await next(client, "connect");
      return { client, socket };
    }

    test("connection: ids, handshake, rooms, data", async () => {
      const { client, socket } = await pair({ user: "ana" });
      assert.equal(socket.id, client.id);
      assert.notEqual(socket.id, socket.conn.id);
      assert.equal(socket.id.length, 20);
      assert.ok(socket.connected);
      assert.equal(socket.disconnected, false);
      assert.deepEqual([...socket.rooms], [socket.id]);
      assert.deepEqual(socket.handshake.auth, { user: "ana" });
      assert.equal(socket.handshake.query.token, "abc");
      assert.equal(socket.handshake.query.EIO, "4");
      assert.equal(socket.handshake.xdomain, false);
      assert.equal(socket.handshake.secure, false);
      assert.ok(socket.handshake.url.startsWith("/socket.io/"));
      assert.ok(socket.handshake.headers.host?.startsWith("localhost:"));
      assert.equal(typeof socket.handshake.issued, "number");
      assert.ok(
        socket.handshake.address.includes("127.0.0.1") || socket.handshake.address.includes("::1"),
      );
      assert.equal(socket.request.headers.host, socket.handshake.headers.host);
      assert.deepEqual(socket.data, {});
      assert.equal(socket.nsp, run.io.of("/"));
      assert.equal(run.io.of("/").sockets.get(socket.id), socket);
      assert.equal(socket.conn.transport.name, transports[0]);
    });

    test("events both ways with any number and kind of arguments", async () => {
      const { client, socket } = await pair();
      const received = next(socket, "hello");
      client.emit("hello", 1, "two", { three: [3] }, null, true);
      assert.deepEqual(await received, [1, "two", { three: [3] }, null, true]);
      const back = next(client, "world");
      socket.emit("world", { a: 1 }, [2], "x");
      assert.deepEqual(await back, [{ a: 1 }, [2], "x"]);
      const message = next(client, "message");
      socket.send("via send");
      assert.equal((await message)[0], "via send");
    });

    test("acks both ways, with and without timeout", async () => {
      const { client, socket } = await pair();
      socket.on("sum", (a: number, b: number, ack: (n: number) => void) => ack(a + b));
      assert.equal(await client.emitWithAck("sum", 2, 3), 5);

      client.on("double", (n: number, ack: (n: number) => void) => ack(n * 2));
      const answer = await new Promise((resolve) => socket.emit("double", 21, resolve));
      assert.equal(answer, 42);
      assert.equal(await socket.emitWithAck("double", 4), 8);
      assert.equal(await socket.timeout(2000).emitWithAck("double", 5), 10);

      const withError = await new Promise<unknown[]>((resolve) =>
        socket.timeout(2000).emit("double", 6, (...args: unknown[]) => resolve(args)),
      );
      assert.deepEqual(withError, [null, 12]);

      client.on("silent", () => {});
      const timedOut = await new Promise<unknown[]>((resolve) =>
        socket.timeout(50).emit("silent", (...args: unknown[]) => resolve(args)),
      );
      assert.ok(timedOut[0] instanceof Error);
      assert.equal((timedOut[0] as Error).message, "operation has timed out");
      await assert.rejects(socket.timeout(50).emitWithAck("silent"), /operation has timed out/);
      assert.equal(socket.acks.size, 0);
    });

    test("binary both ways", async () => {
      const { client, socket } = await pair();
      const received = next<[Buffer, { nested: Buffer[] }]>(socket, "bin");
      client.emit("bin", new Uint8Array([1, 2, 3]), { nested: [new Uint8Array([4, 5])] });
      const [first, second] = await received;
      assert.ok(Buffer.isBuffer(first));
      assert.deepEqual([...first], [1, 2, 3]);
      assert.deepEqual([...second.nested[0]!], [4, 5]);

      const back = next<[ArrayBuffer, string]>(client, "bin-back");
      socket.emit("bin-back", Buffer.from([9, 8, 7]), "text");
      const [data, text] = await back;
      assert.deepEqual([...new Uint8Array(data)], [9, 8, 7]);
      assert.equal(text, "text");

      socket.on("bin-ack", (ack: (b: Buffer) => void) => ack(Buffer.from("ok")));
      const acked = (await client.emitWithAck("bin-ack")) as ArrayBuffer;
      assert.equal(Buffer.from(acked).toString(), "ok");
    });

    test("reserved event names cannot be emitted", async () => {
      const { socket } = await pair();
      for (const name of [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
      ]) {
        assert.throws(() => socket.emit(name), { message: `"${name}" is a reserved event name` });
        assert.throws(() => run.io.emit(name), { message: `"${name}" is a reserved event name` });
      }
    });

    test("catch-all listeners, incoming and outgoing", async () => {
      const { client, socket } = await pair();
      const incoming: unknown[][] = [];
      const first = (...args: unknown[]) => incoming.push(["first", ...args]);
      socket.onAny((...args) => incoming.push(["any", ...args]));
      socket.prependAny(first);
      assert.equal(socket.listenersAny().length, 2);
      const got = next(socket, "ev");
      client.emit("ev", 1);
      await got;
      assert.deepEqual(incoming, [
        ["first", "ev", 1],
        ["any", "ev", 1],
      ]);
      socket.offAny(first);
      assert.equal(socket.listenersAny().length, 1);
      socket.offAny();
      assert.equal(socket.listenersAny().length, 0);

      const outgoing: unknown[][] = [];
      const out = (...args: unknown[]) => outgoing.push(args);
      socket.onAnyOutgoing(out);
      socket.prependAnyOutgoing((...args) => outgoing.push(["pre", ...args]));
      const arrived = next(client, "out");
      socket.emit("out", 2);
      await arrived;
      const broadcastArrived = next(client, "all");
      run.io.emit("all", 3);
      await broadcastArrived;
      assert.deepEqual(outgoing, [
        ["pre", "out", 2],
        ["out", 2],
        ["pre", "all", 3],
        ["all", 3],
      ]);
      assert.equal(socket.listenersAnyOutgoing().length, 2);
      socket.offAnyOutgoing(out);
      assert.equal(socket.listenersAnyOutgoing().length, 1);
      socket.offAnyOutgoing();
      assert.equal(socket.listenersAnyOutgoing().length, 0);
    });

    test("packet middlewares: pass, change, refuse to the error listener", async () => {
      const { client, socket } = await pair();
      socket.use(([event, ...args], nextFn) => {
        if (event === "forbidden") return nextFn(new Error("not allowed"));
        args.push("seen");
        nextFn();
      });
      socket.use((event, nextFn) => {
        event.push("by-second");
        nextFn();
      });
      const error = next<[Error]>(socket, "error");
      client.emit("forbidden", 1);
      assert.equal((await error)[0].message, "not allowed");
      const ok = next(socket, "fine");
      client.emit("fine", 1);
      assert.deepEqual(await ok, [1, "by-second"]);
    });
  });
}
