// Differential: engine middlewares with express-session and passport, as socket.io's examples wire them. The
// anonymous WebSocket-only client of the passport example is left out: it crashes socket.io itself
// (express-session's `end` calls `_implicitHeader`, which engine.io's stand-in response lacks; research-18 §4.5);
// test/engine/express-middlewares.test.ts covers it on Switchyard.
import type { IncomingMessage } from "node:http";
import { describe, test } from "node:test";
import WebSocket from "ws";
import { installPassportExample, installSessionExample, login } from "../support/express-apps";
import { errInfo, next, same, until } from "./harness";

/** The shape of a Set-Cookie line, its value masked. */
function cookieShape(line: string | undefined): string | undefined {
  return line?.replace(/^connect\.sid=s%3A[^;]+/, "connect.sid=<signed>");
}

describe("interop: engine middlewares", () => {
  test("express-session: the 101 of a WebSocket handshake carries the session cookie", async () => {
    await same({}, async (s) => {
      installSessionExample(s.io, s.httpServer);
      const cookies = await new Promise<string[]>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${s.port}/socket.io/?EIO=4&transport=websocket`);
        ws.on("upgrade", (res: IncomingMessage) => {
          resolve(res.headers["set-cookie"] ?? []);
          ws.close();
        });
        ws.on("error", reject);
      });
      s.rec("101", cookies.map(cookieShape));
      const poll = await s.request("GET", "/socket.io/?EIO=4&transport=polling");
      s.rec("polling", poll.status, (poll.headers["set-cookie"] ?? []).map(cookieShape));
      // a session Express saved is the socket's session
      const res = await fetch(`${s.url}/session`);
      const cookie = res.headers.getSetCookie()[0]!.split(";")[0]!;
      const id = await res.text();
      const client = s.client("/", { transports: ["websocket"], extraHeaders: { cookie } });
      await next(client, "connect");
      s.rec("same session", (await client.emitWithAck("session")) === id);
      s.rec("in its room", (await s.io.in(id).allSockets()).has(client.id!));
    });
  });

  for (const transports of [["polling", "websocket"], ["websocket"]] as const) {
    test(`passport: a logged-in user connects and is known (${transports.join("+")})`, async () => {
      await same({}, async (s) => {
        installPassportExample(s.io, s.httpServer);
        const cookie = await login(s.port);
        const client = s.client("/", { transports: [...transports], extraHeaders: { cookie } });
        await next(client, "connect");
        s.rec("whoami", await client.emitWithAck("whoami"));
        if (transports.length === 2) {
          await until(() => client.io.engine.transport.name === "websocket", 15000, "upgrade");
          s.rec("after upgrade", await client.emitWithAck("whoami"));
        }
        s.rec("room", (await s.io.in("user:1").allSockets()).size);
      });
    });
  }

  test("passport: an anonymous polling client gets the 401 the middleware wrote", async () => {
    await same({}, async (s) => {
      installPassportExample(s.io, s.httpServer);
      const client = s.client("/", { transports: ["polling"] });
      const [err] = await next<[Error & { description?: unknown }]>(client, "connect_error");
      s.rec("connect_error", errInfo(err), err.description);
      const raw = await s.request("GET", "/socket.io/?EIO=4&transport=polling");
      s.rec("raw", raw.status, raw.body);
    });
  });

  test("a middleware failing with next(err): 400 Bad request on both transports", async () => {
    await same({}, async (s) => {
      s.io.engine.use((req, _res, next) => {
        const query = (req as IncomingMessage & { _query: Record<string, string> })._query;
        next(query.token === "ok" ? undefined : new Error("no token"));
      });
      const poll = await s.request("GET", "/socket.io/?EIO=4&transport=polling");
      s.rec("polling", poll.status, poll.body);
      const refused = s.client("/", { transports: ["websocket"] });
      const [err] = await next<[Error]>(refused, "connect_error");
      s.rec("websocket", errInfo(err));
      const client = s.client("/", { transports: ["websocket"], query: { token: "ok" } });
      await next(client, "connect");
      s.rec("with token", client.connected);
    });
  });
});
