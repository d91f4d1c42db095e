// Options and hooks: attach() passing other requests through, destroyUpgrade, listen() → 501, cookie and
// initial_headers, headers on the WebSocket 101, generateId returning a Promise, engine.use middlewares,
// CORS, httpCompression, initialPacket, send callbacks, and PreparedMessage broadcasts.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type * as http from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { gunzipSync, inflateSync } from "node:zlib";
import { WebSocket } from "ws";
import {
  type ConnectionError,
  listen,
  PreparedMessage,
  type Socket,
  Server,
} from "../../src/engine";
import { connect, delay, once, request, startEngine, until } from "./support";

const P = "/engine.io/";

function sidOf(body: Buffer): string {
  return (JSON.parse(body.toString().slice(1)) as { sid: string }).sid;
}

describe("attach", () => {
  test("requests outside the engine path reach the previous listeners untouched", async (t) => {
    const seen: string[] = [];
    const h = await startEngine({}, (server) => {
      server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
        seen.push(`${req.method} ${req.url}`);
        res.writeHead(200, { "x-app": "yes" });
        res.end("app response");
      });
    });
    t.after(() => h.close());
    const res = await request(h.port, "/some/page?x=1", { method: "PUT", body: "payload" });
    assert.equal(res.status, 200);
    assert.equal(res.headers["x-app"], "yes");
    assert.equal(res.body.toString(), "app response");
    const engineRes = await request(h.port, `${P}?EIO=4&transport=polling`);
    assert.equal(engineRes.body.toString()[0], "0");
    assert.deepEqual(seen, ["PUT /some/page?x=1"]);
  });

  test("foreign upgrade requests are ended after destroyUpgradeTimeout", async (t) => {
    const h = await startEngine({ destroyUpgradeTimeout: 200 });
    t.after(() => h.close());
    const started = Date.now();
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/not-the-engine`);
    ws.on("error", () => undefined);
    await once(ws, "close");
    assert.ok(Date.now() - started >= 150);
  });

  test("destroyUpgrade: false leaves foreign upgrades to other listeners", async (t) => {
    const h = await startEngine({ destroyUpgrade: false, destroyUpgradeTimeout: 100 }, (server) => {
      server.on("upgrade", (_req, socket: net.Socket) => {
        setTimeout(() => socket.end("HTTP/1.1 418 I'm a teapot\r\nConnection: close\r\n\r\n"), 400);
      });
    });
    t.after(() => h.close());
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/other`);
    ws.on("error", () => undefined);
    const [, res] = await once<[unknown, http.IncomingMessage]>(ws, "unexpected-response");
    assert.equal(res.statusCode, 418);
    ws.terminate();
  });

  test("listen() answers non-engine requests with 501 and serves the engine", async () => {
    const engine = listen(0);
    const server = engine.httpServer as http.Server;
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    const res = await request(port, "/");
    assert.equal(res.status, 501);
    const client = await connect(`http://127.0.0.1:${port}`, { transports: ["websocket"] });
    assert.equal(engine.clientsCount, 1);
    client.close();
    await new Promise((resolve) => server.close(resolve));
    assert.equal(engine.clientsCount, 0);
  });

  test("a custom path, without trailing slash", async (t) => {
    const h = await startEngine({ path: "/rt", addTrailingSlash: false });
    t.after(() => h.close());
    const res = await request(h.port, "/rt?EIO=4&transport=polling");
    assert.equal(res.body.toString()[0], "0");
    const client = await connect(h.url, { path: "/rt", addTrailingSlash: false });
    client.close();
  });

  test("the http server closing closes the engine", async () => {
    const h = await startEngine();
    let closes = 0;
    const original = h.engine.close.bind(h.engine);
    h.engine.close = () => {
      closes++;
      return original();
    };
    const client = await connect(h.url, { transports: ["websocket"] });
    const closed = once(h.http, "close");
    h.http.close();
    assert.equal(closes, 0);
    client.close();
    await closed;
    assert.equal(closes, 1);
    assert.equal(h.engine.clientsCount, 0);
  });
});

describe("headers, cookie, generateId", () => {
  test("cookie option and initial_headers: Set-Cookie reaches the client", async (t) => {
    const h = await startEngine({ cookie: true });
    t.after(() => h.close());
    const initial: string[] = [];
    let headerEvents = 0;
    h.engine.on(
      "initial_headers",
      (headers: Record<string, unknown>, req: http.IncomingMessage) => {
        initial.push(String(req.url));
        headers["set-cookie"] = [...(headers["Set-Cookie"] as string[]), "extra=1; Path=/"];
        delete headers["Set-Cookie"];
      },
    );
    h.engine.on("headers", (headers: Record<string, unknown>) => {
      headerEvents++;
      headers["x-every"] = "1";
    });
    const res = await request(h.port, `${P}?EIO=4&transport=polling`);
    const sid = sidOf(res.body);
    assert.deepEqual(res.headers["set-cookie"], [
      `io=${sid}; Path=/; HttpOnly; SameSite=Lax`,
      "extra=1; Path=/",
    ]);
    assert.equal(res.headers["x-every"], "1");
    assert.equal(initial.length, 1);
    const poll = request(h.port, `${P}?EIO=4&transport=polling&sid=${sid}`);
    h.engine.clients[sid]?.send("x");
    const second = await poll;
    assert.equal(second.headers["set-cookie"], undefined);
    assert.equal(second.headers["x-every"], "1");
    assert.equal(headerEvents, 2);
    assert.equal(initial.length, 1);

    // the official client with credentials sends the cookie back
    const seenCookies: string[] = [];
    h.engine.on("headers", (_h: unknown, req: http.IncomingMessage) =>
      seenCookies.push(req.headers.cookie ?? ""),
    );
    const client = await connect(h.url, { transports: ["polling"], withCredentials: true });
    client.send("ping me");
    await until(
      () => seenCookies.some((c) => c.includes(`io=${client.id}`)),
      `the cookie io=${client.id} in a request`,
    );
    client.close();
  });

  test("cookie options: name, path, sameSite", async (t) => {
    const h = await startEngine({ cookie: { name: "sticky", path: "/app", sameSite: "strict" } });
    t.after(() => h.close());
    const res = await request(h.port, `${P}?EIO=4&transport=polling`);
    assert.deepEqual(res.headers["set-cookie"], [
      `sticky=${sidOf(res.body)}; Path=/app; HttpOnly; SameSite=Strict`,
    ]);
  });

  test("headers and initial_headers reach the WebSocket 101 response", async (t) => {
    const h = await startEngine();
    t.after(() => h.close());
    h.engine.on(
      "initial_headers",
      (headers: Record<string, unknown>) => (headers["x-initial"] = "a"),
    );
    h.engine.on("headers", (headers: Record<string, unknown>) => (headers["x-any"] = "b"));
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}${P}?EIO=4&transport=websocket`);
    const [res] = await once<[http.IncomingMessage]>(ws, "upgrade");
    assert.equal(res.headers["x-initial"], "a");
    assert.equal(res.headers["x-any"], "b");
    ws.close();
  });

  test("generateId may return a Promise (UUIDs)", async (t) => {
    const h = await startEngine();
    t.after(() => h.close());
    h.engine.generateId = async () => {
      await delay(10);
      return randomUUID();
    };
    for (const transports of [["polling"], ["websocket"], ["polling", "websocket"]]) {
      const conn = once<[Socket]>(h.engine, "connection");
      const client = await connect(h.url, { transports });
      const [socket] = await conn;
      assert.match(
        socket.id,
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      assert.equal(client.id, socket.id);
      const msg = once<[string]>(socket, "message");
      client.send("hi");
      assert.equal((await msg)[0], "hi");
      // closing the official client in the middle of its upgrade leaves its own timers running
      if (transports.length === 2) await once(socket, "upgrade");
      client.close();
    }
  });

  test("generateId failure → code 3 ID_GENERATION_ERROR", async (t) => {
    const h = await startEngine();
    t.after(() => h.close());
    h.engine.generateId = () => Promise.reject(new Error("no ids today"));
    const event = once<[ConnectionError]>(h.engine, "connection_error");
    const res = await request(h.port, `${P}?EIO=4&transport=polling`);
    const [err] = await event;
    assert.equal(err.code, 3);
    assert.equal(err.context.name, "ID_GENERATION_ERROR");
    assert.equal((err.context.error as Error).message, "no ids today");
    assert.equal(res.status, 400);
  });

  test("allowRequest accepting and rejecting", async (t) => {
    const h = await startEngine({
      allowRequest: (req, fn) => fn("nope", req.url?.includes("token=ok") ?? false),
    });
    t.after(() => h.close());
    const client = await connect(h.url, { query: { token: "ok" } });
    assert.equal(h.engine.clientsCount, 1);
    client.close();
    const refused = await connect(h.url, { query: { token: "bad" } }, false);
    const [err] = await once<[Error]>(refused, "error");
    assert.ok(err);
    refused.close();
  });
});

describe("middlewares and CORS", () => {
  test("engine.use runs on polling requests and upgrades; its headers reach the response", async (t) => {
    const h = await startEngine();
    t.after(() => h.close());
    const calls: string[] = [];
    h.engine.use((req, res, next) => {
      calls.push(String(new URL(String(req.url), "http://x").searchParams.get("transport")));
      res.setHeader("x-mw", "on");
      next();
    });
    const res = await request(h.port, `${P}?EIO=4&transport=polling`);
    assert.equal(res.headers["x-mw"], "on");
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}${P}?EIO=4&transport=websocket`);
    const [up] = await once<[http.IncomingMessage]>(ws, "upgrade");
    assert.equal(up.headers["x-mw"], "on");
    ws.close();
    assert.deepEqual(calls, ["polling", "websocket"]);
  });

  test("a failing middleware → code 3 MIDDLEWARE_FAILURE", async (t) => {
    const h = await startEngine();
    t.after(() => h.close());
    h.engine.use((_req, _res, next) => next(new Error("denied by middleware")));
    const event = once<[ConnectionError]>(h.engine, "connection_error");
    const res = await request(h.port, `${P}?EIO=4&transport=polling`);
    const [err] = await event;
    assert.equal(err.code, 3);
    assert.deepEqual(err.context, { name: "MIDDLEWARE_FAILURE" });
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body.toString()), { code: 3, message: "Bad request" });
  });

  test("cors option: preflight and actual request headers", async (t) => {
    const h = await startEngine({ cors: { origin: "https://app.example", credentials: true } });
    t.after(() => h.close());
    const preflight = await request(h.port, `${P}?EIO=4&transport=polling`, {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers["access-control-allow-origin"], "https://app.example");
    assert.equal(preflight.headers["access-control-allow-credentials"], "true");
    assert.match(String(preflight.headers["access-control-allow-methods"]), /POST/);
    const res = await request(h.port, `${P}?EIO=4&transport=polling`, {
      headers: { Origin: "https://app.example" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers["access-control-allow-origin"], "https://app.example");
    assert.equal(res.headers["access-control-allow-credentials"], "true");
    assert.equal(h.engine.clientsCount, 1);
  });
});

describe("polling responses", () => {
  test("httpCompression: gzip/deflate above the threshold, as Accept-Encoding allows", async (t) => {
    const h = await startEngine({ httpCompression: { threshold: 100 } });
    t.after(() => h.close());
    const res = await request(h.port, `${P}?EIO=4&transport=polling`);
    const sid = sidOf(res.body);
    const socket = h.engine.clients[sid] as Socket;
    const big = "compress me ".repeat(50);
    const cases = [
      { accept: "gzip, deflate", encoding: "gzip", data: big },
      { accept: "deflate", encoding: "deflate", data: big },
      { accept: "br", encoding: undefined, data: big },
      { accept: "gzip", encoding: undefined, data: "tiny" },
    ];
    for (const c of cases) {
      const poll = request(h.port, `${P}?EIO=4&transport=polling&sid=${sid}`, {
        headers: { "Accept-Encoding": c.accept },
      });
      await until(() => socket.transport.writable, "the poll to be pending");
      socket.send(c.data);
      const r = await poll;
      assert.equal(r.headers["content-encoding"], c.encoding);
      const body =
        c.encoding === "gzip"
          ? gunzipSync(r.body)
          : c.encoding === "deflate"
            ? inflateSync(r.body)
            : r.body;
      assert.equal(body.toString(), "4" + c.data);
      assert.equal(Number(r.headers["content-length"]), r.body.length);
    }
    // compress: false on the packet
    const poll = request(h.port, `${P}?EIO=4&transport=polling&sid=${sid}`, {
      headers: { "Accept-Encoding": "gzip" },
    });
    await until(() => socket.transport.writable, "the poll to be pending");
    socket.send(big, { compress: false });
    assert.equal((await poll).headers["content-encoding"], undefined);
  });

  test("httpCompression: false never compresses; the official client reads compressed payloads", async (t) => {
    const off = await startEngine({ httpCompression: false });
    t.after(() => off.close());
    const res = await request(off.port, `${P}?EIO=4&transport=polling`);
    const sid = sidOf(res.body);
    const poll = request(off.port, `${P}?EIO=4&transport=polling&sid=${sid}`, {
      headers: { "Accept-Encoding": "gzip" },
    });
    await until(
      () => off.engine.clients[sid]?.transport.writable === true,
      "the poll to be pending",
    );
    off.engine.clients[sid]?.send("z".repeat(5000));
    assert.equal((await poll).headers["content-encoding"], undefined);

    const on = await startEngine();
    t.after(() => on.close());
    const conn = once<[Socket]>(on.engine, "connection");
    const client = await connect(on.url, { transports: ["polling"] });
    const [socket] = await conn;
    const message = once<[string]>(client, "message");
    socket.send("y".repeat(5000));
    assert.equal((await message)[0], "y".repeat(5000));
    client.close();
  });

  test("several packets in one poll, joined by the record separator; binary as base64", async (t) => {
    const h = await startEngine({ initialPacket: "welcome" });
    t.after(() => h.close());
    const res = await request(h.port, `${P}?EIO=4&transport=polling`);
    const sid = sidOf(res.body.subarray(0, res.body.indexOf(0x1e)));
    assert.equal(res.body.toString().split("\x1e")[1], "4welcome");
    const socket = h.engine.clients[sid] as Socket;
    const written: string[] = [];
    socket.send("a", () => written.push("a"));
    socket.send(Buffer.from([1, 2, 3]), () => written.push("b"));
    const poll = await request(h.port, `${P}?EIO=4&transport=polling&sid=${sid}`);
    assert.equal(poll.body.toString(), "4a\x1ebAQID");
    assert.deepEqual(written, ["a", "b"]);
    // and the reverse direction
    const got: unknown[] = [];
    socket.on("message", (d: unknown) => got.push(d));
    const post = await request(h.port, `${P}?EIO=4&transport=polling&sid=${sid}`, {
      method: "POST",
      body: "4x\x1ebBAUG\x1e4y",
    });
    assert.equal(post.body.toString(), "ok");
    assert.equal(got[0], "x");
    assert.deepEqual([...(got[1] as Buffer)], [4, 5, 6]);
    assert.equal(got[2], "y");
  });

  test("a malformed payload closes the session with 'parse error'", async (t) => {
    const h = await startEngine();
    t.after(() => h.close());
    const res = await request(h.port, `${P}?EIO=4&transport=polling`);
    const socket = h.engine.clients[sidOf(res.body)] as Socket;
    const closed = once<[string]>(socket, "close");
    await request(h.port, `${P}?EIO=4&transport=polling&sid=${socket.id}`, {
      method: "POST",
      body: "9bogus",
    });
    assert.equal((await closed)[0], "parse error");
  });
});

describe("PreparedMessage", () => {
  test("one broadcast, encoded once, reaches polling and websocket clients", async (t) => {
    const h = await startEngine();
    t.after(() => h.close());
    const clients = await Promise.all([
      connect(h.url, { transports: ["polling"] }),
      connect(h.url, { transports: ["websocket"] }),
      connect(h.url, { transports: ["websocket"] }),
    ]);
    const sockets = Object.values(h.engine.clients);
    assert.equal(sockets.length, 3);
    for (const data of ["broadcast ✓", Buffer.from([7, 7, 7])]) {
      const prepared = new PreparedMessage(data);
      const received = clients.map((c) => once<[unknown]>(c, "message"));
      for (const s of sockets) s.send(prepared);
      const results = await Promise.all(received);
      for (const [got] of results) {
        if (typeof data === "string") assert.equal(got, data);
        else assert.deepEqual([...new Uint8Array(got as ArrayBuffer)], [7, 7, 7]);
      }
      // the frame was built once and cached
      assert.equal(prepared.wsFrame, prepared.wsFrame);
    }
    // packetCreate listeners see the raw data
    const created: unknown[] = [];
    sockets[0]?.on("packetCreate", (p: { data: unknown }) => created.push(p.data));
    sockets[0]?.send(new PreparedMessage("seen"));
    assert.deepEqual(created, ["seen"]);
    for (const c of clients) c.close();
  });

  test("several packets sent in one tick arrive in order on a websocket", async (t) => {
    const h = await startEngine();
    t.after(() => h.close());
    const conn = once<[Socket]>(h.engine, "connection");
    const client = await connect(h.url, { transports: ["websocket"] });
    const [socket] = await conn;
    const got: unknown[] = [];
    client.on("message", (d: unknown) => got.push(d));
    const prepared = new PreparedMessage("p");
    for (let i = 0; i < 100; i++) socket.send(i % 2 ? prepared : String(i));
    await until(() => got.length >= 100, "100 messages");
    assert.deepEqual(
      got,
      Array.from({ length: 100 }, (_, i) => (i % 2 ? "p" : String(i))),
    );
    client.close();
  });
});

describe("server close", () => {
  test("close() closes every session and refuses new handshakes", async () => {
    const h = await startEngine();
    const clients = await Promise.all([
      connect(h.url, { transports: ["polling"] }),
      connect(h.url, { transports: ["websocket"] }),
    ]);
    const reasons: string[] = [];
    for (const s of Object.values(h.engine.clients)) s.on("close", (r: string) => reasons.push(r));
    const clientCloses = clients.map((c) => once(c, "close"));
    h.engine.close();
    assert.deepEqual(reasons, ["forced close", "forced close"]);
    assert.equal(h.engine.clientsCount, 0);
    await Promise.all(clientCloses);
    const res = await request(h.port, `${P}?EIO=4&transport=polling`);
    assert.equal(res.status, 503);
    h.http.closeAllConnections();
    await new Promise((resolve) => h.http.close(resolve));
  });

  test("Server can be used without attach() through handleRequest", async (t) => {
    const engine = new Server();
    const { createServer } = await import("node:http");
    const server = createServer((req, res) => engine.handleRequest(req, res));
    server.on("upgrade", (req, socket, head) => engine.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(() => {
      engine.close();
      server.close();
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = await connect(url);
    await once(client, "upgrade");
    client.close();
  });
});
