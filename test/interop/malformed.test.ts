// Differential: malformed packets as a raw peer sees them; documented differences ("error" event, 304).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Socket } from "../../src";
import { errInfo, next, runBoth, same, sameExcept, type Side } from "./harness";

/** Opens a raw WebSocket peer joined to "/", sends `bad`, records the frames after CONNECT, close code, reason. */
async function sendBad(
  s: Side,
  bad: string | Buffer | Array<string | Buffer>,
  label: string,
  withReason = true,
): Promise<void> {
  const connection = next<[Socket]>(s.io, "connection");
  const raw = await s.raw();
  raw.send("40");
  const [socket] = await connection;
  await raw.waitFor((f) => f.startsWith("40"));
  const reason = new Promise<string>((resolve) =>
    socket.on("disconnect", (r: string) => resolve(r)),
  );
  for (const frame of Array.isArray(bad) ? bad : [bad]) raw.send(frame);
  const [code] = await raw.closed;
  s.rec(label, raw.frames.slice(2), code);
  if (withReason) s.rec(`${label} (server reason)`, await reason);
}

const SOCKET_IO_BAD: Array<[string | Buffer | Array<string | Buffer>, string]> = [
  ["42{}", "event: object payload"],
  ["4abc", "unknown socket.io type"],
  ["42abc[", "bad json"],
  ['42["connect"]', "reserved event name from the client"],
  [['451-["x",{"_placeholder":true,"num":5}]', Buffer.from([1])], "bad placeholder"],
  [
    ['452-["x",{"_placeholder":true,"num":0}]', Buffer.from([1]), '42["y"]'],
    "text instead of an attachment",
  ],
  [Buffer.from([1, 2, 3]), "binary frame without a header"],
];

/** A raw polling session joined to "/" posts `bad`; records the POST, the next GET and the server reason. */
async function pollBad(s: Side, bad: string, withReason: boolean): Promise<void> {
  const connection = next<[Socket]>(s.io, "connection");
  const open = await s.request("GET", "/socket.io/?EIO=4&transport=polling");
  const sid = (JSON.parse(open.body.slice(1)) as { sid: string }).sid;
  const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
  await s.request("POST", path, "40");
  const [socket] = await connection;
  const reason = new Promise<string>((resolve) =>
    socket.on("disconnect", (r: string) => resolve(r)),
  );
  await s.request("GET", path);
  const post = await s.request("POST", path, bad);
  // the session may wait for a GET to close (socket.io answers it with a close packet)
  const after = await s.request("GET", path);
  s.rec(bad, post.status, post.body, after.status, after.body);
  if (withReason) s.rec(`${bad} (server reason)`, await reason);
}

describe("interop: malformed packets", () => {
  test("raw WebSocket peer: bad Engine.IO and Socket.IO packets close the connection", async () => {
    await same({}, async (s) => {
      await sendBad(s, "x", "engine: unknown type");
      for (const [bad, label] of SOCKET_IO_BAD) await sendBad(s, bad, label, false);
    });
  });

  test("raw polling peer: a bad payload closes the session", async () => {
    await same({}, async (s) => {
      await pollBad(s, "x", true);
      await pollBad(s, "42{}", false);
    });
  });
});

describe("interop: documented differences (malformed area)", () => {
  test('a client-emitted "error" event: socket.io hands it to the error listeners, Switchyard refuses it', async () => {
    const both = await runBoth({}, async (s) => {
      const connection = next<[Socket]>(s.io, "connection");
      const raw = await s.raw();
      raw.send("40");
      const [socket] = await connection;
      await raw.waitFor((f) => f.startsWith("40"));
      socket.on("error", (err: unknown) =>
        s.rec("error listener", err instanceof Error ? { error: err.name, ...errInfo(err) } : err),
      );
      let watching = true;
      socket.on("disconnect", (r: string) => watching && s.rec("disconnect", r));
      // a packet sent after: once the server has handled it, it has handled the first one too (or closed)
      const handled = new Promise<void>((resolve) => {
        socket.once("marker", () => resolve());
        socket.once("disconnect", () => resolve());
      });
      raw.send('42["error","boom"]');
      raw.send('42["marker"]');
      await handled;
      watching = false;
      s.rec("connected", socket.connected);
    });
    // socket.io's parser does not reserve "error", so the client's event reaches the socket's "error"
    // listeners (where server code expects Error objects from middlewares). Switchyard treats the name as
    // reserved for client events: the packet is a parse error, the error listeners get a ParseError, and the
    // connection is closed ("parse error").
    assert.deepEqual(both["socket.io"], { "error listener": ["boom"], connected: [true] });
    assert.deepEqual(both.switchyard, {
      "error listener": [
        { error: "ParseError", message: 'invalid payload: "error" is a reserved event name' },
      ],
      disconnect: ["parse error"],
      connected: [false],
    });
  });

  test("client bundle 304: Switchyard repeats the ETag headers, socket.io sends none", async () => {
    const both = await runBoth({ serveClient: true }, async (s) => {
      const first = await s.request("GET", "/socket.io/socket.io.min.js");
      const etag = String(first.headers.etag);
      const again = await s.request("GET", "/socket.io/socket.io.min.js", undefined, {
        "If-None-Match": etag,
      });
      s.rec("first", first.status, etag);
      s.rec(
        "304",
        again.status,
        again.body,
        again.headers.etag === etag,
        again.headers["cache-control"],
      );
    });
    // Both answer the conditional request with an empty 304. RFC 9110 asks a 304 to carry the ETag and
    // Cache-Control it would have sent with a 200; Switchyard does, socket.io sends neither.
    assert.deepEqual(both["socket.io"], {
      first: [[200, '"4.8.4"']],
      "304": [[304, "", false, undefined]],
    });
    assert.deepEqual(both.switchyard, {
      first: [[200, '"4.8.4"']],
      "304": [[304, "", true, "public, max-age=0"]],
    });
  });
});

// Documented difference. socket.io 4.8.4 closes the engine connection on a Socket.IO-level decode error
// (Client.onerror -> conn.close()), so its sockets leave with "forced close"; "parse error" is only for
// undecodable Engine.IO packets. Switchyard reports "parse error" for both, as socket.io's own documentation
// describes the reason ("the server has received an invalid packet from the client") and issue 3 asks.
// What the client sees (frames, close code, HTTP answers) is the same.
describe("documented difference: the reason for a malformed Socket.IO packet", () => {
  test("'parse error' on Switchyard, 'forced close' on socket.io; the rest identical", async () => {
    await sameExcept(
      {},
      async (s) => {
        for (const [bad, label] of SOCKET_IO_BAD) await sendBad(s, bad, label, true);
        await pollBad(s, "42{}", true);
      },
      (channel) =>
        channel.endsWith("(server reason)")
          ? { switchyard: ["parse error"], "socket.io": ["forced close"] }
          : undefined,
    );
  });
});
