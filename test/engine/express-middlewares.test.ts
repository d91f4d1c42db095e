// Engine middlewares with express-session and passport themselves, wired as socket.io's examples wire them:
// the parsed query is on the request before the middlewares run (`req._query.sid`), the session cookie set by
// express-session's `on-headers` hook reaches the 101 of a WebSocket handshake, and a middleware answering 401
// itself keeps its answer (over WebSocket too, where socket.io itself crashes: research-18 §4.5).
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { test } from "node:test";
import WebSocket from "ws";
import { installPassportExample, installSessionExample, login } from "../support/express-apps";
import { next, start, until } from "../support/io";

/** Opens a raw WebSocket handshake and returns the 101's `Set-Cookie` lines. */
function websocketHandshakeCookies(port: number, cookie?: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, {
      headers: cookie ? { cookie } : {},
    });
    ws.on("upgrade", (res: IncomingMessage) => {
      resolve(res.headers["set-cookie"] ?? []);
      ws.close();
    });
    ws.on("error", reject);
  });
}

test("express-session: a client opening straight over WebSocket gets the session cookie in the 101", async () => {
  const s = await start();
  try {
    installSessionExample(s.io, s.httpServer);
    const cookies = await websocketHandshakeCookies(s.port);
    assert.equal(cookies.length, 1);
    assert.match(cookies[0]!, /^connect\.sid=s%3A[^;]+; Path=\/; HttpOnly$/);
    // a session Express saved is the socket's session
    const res = await fetch(`${s.url}/session`);
    const cookie = res.headers.getSetCookie()[0]!.split(";")[0]!;
    const fromExpress = await res.text();
    const client = s.client("/", { transports: ["websocket"], extraHeaders: { cookie } });
    await next(client, "connect");
    assert.equal(await client.emitWithAck("session"), fromExpress);
    assert.deepEqual([...(await s.io.in(fromExpress).allSockets())], [client.id]);
  } finally {
    await s.close();
  }
});

test("express-session over polling: the handshake response sets the cookie", async () => {
  const s = await start();
  try {
    installSessionExample(s.io, s.httpServer);
    const res = await fetch(`${s.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 200);
    assert.match(res.headers.getSetCookie()[0] ?? "", /^connect\.sid=s%3A/);
  } finally {
    await s.close();
  }
});

test("engine middlewares see engine.io's parsed query: every parameter, the last of a repeated key", async () => {
  const s = await start();
  try {
    const seen: Array<Record<string, string> | undefined> = [];
    s.io.engine.use((req, _res, next) => {
      seen.push((req as IncomingMessage & { _query?: Record<string, string> })._query);
      next();
    });
    const client = s.client("/", {
      transports: ["websocket"],
      query: { room: "a b", tag: "x" },
    });
    await next(client, "connect");
    assert.equal(seen.length, 1);
    assert.deepEqual(
      { ...seen[0], t: undefined },
      { EIO: "4", transport: "websocket", room: "a b", tag: "x", t: undefined },
    );
    await fetch(`${s.url}/socket.io/?EIO=4&transport=polling&k=1&k=2`);
    assert.equal(seen[1]?.k, "2");
    assert.equal(seen[1]?.sid, undefined);
  } finally {
    await s.close();
  }
});

for (const transports of [["polling", "websocket"], ["websocket"]] as const) {
  test(`passport example: a logged-in user connects (${transports.join("+")}), middlewares only on the handshake`, async () => {
    const s = await start();
    try {
      installPassportExample(s.io, s.httpServer);
      const cookie = await login(s.port);
      const client = s.client("/", { transports: [...transports], extraHeaders: { cookie } });
      await next(client, "connect");
      assert.equal(await client.emitWithAck("whoami"), "john");
      if (transports.length === 2) {
        // the upgrade request carries the sid: the wrapped middlewares let it through without a session
        await until(() => client.io.engine.transport.name === "websocket");
        assert.equal(await client.emitWithAck("whoami"), "john");
      }
      const sockets = await s.io.in("user:1").fetchSockets();
      assert.equal(sockets.length, 1);
    } finally {
      await s.close();
    }
  });
}

test("passport example: an anonymous polling client gets the middleware's own 401", async () => {
  const s = await start();
  try {
    installPassportExample(s.io, s.httpServer);
    const client = s.client("/", { transports: ["polling"] });
    const [err] = await next<[Error & { description?: unknown }]>(client, "connect_error");
    assert.equal(err.message, "xhr poll error");
    assert.equal(err.description, 401);
  } finally {
    await s.close();
  }
});

test("passport example: an anonymous WebSocket client is turned away, and the server carries on", async () => {
  const s = await start();
  try {
    installPassportExample(s.io, s.httpServer);
    const anonymous = s.client("/", { transports: ["websocket"] });
    const [err] = await next<[Error]>(anonymous, "connect_error");
    assert.equal(err.message, "websocket error");
    // express-session's `end` (it saves the session first) called `_implicitHeader` on the stand-in
    // response: the process is still here and john still gets in
    const cookie = await login(s.port);
    const client = s.client("/", { transports: ["websocket"], extraHeaders: { cookie } });
    await next(client, "connect");
    assert.equal(await client.emitWithAck("whoami"), "john");
  } finally {
    await s.close();
  }
});

test("a middleware answering 401 itself keeps its answer (polling: the status; WebSocket: no 101)", async () => {
  const s = await start();
  try {
    s.io.engine.use((_req, res) => {
      res.writeHead(401, { "content-type": "text/plain" });
      res.end("go away");
    });
    const res = await fetch(`${s.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 401);
    assert.equal(await res.text(), "go away");
    const refused = s.client("/", { transports: ["websocket"] });
    const [err] = await next<[Error]>(refused, "connect_error");
    assert.equal(err.message, "websocket error");
    assert.equal(s.io.engine.clientsCount, 0);
  } finally {
    await s.close();
  }
});
