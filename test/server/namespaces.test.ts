/** Namespaces (static, RegExp, function), connection middlewares, multiplexing. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Namespace, type Socket } from "../../src";
import { next, start, type Running, until } from "../support/io";

describe("namespaces and middlewares", () => {
  let run: Running;
  before(async () => {
    run = await start({ cleanupEmptyChildNamespaces: true });
  });
  after(() => run.close());

  test("a static namespace, with new_namespace and its own connection listener", async () => {
    const created = next<[Namespace]>(run.io, "new_namespace");
    const admin = run.io.of("admin");
    assert.equal(admin.name, "/admin");
    assert.equal((await created)[0], admin);
    assert.equal(run.io.of("/admin"), admin);
    const connected = next<[Socket]>(admin, "connection");
    const client = run.client("/admin");
    await next(client, "connect");
    const [socket] = await connected;
    assert.equal(socket.nsp, admin);
    assert.equal(run.io.of("/").sockets.size, 0);
  });

  test("unknown namespace: CONNECT_ERROR Invalid namespace", async () => {
    const client = run.client("/nope");
    const [err] = await next<[Error]>(client, "connect_error");
    assert.equal(err.message, "Invalid namespace");
  });

  test("dynamic namespaces from a RegExp and from a function", async () => {
    const byRegExp = run.io.of(/^\/room-\d+$/);
    const joined: string[] = [];
    byRegExp.on("connection", (socket: Socket) => joined.push(socket.nsp.name));
    byRegExp.use((socket, nextFn) => {
      socket.data = { checked: true };
      nextFn();
    });
    const newNsp = next<[Namespace]>(run.io, "new_namespace");
    const client = run.client("/room-42");
    await next(client, "connect");
    assert.equal((await newNsp)[0].name, "/room-42");
    assert.deepEqual(joined, ["/room-42"]);
    const child = run.io._nsps.get("/room-42")!;
    assert.deepEqual(
      [...child.sockets.values()].map((s) => s.data),
      [{ checked: true }],
    );

    // A broadcast on the parent reaches every child.
    const all = next(client, "to-all-rooms");
    byRegExp.emit("to-all-rooms", 1);
    assert.deepEqual(await all, [1]);

    const byFunction = run.io.of((name, auth, nextFn) =>
      nextFn(null, name.startsWith("/fn-") && auth.ok === true),
    );
    const fnSockets: string[] = [];
    byFunction.on("connection", (socket: Socket) => fnSockets.push(socket.nsp.name));
    const allowed = run.client("/fn-a", { auth: { ok: true } });
    await next(allowed, "connect");
    assert.deepEqual(fnSockets, ["/fn-a"]);
    const refused = run.client("/fn-b", { auth: { ok: false } });
    assert.equal((await next<[Error]>(refused, "connect_error"))[0].message, "Invalid namespace");

    // cleanupEmptyChildNamespaces: the child goes away with its last socket.
    client.disconnect();
    await until(() => !run.io._nsps.has("/room-42"));
  });

  test("middlewares: next(err) answers connect_error with message and data", async () => {
    const guarded = run.io.of("/guarded");
    const order: string[] = [];
    guarded.use((_socket, nextFn) => {
      order.push("first");
      nextFn();
    });
    guarded.use((socket, nextFn) => {
      order.push("second");
      if (socket.handshake.auth.token === "good") return nextFn();
      const err = Object.assign(new Error("not authorized"), { data: { content: "retry later" } });
      nextFn(err);
    });
    let connections = 0;
    guarded.on("connection", () => connections++);
    const bad = run.client("/guarded", { auth: { token: "bad" } });
    const [err] = await next<[Error & { data?: unknown }]>(bad, "connect_error");
    assert.equal(err.message, "not authorized");
    assert.deepEqual(err.data, { content: "retry later" });
    assert.deepEqual(order, ["first", "second"]);
    assert.equal(guarded.sockets.size, 0);
    const good = run.client("/guarded", { auth: { token: "good" } });
    await next(good, "connect");
    assert.equal(connections, 1);
  });

  test("several namespaces multiplexed on one connection", async () => {
    const main = run.client("/");
    await next(main, "connect");
    const other = main.io.socket("/admin");
    await next(other, "connect");
    const engineIds = new Set(
      [...run.io.of("/").sockets.values(), ...run.io.of("/admin").sockets.values()].map(
        (s) => s.conn.id,
      ),
    );
    assert.equal(run.io.engine.clientsCount >= 1, true);
    const mainSocket = [...run.io.of("/").sockets.values()].find((s) => s.id === main.id)!;
    const adminSocket = [...run.io.of("/admin").sockets.values()].find((s) => s.id === other.id)!;
    assert.equal(mainSocket.conn, adminSocket.conn);
    assert.ok(engineIds.has(mainSocket.conn.id));
    // Leaving one namespace keeps the other.
    const gone = next(adminSocket, "disconnect");
    other.disconnect();
    assert.equal((await gone)[0], "client namespace disconnect");
    assert.ok(mainSocket.connected);
  });
});

test("connectTimeout closes a connection that joins no namespace", async () => {
  const run = await start({ connectTimeout: 200 });
  try {
    const { Socket: EngineClient } = await import("engine.io-client");
    const conn = new EngineClient(run.url, { path: "/socket.io/", transports: ["websocket"] });
    await next(conn, "open");
    const [reason] = await next<[string]>(conn, "close", 5000);
    assert.equal(reason, "transport close");
  } finally {
    await run.close();
  }
});
