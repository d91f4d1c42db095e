/**
 * socket.io-client 2.5 (Engine.IO 3, Socket.IO protocol 4) against a server with `allowEIO3`, over polling,
 * WebSocket and the upgrade, in one server with socket.io-client 3.1 and 4.8 clients at once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Socket } from "../../src";
import { next, start, until } from "../support/io";
import { type V2Socket, v2Client, v2Namespace, v3Client } from "../support/legacy-clients";

const MODES = [
  { name: "polling", transports: ["polling"] },
  { name: "websocket", transports: ["websocket"] },
  { name: "the upgrade", transports: ["polling", "websocket"] },
] as const;

/** The next `event` of a v2 socket (v2 sockets are not Node EventEmitters). */
function nextV2<T extends unknown[] = unknown[]>(
  socket: V2Socket,
  event: string,
  ms = 15000,
): Promise<T> {
  return next<T>(socket as unknown as Parameters<typeof next>[0], event, ms);
}

function acked<T>(socket: V2Socket, event: string, ...args: unknown[]): Promise<T[]> {
  return new Promise((resolve) => socket.emit(event, ...args, (...answer: T[]) => resolve(answer)));
}

for (const mode of MODES) {
  test(`a v2 client over ${mode.name}: namespaces, acks, binary, rooms, refusals, large and many messages, disconnect`, async () => {
    const run = await start({ allowEIO3: true });
    const { io } = run;
    const others: Array<{ disconnect(): unknown }> = [];
    let root: V2Socket | undefined;
    try {
      io.of("/admin").use((socket, nextFn) => {
        if (socket.handshake.auth.token === "abc") nextFn();
        else nextFn(Object.assign(new Error("not authorized"), { data: { reason: "bad token" } }));
      });
      io.of("/plain").use((_socket, nextFn) => nextFn(new Error("plain message")));
      io.on("connection", (socket) => {
        socket.on("hello", (payload: unknown, ack: (...args: unknown[]) => void) =>
          ack("ackdata", payload),
        );
        socket.on("bin", (data: Buffer, ack: (data: Buffer) => void) =>
          ack(Buffer.from([...data].reverse())),
        );
        socket.on("big", (text: string, ack: (length: number) => void) => ack(text.length));
        socket.on("join", async (room: string, ack: () => void) => {
          await socket.join(room);
          ack();
        });
      });

      const serverRoot = next<[Socket]>(io, "connection");
      root = v2Client(run.url, { transports: mode.transports, query: { token: "abc" } });
      await nextV2(root, "connect");
      const [rootSocket] = await serverRoot;
      // "/" is joined without a CONNECT from the client, and named by the engine id
      assert.equal(rootSocket.id, rootSocket.conn.id);
      assert.equal(root.id, rootSocket.id);
      assert.equal(rootSocket.conn.protocol, 3);
      assert.deepEqual({ ...rootSocket.handshake.auth }, {});
      assert.equal(rootSocket.handshake.query.token, "abc");
      assert.equal(rootSocket.handshake.query.EIO, "3");
      if (mode.transports.length === 2) {
        await until(() => rootSocket.conn.transport.name === "websocket");
        assert.equal(root.io.engine.transport.name, "websocket");
      }

      // a namespace with a query: handshake.auth
      const serverAdmin = next<[Socket]>(io.of("/admin"), "connection");
      const admin = v2Namespace(root, "/admin", { token: "abc", x: "a b" });
      await nextV2(admin, "connect");
      const [adminSocket] = await serverAdmin;
      assert.equal(adminSocket.id, `/admin#${rootSocket.conn.id}`);
      assert.deepEqual({ ...adminSocket.handshake.auth }, { token: "abc", x: "a b" });

      // refusals: the middleware's data, or its message; an unknown namespace
      const plain = v2Namespace(root, "/plain");
      assert.deepEqual(await nextV2(plain, "error"), ["plain message"]);
      const unknown = v2Namespace(root, "/nope");
      assert.deepEqual(await nextV2(unknown, "error"), [{ message: "Invalid namespace" }]);

      // events with acks both ways (non-ASCII text counts UTF-16 units in v3 polling frames)
      const text = { u: "é€😀", n: 1 };
      assert.deepEqual(await acked(root, "hello", text), ["ackdata", text]);
      root.on("question", (...args: never[]) => {
        const [q, ack] = args as unknown as [string, (answer: unknown) => void];
        ack({ answer: q + "!" });
      });
      assert.deepEqual(await rootSocket.timeout(10000).emitWithAck("question", "q?"), {
        answer: "q?!",
      });

      // binary both ways
      const [reversed] = await acked<Buffer>(root, "bin", Buffer.from([1, 2, 3]));
      assert.deepEqual([...Buffer.from(reversed as Buffer)], [3, 2, 1]);
      const gotBinary = nextV2<[Buffer, { n: number }]>(root, "srvbin");
      rootSocket.emit("srvbin", Buffer.from([0xde, 0xad, 0xbe, 0xef]), { n: 1 });
      const [bytes, extra] = await gotBinary;
      assert.deepEqual([...Buffer.from(bytes)], [0xde, 0xad, 0xbe, 0xef]);
      assert.deepEqual(extra, { n: 1 });

      // 200 kB both ways
      const large = "a".repeat(200_000);
      assert.deepEqual(await acked(root, "big", large), [200_000]);
      const gotLarge = nextV2<[string]>(root, "large");
      rootSocket.emit("large", large);
      assert.equal((await gotLarge)[0].length, 200_000);

      // a burst of 50 emits, in order
      const seen: number[] = [];
      rootSocket.on("seq", (i: number) => seen.push(i));
      for (let i = 0; i < 50; i++) root.emit("seq", i);
      await until(() => seen.length === 50);
      assert.deepEqual(
        seen,
        Array.from({ length: 50 }, (_, i) => i),
      );

      // one room, three client generations: v2, v3.1 and v4.8 receive the same broadcast
      await acked(root, "join", "mixed");
      const v3 = v3Client(run.url, { forceNew: true, reconnection: false });
      others.push(v3);
      const v4 = run.client("/");
      for (const client of [v3, v4]) {
        if (!client.connected) await next(client, "connect");
        await new Promise<void>((resolve) => client.emit("join", "mixed", () => resolve()));
      }
      const news = [nextV2(root, "news"), next(v3, "news"), next(v4, "news")];
      io.to("mixed").emit("news", "hi", Buffer.from([7]));
      for (const [word, buffer] of (await Promise.all(news)) as Array<[string, Buffer]>) {
        assert.equal(word, "hi");
        assert.deepEqual([...Buffer.from(buffer)], [7]);
      }

      // server-side disconnects: one namespace, then the whole connection
      const adminGone = nextV2(admin, "disconnect");
      adminSocket.disconnect();
      assert.deepEqual(await adminGone, ["io server disconnect"]);
      const rootGone = nextV2(root, "disconnect");
      const serverGone = next(rootSocket, "disconnect");
      rootSocket.disconnect(true);
      assert.deepEqual(await rootGone, ["io server disconnect"]);
      assert.equal((await serverGone)[0], "server namespace disconnect");
    } finally {
      root?.close();
      for (const client of others) client.disconnect();
      await run.close();
    }
  });
}

test("a v2 client is refused the connection without allowEIO3; a middleware's data reaches it", async () => {
  const run = await start({ allowEIO3: true });
  const refusing = await start();
  try {
    run.io.of("/locked").use((_socket, nextFn) => {
      nextFn(Object.assign(new Error("not authorized"), { data: { reason: "bad token" } }));
    });
    const root = v2Client(run.url, { transports: ["websocket"] });
    await nextV2(root, "connect");
    const locked = v2Namespace(root, "/locked", { token: "bad" });
    assert.deepEqual(await nextV2(locked, "error"), [{ reason: "bad token" }]);
    root.close();

    const refused = v2Client(refusing.url, { transports: ["polling"] });
    const [err] = await nextV2<[Error & { description?: unknown }]>(refused, "connect_error");
    assert.match(String(err.description ?? err.message), /400|xhr poll error/);
    refused.close();
  } finally {
    await run.close();
    await refusing.close();
  }
});
