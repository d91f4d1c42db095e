// `io.bind(engine)` with a real engine.io 6 server (the version socket.io 4.8.4 uses), as socket.io documents
// for custom engines: engine.io writes to the options of every packet it sends, so it must get a mutable
// object; events, acks, rooms, binary and broadcasts run through it.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { Server as EngineIoServer } from "engine.io";
import { io as ioc, type Socket as ClientSocket } from "socket.io-client";
import { Server } from "../../src";
import { next } from "../support/io";

test("io.bind() with an engine.io 6 server: events, acks, rooms, binary, broadcasts", async () => {
  const httpServer = createServer();
  const engine = new EngineIoServer({ pingInterval: 2000 });
  engine.attach(httpServer, { path: "/socket.io/" });
  const io = new Server();
  io.bind(engine as unknown as Parameters<Server["bind"]>[0]);
  httpServer.listen(0, "127.0.0.1");
  await once(httpServer, "listening");
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  const clients: ClientSocket[] = [];
  try {
    io.on("connection", (socket) => {
      void socket.join("room");
      socket.on("echo", (value: unknown, cb: (v: unknown) => void) => cb(value));
      socket.emit("hello", socket.handshake.query.name, Buffer.from([1, 2, 3]));
    });
    for (const transports of [["polling"], ["websocket"]] as const) {
      const client = ioc(url, {
        forceNew: true,
        reconnection: false,
        transports: [...transports],
        query: { name: transports[0] },
      });
      clients.push(client);
      const [name, bytes] = await next<[string, Buffer]>(client, "hello");
      assert.equal(name, transports[0]);
      assert.deepEqual([...bytes], [1, 2, 3]);
      assert.deepEqual(await client.emitWithAck("echo", { a: 1 }), { a: 1 });
    }
    assert.equal(engine.clientsCount, 2);
    const heard = clients.map((c) => next<[string]>(c, "news"));
    io.to("room").emit("news", "for all");
    assert.deepEqual(await Promise.all(heard), [["for all"], ["for all"]]);
    clients[0]!.on("ask", (cb: (v: string) => void) => cb("polling answer"));
    clients[1]!.on("ask", (cb: (v: string) => void) => cb("websocket answer"));
    const answers = await io.timeout(5000).emitWithAck("ask");
    assert.deepEqual([...answers].sort(), ["polling answer", "websocket answer"]);
    const sockets = await io.fetchSockets();
    assert.equal(sockets.length, 2);
    io.disconnectSockets(true);
    await Promise.all(clients.map((c) => next(c, "disconnect")));
  } finally {
    for (const c of clients) c.disconnect();
    await io.close();
    httpServer.closeAllConnections();
    await new Promise((resolve) => httpServer.close(resolve));
  }
});
