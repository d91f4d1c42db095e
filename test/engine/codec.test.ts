// Unit tests of the engine codec (packets, payloads, prepared messages), plus two properties of the
// implementation the design promises: one heartbeat timer per server, and one socket write per tick.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocket } from "ws";
import { PreparedMessage, type Socket } from "../../src/engine";
import {
  decodePayload,
  decodeText,
  encodeForPolling,
  encodeForWebSocket,
  encodePayload,
} from "../../src/engine/packet";
import { once, startEngine, until } from "./support";

describe("codec", () => {
  test("text packets", () => {
    assert.deepEqual(decodeText("4hello"), { type: "message", data: "hello" });
    assert.deepEqual(decodeText("2"), { type: "ping" });
    assert.deepEqual(decodeText("2probe"), { type: "ping", data: "probe" });
    assert.deepEqual(decodeText("6"), { type: "noop" });
    assert.equal(decodeText("9").type, "error");
    assert.equal(decodeText("").type, "error");
    const bin = decodeText("bAQID");
    assert.equal(bin.type, "message");
    assert.deepEqual([...(bin.data as Buffer)], [1, 2, 3]);
  });

  test("encodings per transport", () => {
    assert.equal(encodeForWebSocket({ type: "message", data: "x" }), "4x");
    const buf = Buffer.from([1, 2]);
    assert.equal(encodeForWebSocket({ type: "message", data: buf }), buf);
    assert.equal(encodeForPolling({ type: "message", data: buf }), "bAQI=");
    assert.equal(encodeForPolling({ type: "pong", data: "probe" }), "3probe");
  });

  test("payloads", () => {
    const payload = encodePayload([
      { type: "message", data: "a" },
      { type: "message", data: Buffer.from([255]) },
      { type: "ping" },
    ]);
    assert.equal(payload, "4a\x1eb/w==\x1e2");
    const back = decodePayload(payload);
    assert.equal(back.length, 3);
    assert.deepEqual([...(back[1]?.data as Buffer)], [255]);
    // decoding stops at the first bad packet
    assert.deepEqual(
      decodePayload("4a\x1ex\x1e4b").map((p) => p.type),
      ["message", "error"],
    );
  });

  test("PreparedMessage caches its encodings", () => {
    const text = new PreparedMessage("héllo");
    assert.equal(text.pollingPacket, "4héllo");
    assert.equal(text.wsData, "4héllo");
    const frame = text.wsFrame;
    assert.equal(text.wsFrame, frame);
    const bytes = Buffer.concat(frame);
    assert.equal(bytes[0], 0x81); // FIN + text opcode
    assert.equal(bytes[1], Buffer.byteLength("4héllo")); // unmasked length
    assert.equal(bytes.subarray(2).toString(), "4héllo");
    const bin = new PreparedMessage(Buffer.from([1, 2, 3]));
    assert.equal(bin.pollingPacket, "bAQID");
    assert.equal(Buffer.concat(bin.wsFrame)[0], 0x82); // FIN + binary opcode
  });
});

describe("implementation properties", () => {
  test("the heartbeat uses one timer for all sessions", async (t) => {
    const h = await startEngine({ pingInterval: 200, pingTimeout: 5000 });
    t.after(() => h.close());
    const timers = (): number =>
      process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const baseline = timers();
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 30; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${h.port}/engine.io/?EIO=4&transport=websocket`);
      ws.on("message", (d) => String(d) === "2" && ws.send("3"));
      sockets.push(ws);
      await once(ws, "open");
    }
    assert.equal(h.engine.clientsCount, 30);
    let beats = 0;
    for (const s of Object.values(h.engine.clients)) s.on("heartbeat", () => beats++);
    // every session has had a heartbeat: the timer count now is the steady state, whatever the load
    await until(() => beats >= 30, "30 heartbeats");
    assert.ok(timers() - baseline <= 2, `${timers() - baseline} timers for 30 sessions`);
    for (const ws of sockets) ws.close();
  });

  test("packets sent to one websocket within a tick leave in one socket write", async (t) => {
    const h = await startEngine();
    t.after(() => h.close());
    const conn = once<[Socket]>(h.engine, "connection");
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/engine.io/?EIO=4&transport=websocket`);
    const frames: string[] = [];
    ws.on("message", (d) => frames.push(String(d)));
    const [socket] = await conn;
    await once(ws, "open");
    const raw = (socket.transport as unknown as { socket: { _socket: NodeJS.WritableStream } })
      .socket._socket as unknown as { _writev: unknown; _write: unknown };
    let writes = 0;
    for (const key of ["_write", "_writev"] as const) {
      const original = raw[key] as (...args: unknown[]) => unknown;
      raw[key] = function (this: unknown, ...args: unknown[]) {
        writes++;
        return original.apply(this, args);
      };
    }
    const prepared = new PreparedMessage("shared");
    for (let i = 0; i < 10; i++) socket.send(i % 2 ? prepared : `n${i}`);
    await until(() => frames.length >= 11, "11 frames");
    assert.equal(writes, 1);
    assert.deepEqual(frames.slice(1, 3), ["4n0", "4shared"]);
    ws.close();
  });
});
