// Differential: handshake, events (mixed args, binary both ways), acks both ways, timeouts.
import { describe, test } from "node:test";
import { errInfo, next, same } from "./harness";

const TRANSPORTS = [["polling"], ["websocket"]] as const;

/** A comparable view of a value received by a client: binary becomes `{bin, kind}`. */
function plain(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return { bin: value.toString("hex"), kind: "Buffer" };
  if (value instanceof ArrayBuffer) {
    return { bin: Buffer.from(value).toString("hex"), kind: "ArrayBuffer" };
  }
  if (ArrayBuffer.isView(value)) {
    const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { bin: buf.toString("hex"), kind: value.constructor.name };
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  if (typeof value === "function") return "<fn>";
  return value;
}

describe("interop: handshake", () => {
  test("open packet over WebSocket and polling, CONNECT answer, custom timings and payload", async () => {
    await same({ pingInterval: 1234, pingTimeout: 4321, maxHttpBufferSize: 5000 }, async (s) => {
      const raw = await s.raw();
      s.rec("ws", raw.frames[0]);
      raw.send("40");
      s.rec("ws", await raw.waitFor((f) => f.startsWith("40")));
      const poll = await s.request("GET", "/socket.io/?EIO=4&transport=polling");
      s.rec("polling", poll.status, poll.headers["content-type"], poll.body);
      const open = JSON.parse(poll.body.slice(1)) as { sid: string };
      const post = await s.request(
        "POST",
        `/socket.io/?EIO=4&transport=polling&sid=${open.sid}`,
        "40",
      );
      s.rec("polling", post.status, post.headers["content-type"], post.body);
      const get = await s.request("GET", `/socket.io/?EIO=4&transport=polling&sid=${open.sid}`);
      s.rec("polling", get.status, get.body);
    });
  });

  test("transport options shape the open packet (websocket only, no upgrades)", async () => {
    await same({ transports: ["websocket"] }, async (s) => {
      const raw = await s.raw();
      s.rec("ws", raw.frames[0]);
    });
    await same({ allowUpgrades: false }, async (s) => {
      const poll = await s.request("GET", "/socket.io/?EIO=4&transport=polling");
      s.rec("polling", poll.status, poll.body);
    });
  });
});

describe("interop: events", () => {
  for (const transports of TRANSPORTS) {
    test(`mixed args and binary both ways (${transports[0]})`, async () => {
      await same({}, async (s) => {
        s.io.on("connection", (socket) => {
          socket.emit("welcome", 1, "2", { three: [true, null, 3.5] }, Buffer.from([1, 2, 3]), {
            nested: { bin: Uint8Array.from([4, 5]) },
            list: [Buffer.from("x")],
          });
          socket.on("echo", (...args: unknown[]) => {
            s.rec("server", plain(args));
            socket.emit("echo", ...args);
          });
          socket.onAny((event: unknown) => s.rec("server-any", event));
        });
        const client = s.client("/", { transports: [...transports] });
        const [welcome] = await Promise.all([
          new Promise<unknown[]>((resolve) =>
            client.once("welcome", (...a: unknown[]) => resolve(a)),
          ),
          next(client, "connect"),
        ]);
        s.rec("client", "welcome", plain(welcome));
        client.emit("echo", "a", 0, false, {
          deep: [Buffer.from([9, 8]), { u: Uint8Array.from([7]) }],
        });
        s.rec("client", "echo", plain(await next(client, "echo")));
        client.emit("echo");
        s.rec("client", "echo", plain(await next(client, "echo")));
        client.emit("echo", null, [], {});
        s.rec("client", "echo", plain(await next(client, "echo")));
      });
    });
  }
});

describe("interop: acks", () => {
  for (const transports of TRANSPORTS) {
    test(`acks both ways, binary answers, timeouts (${transports[0]})`, async () => {
      await same({}, async (s) => {
        const served = new Promise<void>((resolve) => {
          s.io.on("connection", (socket) => {
            socket.on("ask", (n: number, cb: (...a: unknown[]) => void) =>
              cb(n * 2, Buffer.from([n])),
            );
            socket.on("ask-empty", (cb: () => void) => cb());
            socket.on("go", async () => {
              socket.emit("question", 5, (...answer: unknown[]) =>
                s.rec("server", "answer", plain(answer)),
              );
              socket
                .timeout(150)
                .emit("silent", (err: unknown, ...rest: unknown[]) =>
                  s.rec("server", "timeout-cb", errInfo(err), rest.length),
                );
              try {
                await socket.timeout(150).emitWithAck("silent");
              } catch (err) {
                s.rec("server", "emitWithAck", errInfo(err));
              }
              s.rec(
                "server",
                "withAck",
                plain(await socket.timeout(3000).emitWithAck("question", 6)),
              );
              resolve();
            });
          });
        });
        const client = s.client("/", { transports: [...transports] });
        client.on("question", (n: number, cb: (...a: unknown[]) => void) =>
          cb(n + 1, { bin: Buffer.from([n]) }),
        );
        client.on("silent", () => s.rec("client", "silent received"));
        await next(client, "connect");
        s.rec("client", "ask", plain(await client.emitWithAck("ask", 21)));
        s.rec("client", "ask-empty", plain(await client.emitWithAck("ask-empty")));
        try {
          await client.timeout(100).emitWithAck("nobody-answers");
        } catch (err) {
          s.rec("client", "client timeout", errInfo(err));
        }
        client.emit("go");
        await served;
      });
    });
  }

  test("broadcast acks: responses from every client, timeouts, no timeout set", async () => {
    await same({}, async (s) => {
      const a = s.client("/", { auth: { n: 1 } });
      const b = s.client("/", { auth: { n: 2 } });
      for (const c of [a, b]) {
        c.on("q", (x: number, cb: (v: unknown) => void) => cb(x + (c === a ? 1 : 2)));
        c.on("mute", () => {});
      }
      await Promise.all([next(a, "connect"), next(b, "connect")]);
      const responses = await s.io.timeout(3000).emitWithAck("q", 10);
      s.rec("server", "all", [...(responses as number[])].sort());
      await new Promise<void>((resolve) =>
        s.io.timeout(150).emit("mute", (err: unknown, res: unknown[]) => {
          s.rec("server", "mute", errInfo(err), res);
          resolve();
        }),
      );
      try {
        await s.io.timeout(150).emitWithAck("mute");
      } catch (err) {
        s.rec("server", "mute-withAck", errInfo(err), (err as { responses?: unknown }).responses);
      }
      await new Promise<void>((resolve) =>
        s.io.to("empty-room").emit("q", 1, (err: unknown, res: unknown[]) => {
          s.rec("server", "no targets", err, res);
          resolve();
        }),
      );
      await new Promise<void>((resolve) =>
        s.io.emit("mute", (err: unknown) => {
          s.rec("server", "no timeout()", errInfo(err));
          resolve();
        }),
      );
    });
  });
});
