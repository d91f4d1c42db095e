/** The ways to build and attach a Server, the adapter option, and close(). */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { io as ioc } from "socket.io-client";
import { Adapter, Server } from "../../src";
import { Server as Engine } from "../../src/engine";
import { next } from "../support/io";

async function connectTo(url: string, path = "/socket.io") {
  const client = ioc(url, { forceNew: true, reconnection: false, path, transports: ["websocket"] });
  await next(client, "connect");
  return client;
}

function freePort(): Promise<number> {
  const probe = createServer().listen(0);
  return once(probe, "listening").then(() => {
    const { port } = probe.address() as AddressInfo;
    return new Promise((resolve) => probe.close(() => resolve(port)));
  });
}

test("new Server(port) creates an http server answering 404 elsewhere", async () => {
  const port = await freePort();
  const io = new Server(port);
  await once(io.httpServer!, "listening");
  const client = await connectTo(`http://localhost:${port}`);
  const status = await new Promise<number>((resolve) =>
    request(`http://localhost:${port}/elsewhere`, (res) => resolve(res.statusCode!)).end(),
  );
  assert.equal(status, 404);
  client.disconnect();
  await io.close();
  assert.equal(io.httpServer!.listening, false);
});

test("new Server() then io.listen(httpServer), with a custom path; other requests pass through", async () => {
  const httpServer = createServer((_req, res) => res.end("app"));
  const io = new Server({ path: "/realtime" });
  io.listen(httpServer);
  httpServer.listen(0);
  await once(httpServer, "listening");
  const url = `http://localhost:${(httpServer.address() as AddressInfo).port}`;
  const client = await connectTo(url, "/realtime");
  const body = await new Promise<string>((resolve) =>
    request(`${url}/page`, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve(text));
    }).end(),
  );
  assert.equal(body, "app");
  assert.equal(io.path(), "/realtime");
  client.disconnect();
  await io.close();
});

test("io.attach refuses an express-style handler function", () => {
  const io = new Server();
  assert.throws(() => io.attach((() => {}) as never), /Please pass a http.Server instance/);
});

test("io.bind(engine) uses an engine attached by hand", async () => {
  const httpServer = createServer();
  const engine = new Engine({ path: "/socket.io/" });
  engine.attach(httpServer, { path: "/socket.io/" });
  const io = new Server();
  io.bind(engine);
  httpServer.listen(0);
  await once(httpServer, "listening");
  const connected = next(io, "connection");
  const client = await connectTo(`http://localhost:${(httpServer.address() as AddressInfo).port}`);
  await connected;
  assert.equal(io.engine, engine);
  client.disconnect();
  engine.close();
  httpServer.closeAllConnections();
  httpServer.close();
});

test("the adapter option takes a class or a factory; close(cb) closes adapters and the http server", async () => {
  const closed: string[] = [];
  class TracingAdapter extends Adapter {
    override close() {
      closed.push(this.nsp.name);
    }
  }
  const byClass = new Server({ adapter: TracingAdapter });
  byClass.of("/admin");
  assert.ok(byClass.of("/").adapter instanceof TracingAdapter);
  const byFactory = new Server({ adapter: (nsp) => new TracingAdapter(nsp) });
  assert.ok(byFactory.of("/x").adapter instanceof TracingAdapter);

  const httpServer = createServer();
  byClass.attach(httpServer);
  httpServer.listen(0);
  await once(httpServer, "listening");
  const err = await new Promise<Error | undefined>((resolve) => void byClass.close(resolve));
  assert.equal(err, undefined);
  assert.deepEqual(closed.sort(), ["/", "/admin"]);
  assert.equal(httpServer.listening, false);
  await byFactory.close();
});

test("the server's listener methods act on the main namespace and return the server", () => {
  const io = new Server();
  const main = io.of("/");
  const a = () => {};
  const b = () => {};
  assert.equal(io.on("connection", a), io);
  assert.equal(io.once("connection", b), io);
  assert.equal(io.addListener("ev", a), io);
  assert.equal(io.prependListener("ev", b), io);
  assert.equal(io.prependOnceListener("other", a), io);
  assert.deepEqual(main.listeners("connection"), [a, b]);
  assert.deepEqual(io.listeners("connection"), [a, b]);
  assert.deepEqual(io.rawListeners("ev"), [b, a]);
  assert.equal(io.listenerCount("ev"), 2);
  assert.deepEqual(io.eventNames(), ["connection", "ev", "other"]);
  assert.equal(io.off("connection", a), io);
  assert.equal(io.removeListener("ev", b), io);
  assert.equal(main.listenerCount("connection"), 1);
  assert.equal(main.listenerCount("ev"), 1);
  assert.equal(io.setMaxListeners(42), io);
  assert.equal(main.getMaxListeners(), 42);
  assert.equal(io.getMaxListeners(), 42);
  assert.equal(io.removeAllListeners("ev"), io);
  assert.deepEqual(io.eventNames(), ["connection", "other"]);
  io.removeAllListeners();
  assert.deepEqual(main.eventNames(), []);
});
