// WebSocket frames written by the engine itself (one buffer per frame, perMessageDeflate off) must reach the
// official client intact at every length boundary of the frame header, in text and binary, and alongside frames
// left to ws (large payloads) in the order they were sent.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { connect, startEngine } from "./support";
import type { Socket as EngineSocket } from "../../src/engine";

const TEXT_LENGTHS = [1, 2, 124, 125, 126, 127, 1000, 65535, 16 * 1024 - 1, 16 * 1024, 70_000];

function text(length: number): string {
  // multi-byte characters so that byte length and string length differ
  let out = "";
  while (out.length < length)
    out += out.length % 7 === 0 ? "é" : String.fromCharCode(97 + (out.length % 26));
  return out.slice(0, length);
}

describe("engine-built WebSocket frames", () => {
  for (const perMessageDeflate of [false, true]) {
    test(`text and binary at header boundaries arrive intact and in order (perMessageDeflate ${perMessageDeflate})`, async () => {
      const h = await startEngine({ perMessageDeflate, maxHttpBufferSize: 1e6 });
      try {
        const serverSide = new Promise<EngineSocket>((resolve) =>
          h.engine.once("connection", resolve),
        );
        const client = await connect(h.url, { transports: ["websocket"] });
        const socket = await serverSide;
        const expected: (string | Buffer)[] = [];
        for (const n of TEXT_LENGTHS) {
          expected.push(text(n));
          expected.push(Buffer.from(Array.from({ length: n }, (_, i) => (i * 31) & 0xff)));
        }
        const received: unknown[] = [];
        const done = new Promise<void>((resolve) =>
          client.on("message", (data: unknown) => {
            received.push(data);
            if (received.length === expected.length) resolve();
          }),
        );
        let sentCallbacks = 0;
        for (const m of expected) socket.send(m, () => sentCallbacks++);
        await done;
        assert.equal(received.length, expected.length);
        for (let i = 0; i < expected.length; i++) {
          const want = expected[i];
          const got = received[i];
          if (typeof want === "string") assert.equal(got, want, `message ${i}`);
          else assert.deepEqual(Buffer.from(got as ArrayBuffer), want, `message ${i}`);
        }
        assert.equal(sentCallbacks, expected.length);
        client.close();
      } finally {
        await h.close();
      }
    });
  }
});
