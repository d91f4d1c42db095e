/**
 * Side by side with socket.io 4.8.4, both with `allowEIO3: true`: socket.io-client 2.5 sessions (what the
 * application sees and what the client sees), v3 polling bytes, the bundle's CORS headers and encoding, and the
 * one intended difference (an idle upgraded v3 session times out here, never on socket.io).
 */
import { describe, test } from "node:test";
import type { Socket } from "../../src";
import { type V2Socket, v2Client, v2Namespace } from "../support/legacy-clients";
import { next, same, sameExcept, sleep, until } from "./harness";

type Emitter = Parameters<typeof next>[0];

function acked(socket: V2Socket, event: string, ...args: unknown[]): Promise<unknown[]> {
  return new Promise((resolve) =>
    socket.emit(event, ...args, (...answer: unknown[]) => resolve(answer)),
  );
}

describe("interop: socket.io-client 2.5 (allowEIO3)", () => {
  for (const transports of [["polling"], ["websocket"], ["polling", "websocket"]] as const) {
    test(`a v2 session over ${transports.join("+")}`, async () => {
      await same({ allowEIO3: true }, async (s) => {
        s.io.of("/admin").use((socket, nextFn) => {
          if (socket.handshake.auth.token === "abc") nextFn();
          else
            nextFn(Object.assign(new Error("not authorized"), { data: { reason: "bad token" } }));
        });
        s.io.of("/plain").use((_socket, nextFn) => nextFn(new Error("plain message")));
        s.io.of("/admin").on("connection", (socket) => {
          s.rec("admin", socket.id === `/admin#${socket.conn.id}`, { ...socket.handshake.auth });
        });
        const serverRoot = next<[Socket]>(s.io, "connection");
        const root = v2Client(s.url, { transports, query: { token: "abc" } });
        try {
          await next(root as unknown as Emitter, "connect");
          const [socket] = await serverRoot;
          s.rec("root", socket.id === socket.conn.id, root.id === socket.id, socket.conn.protocol);
          s.rec("handshake", { ...socket.handshake.auth }, socket.handshake.query.token);
          socket.on("hello", (payload: unknown, ack: (...args: unknown[]) => void) =>
            ack("ackdata", payload),
          );
          socket.on("bin", (data: Buffer, ack: (data: Buffer) => void) => ack(data.reverse()));
          const admin = v2Namespace(root, "/admin", { token: "abc", x: "a b" });
          await next(admin as unknown as Emitter, "connect");
          const plain = v2Namespace(root, "/plain");
          s.rec("plain", await next(plain as unknown as Emitter, "error"));
          const nope = v2Namespace(root, "/nope");
          s.rec("nope", await next(nope as unknown as Emitter, "error"));
          s.rec("ack", await acked(root, "hello", { u: "é€😀" }));
          const [bytes] = (await acked(root, "bin", Buffer.from([1, 2, 3]))) as [Buffer];
          s.rec("bin", [...Buffer.from(bytes)]);
          root.on("question", (...args: never[]) => {
            const [q, ack] = args as unknown as [string, (answer: unknown) => void];
            ack({ answer: q });
          });
          s.rec("server-ack", await socket.timeout(5000).emitWithAck("question", "q?"));
          const gone = next(root as unknown as Emitter, "disconnect");
          socket.disconnect();
          s.rec("disconnect", await gone);
        } finally {
          root.close();
        }
      });
    });
  }

  test("v3 polling bytes: handshake, CONNECT, framed events and acks, b64 binary", async () => {
    await same({ allowEIO3: true }, async (s) => {
      s.io.on("connection", (socket) => {
        socket.on("hello", (payload: unknown, ack: (...args: unknown[]) => void) => {
          ack("ackdata", payload);
          socket.emit("bin", Buffer.from([0xde, 0xad]));
        });
      });
      const base = "/socket.io/?EIO=3&transport=polling&b64=1";
      const open = await s.request("GET", base);
      s.rec("open", open.status, open.headers["content-type"], open.body);
      const sid = (/"sid":"([^"]+)"/.exec(open.body) as RegExpExecArray)[1] as string;
      const poll = `${base}&sid=${sid}`;
      s.rec("connect", (await s.request("GET", poll)).body);
      const body = '420["hello",{"u":"é€😀"}]';
      const posted = await s.request("POST", poll, `${body.length}:${body}`, {
        "Content-Type": "text/plain;charset=UTF-8",
      });
      s.rec("post", posted.status, posted.headers["content-type"], posted.body);
      let answer = "";
      while (!answer.includes("b4")) answer += (await s.request("GET", poll)).body;
      s.rec("answer", answer);
      const bad = await s.request("POST", poll, "1:3");
      s.rec("pong from client", bad.status, bad.body);
      s.rec("after", (await s.request("GET", poll)).body);
    });
  });

  test("the client bundle carries the cors option's headers and picks socket.io's encoding", async () => {
    await same({ cors: { origin: "https://app.example", credentials: true } }, async (s) => {
      for (const encoding of [undefined, "gzip", "br;q=0.5, gzip;q=0.9", "deflate", "*"]) {
        const headers: Record<string, string> = { Origin: "https://app.example" };
        if (encoding !== undefined) headers["Accept-Encoding"] = encoding;
        const res = await s.request("GET", "/socket.io/socket.io.min.js", undefined, headers);
        s.rec(
          "bundle",
          encoding ?? "none",
          res.status,
          res.headers["access-control-allow-origin"],
          res.headers["access-control-allow-credentials"],
          res.headers["content-encoding"] ?? "identity",
          // socket.io sends no "Vary: Accept-Encoding" (we add it, for caches): Origin must be there on both
          String(res.headers.vary).split(", ").includes("Origin"),
          res.body.length > 1000,
        );
      }
    });
  });

  test("an idle upgraded v3 session: timed out here (intended), kept by socket.io", async () => {
    await sameExcept(
      { allowEIO3: true, pingInterval: 200, pingTimeout: 150 },
      async (s) => {
        const closed: string[] = [];
        s.io.on("connection", (socket) => {
          socket.on("disconnect", (reason) => closed.push(reason));
        });
        const root = v2Client(s.url, { transports: ["polling", "websocket"] });
        try {
          await next(root as unknown as Emitter, "connect");
          await until(() => root.io.engine.transport.name === "websocket");
          // the client stops pinging (its timer is cleared), as a device that went silent would
          const engine = root.io.engine as unknown as {
            pingIntervalTimer?: NodeJS.Timeout;
            pingTimeoutTimer?: NodeJS.Timeout;
            setPing(): void;
            onHeartbeat(): void;
          };
          clearTimeout(engine.pingIntervalTimer);
          clearTimeout(engine.pingTimeoutTimer);
          engine.setPing = engine.onHeartbeat = () => {};
          // idle for more than pingInterval + pingTimeout (the point of the scenario, not a synchronization)
          await sleep(1200);
          s.rec("server side after idling", closed.length === 0 ? "open" : closed);
        } finally {
          root.close();
        }
      },
      (channel) =>
        channel === "server side after idling"
          ? { switchyard: [["ping timeout"]], "socket.io": ["open"] }
          : undefined,
    );
  });
});
