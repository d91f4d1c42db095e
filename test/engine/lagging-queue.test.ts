// A lagging session's queue kept as bytes off the heap (packet-spill.ts): past sendBufferHighWaterMark the packets a
// polling session queues are no objects any more; the next poll's response carries exactly the payload the packets
// would have made (text, UTF-8, binary as base64, packets spanning chunks; compressed too), send callbacks run, and
// an upgrade flushes them on the WebSocket in order.
import assert from "node:assert/strict";
import { connect as netConnect, type Socket as NetSocket } from "node:net";
import { gunzipSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import type { Socket } from "../../src/engine";
import type { EngineTrafficCounter } from "../../src/diagnostics";
import { encodePayload, type Packet } from "../../src/engine/packet";
import { dataBytes } from "../../src/metrics/tallies";
import { type Harness, once, request, startEngine, until } from "./support";

const P = "/engine.io/";

/** Messages of every kind: ASCII and multi-byte text of many sizes (some larger than a 16 KiB chunk), binary. */
function messages(count: number): (string | Buffer)[] {
  const out: (string | Buffer)[] = [];
  for (let i = 0; i < count; i++) {
    const size = (i * 7919) % 40000;
    if (i % 5 === 3) out.push(Buffer.alloc(size % 3000, i));
    else if (i % 5 === 1) out.push(`${i}:` + "é€😀".repeat(size / 8));
    else out.push(`${i}:` + "a".repeat(size));
  }
  return out;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

async function handshake(h: Harness): Promise<{ sid: string; socket: Socket }> {
  const res = await request(h.port, `${P}?EIO=4&transport=polling`);
  const sid = (JSON.parse(res.body.toString().slice(1)) as { sid: string }).sid;
  return { sid, socket: h.engine.clients[sid] as Socket };
}

describe("a lagging session's queue off the heap", () => {
  let h: Harness;
  before(async () => {
    h = await startEngine({
      sendBufferHighWaterMark: 4096,
      maxSendBufferBytes: 64 * 1024 * 1024,
      pingInterval: 60000,
      upgradeTimeout: 15000,
    });
  });
  after(() => h.close());

  for (const coding of ["identity", "gzip"]) {
    test(`polling (${coding}): the poll after the lag carries exactly the queued packets`, async () => {
      const { sid, socket } = await handshake(h);
      // the metrics' traffic counter sees every packet, object or record, with the bytes it measures
      const counted = { messages: 0, bytes: 0 };
      const counter: EngineTrafficCounter = {
        countIn() {},
        countOut(_transport, packets) {
          for (const packet of packets) {
            if (packet.type === "message") counted.messages++;
            counted.bytes += dataBytes(packet.data);
          }
        },
        countOutBytes(_transport, type, bytes) {
          if (type === "message") counted.messages++;
          counted.bytes += bytes;
        },
      };
      h.engine._trafficCounter = counter;
      const sent = messages(200);
      let written = 0;
      for (const data of sent) socket.send(data, () => written++);
      // the packets past the mark are not kept as objects
      assert.ok(socket.writeBuffer.length < 10, `${socket.writeBuffer.length} packets as objects`);
      assert.ok(socket.bufferedAmount > 1024 * 1024, `${socket.bufferedAmount} bytes counted`);
      const res = await request(h.port, `${P}?EIO=4&transport=polling&sid=${sid}`, {
        headers: { "Accept-Encoding": coding },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers["content-type"], "text/plain; charset=UTF-8");
      assert.equal(Number(res.headers["content-length"]), res.body.length);
      const body = coding === "gzip" ? gunzipSync(res.body) : res.body;
      assert.equal(res.headers["content-encoding"], coding === "gzip" ? "gzip" : undefined);
      const expected = encodePayload(sent.map((data): Packet => ({ type: "message", data })));
      assert.ok(body.toString() === expected, "the payload is the packets' payload");
      assert.equal(written, sent.length, "every send callback ran");
      h.engine._trafficCounter = undefined;
      assert.equal(counted.messages, sent.length);
      assert.equal(counted.bytes, sum(sent.map((data) => dataBytes(data))));
      assert.equal(socket.bufferedAmount, 0);
      socket.close(true);
    });
  }

  test("polling, JSONP: the queued records become packets again for the escaped payload", async () => {
    const res = await request(h.port, `${P}?EIO=4&transport=polling&j=7`);
    assert.match(res.body.toString(), /^___eio\[7\]\("0\{/);
    const sid = (
      /\\"sid\\":\\"([^\\]+)\\"/.exec(res.body.toString()) as RegExpExecArray
    )[1] as string;
    const socket = h.engine.clients[sid] as Socket;
    const sent = Array.from(
      { length: 300 },
      (_, i) => `${i}:"quoted"\u2028\n` + "é".repeat(i * 10),
    );
    for (const data of sent) socket.send(data);
    assert.ok(socket.writeBuffer.length < 50, `${socket.writeBuffer.length} packets as objects`);
    const poll = await request(h.port, `${P}?EIO=4&transport=polling&j=7&sid=${sid}`, {
      headers: { "Accept-Encoding": "identity" },
    });
    const payload = encodePayload(sent.map((data): Packet => ({ type: "message", data })));
    const literal = JSON.stringify(payload).replace(/\u2028/g, "\\u2028");
    assert.ok(poll.body.toString() === `___eio[7](${literal});`, "the JSONP payload");
    socket.close(true);
  });

  test("upgrade: packets queued as bytes while polling are flushed on the WebSocket in order", async () => {
    const { sid, socket } = await handshake(h);
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}${P}?EIO=4&transport=websocket&sid=${sid}`);
    const frames: (string | Buffer)[] = [];
    ws.on("message", (d: Buffer, binary: boolean) => frames.push(binary ? d : d.toString()));
    await once(ws, "open");
    ws.send("2probe");
    await until(() => frames.includes("3probe"), "3probe");
    const sent = messages(200);
    for (const data of sent) socket.send(data);
    assert.ok(socket.writeBuffer.length < 10, `${socket.writeBuffer.length} packets as objects`);
    const upgraded = once(socket, "upgrade");
    ws.send("5");
    await upgraded;
    await until(() => frames.length === sent.length + 1, "every queued packet", 30000);
    for (let i = 0; i < sent.length; i++) {
      const data = sent[i] as string | Buffer;
      const got = frames[i + 1];
      if (typeof data === "string") assert.ok(got === "4" + data, `message ${i}`);
      else assert.ok(Buffer.isBuffer(got) && got.equals(data), `binary message ${i}`);
    }
    socket.send("after");
    await until(() => frames.at(-1) === "4after", "the next message");
    ws.close();
  });

  test("polling: a response the peer does not read counts, and the overflow drops it with its connection", async () => {
    const max = 12 * 1024 * 1024;
    const h2 = await startEngine({ maxSendBufferBytes: max, pingInterval: 60000 });
    // the server's side of each connection, by the client's port (a destroyed socket forgets it)
    const serverSockets = new Map<number | undefined, NetSocket>();
    h2.http.on("connection", (s: NetSocket) => serverSockets.set(s.remotePort, s));
    try {
      const { sid, socket } = await handshake(h2);
      const text = "x".repeat(1000);
      for (let i = 0; i < 10000; i++) socket.send(text);
      const queued = socket.bufferedAmount;
      // a GET whose response is never read
      const raw = netConnect(h2.port, "127.0.0.1");
      raw.pause();
      raw.write(`GET ${P}?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      await until(() => socket.writeBuffer.length === 0, "the response");
      await until(() => socket.bufferedAmount > 0, "the unread part counted");
      assert.ok(socket.bufferedAmount <= queued + 1024, `${socket.bufferedAmount} of ${queued}`);
      const closed = once<[string]>(socket, "close");
      let sent = 0;
      while (socket.readyState === "open" && sent < 20000) {
        socket.send(text);
        sent++;
      }
      assert.equal((await closed)[0], "send buffer overflow");
      assert.ok(sent * 1001 < max, `the unread response counted towards the bound (${sent} more)`);
      await until(() => serverSockets.get(raw.localPort)?.destroyed === true, "dropped");
      raw.destroy();
    } finally {
      await h2.close();
    }
  });
});
