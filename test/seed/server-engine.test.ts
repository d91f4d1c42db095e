/**
 * Seed, section "Server#engine": clientsCount, generateId, initial_headers, headers, connection_error.
 * Each test keeps the document's snippet as written, then checks what the document says it does.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { request } from "../support/http";
import { next, start, type Running, until } from "../support/io";

// The seed requires the npm package "uuid"; its v4() is the same thing as Node's randomUUID().
const uuid = { v4: randomUUID };

async function get(
  url: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { port, pathname, search } = new URL(url);
  const res = await request(Number(port), pathname + search);
  return { status: res.status, headers: res.headers, body: res.body.toString() };
}

describe("seed: Server#engine", () => {
  let run: Running;
  before(async () => {
    run = await start();
  });
  after(() => run.close());

  test("clientsCount next to io.of('/').sockets.size", async () => {
    const { io } = run;
    const a = run.client("/", { transports: ["websocket"] });
    const b = run.client("/", { transports: ["polling"] });
    await Promise.all([next(a, "connect"), next(b, "connect")]);
    const count = io.engine.clientsCount;
    // may or may not be similar to the count of Socket instances in the main namespace, depending on your usage
    const count2 = io.of("/").sockets.size;
    assert.equal(count, 2);
    assert.equal(count2, 2);
    // An engine connection that joined only another namespace counts in the first figure, not the second.
    io.of("/other");
    const c = run.client("/other");
    await next(c, "connect");
    assert.equal(io.engine.clientsCount, 3);
    assert.equal(io.of("/").sockets.size, 2);
    a.disconnect();
    b.disconnect();
    c.disconnect();
    await until(() => io.engine.clientsCount === 0);
  });

  test("generateId: a custom session id (the sid query parameter)", async () => {
    const { io } = run;
    const original = io.engine.generateId;
    io.engine.generateId = (req) => {
      void req;
      return uuid.v4(); // must be unique across all Socket.IO servers
    };
    try {
      const client = run.client("/", { transports: ["polling"] });
      await next(client, "connect");
      const sid = client.io.engine.id;
      assert.match(sid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const socket = io.of("/").sockets.get(client.id!)!;
      assert.equal(socket.conn.id, sid);
      client.disconnect();
    } finally {
      io.engine.generateId = original;
    }
  });

  test("initial_headers and headers", async () => {
    const { io } = run;
    const initial = (headers: Record<string, string>, req: unknown) => {
      void req;
      headers["test"] = "123";
      headers["set-cookie"] = "mycookie=456";
    };
    const every = (headers: Record<string, string>, req: unknown) => {
      void req;
      headers["test"] = "789";
    };
    io.engine.on("initial_headers", initial);
    io.engine.on("headers", every);
    try {
      const handshake = await get(`${run.url}/socket.io/?EIO=4&transport=polling`);
      assert.equal(handshake.status, 200);
      // "headers" fires after "initial_headers" on the handshake, so its value wins there.
      assert.equal(handshake.headers["test"], "789");
      assert.deepEqual(handshake.headers["set-cookie"], ["mycookie=456"]);
      const sid = (JSON.parse(handshake.body.slice(1)) as { sid: string }).sid;
      const poll = await get(`${run.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
      assert.equal(poll.headers["test"], "789");
      assert.equal(poll.headers["set-cookie"], undefined);
    } finally {
      io.engine.off("initial_headers", initial);
      io.engine.off("headers", every);
    }
  });

  test("connection_error: req, code, message, context", async () => {
    const { io } = run;
    const errors: Array<{ req: unknown; code: number; message: string; context: unknown }> = [];
    const listener = (err: { req: unknown; code: number; message: string; context: unknown }) => {
      errors.push(err);
    };
    io.engine.on("connection_error", listener);
    try {
      const cases: Array<[string, number, string, number]> = [
        ["/socket.io/?EIO=4&transport=carrier-pigeon", 0, "Transport unknown", 400],
        ["/socket.io/?EIO=4&transport=polling&sid=nope", 1, "Session ID unknown", 400],
        ["/socket.io/?EIO=3&transport=polling", 5, "Unsupported protocol version", 400],
      ];
      for (const [path, code, message, status] of cases) {
        const res = await get(run.url + path);
        assert.equal(res.status, status);
        assert.deepEqual(JSON.parse(res.body), { code, message });
        const err = errors.at(-1)!;
        assert.equal(err.code, code);
        assert.equal(err.message, message);
        assert.ok(err.req && typeof err.req === "object" && "headers" in err.req);
        assert.ok(err.context && typeof err.context === "object");
      }
      assert.equal(errors.length, cases.length);
    } finally {
      io.engine.off("connection_error", listener);
    }
  });
});
