/**
 * Malformed packets from a raw peer: each closes that connection with reason "parse error" (or is refused),
 * the process goes on, and another client is unaffected.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Socket } from "../../src";
import { next, start, type Running, until } from "../support/io";
import { openRaw } from "../support/raw";

// [what it is, the Engine.IO messages sent after a successful CONNECT to "/"]
const CASES: Array<[string, Array<string | Buffer>]> = [
  ["unknown packet type", ["49[]"]],
  ["invalid JSON", ['42["event"']],
  ["payload not an array", ['42{"a":1}']],
  ["empty event array", ["42[]"]],
  ["event name is an object", ['42[{"toString":"x"}]']],
  ["event name is null", ["42[null]"]],
  ["reserved event: connect", ['42["connect"]']],
  ["reserved event: disconnecting", ['42["disconnecting"]']],
  ["reserved event: error", ['42["error",{"boom":1}]']],
  ["non-numeric ack id", ['42x["event"]']],
  ["ack id too large", ['4299999999999999999999["event"]']],
  ["ACK without id", ["43[1]"]],
  ["ACK payload not an array", ["431{}"]],
  ["bad namespace", ['42admin,["event"]']],
  ["DISCONNECT with a payload", ['41{"toString":"x"}']],
  ["CONNECT_ERROR from a client", ['44{"toString":"x"}']],
  ["CONNECT with a null payload", ["40/other,null"]],
  ["CONNECT with a string payload", ['40/other,"x"']],
  ["attachment count missing", ['45-["event",{"_placeholder":true,"num":0}]']],
  ["negative attachment count", ['45-1-["event"]']],
  [
    "placeholder index fractional",
    ['451-["event",{"_placeholder":true,"num":0.5}]', Buffer.from([1])],
  ],
  [
    "placeholder index negative",
    ['451-["event",{"_placeholder":true,"num":-1}]', Buffer.from([1])],
  ],
  [
    "placeholder index out of range",
    ['451-["event",{"_placeholder":true,"num":3}]', Buffer.from([1])],
  ],
  ["binary when none is expected", [Buffer.from([1, 2, 3])]],
  [
    "string while attachments are awaited",
    ['451-["event",{"_placeholder":true,"num":0}]', '42["event"]'],
  ],
];

describe("malformed packets", () => {
  let run: Running;
  let events = 0;
  before(async () => {
    run = await start();
    run.io.on("connection", (socket: Socket) => socket.onAny(() => events++));
  });
  after(() => run.close());

  for (const [name, messages] of CASES) {
    test(name, async () => {
      const witness = run.client("/", { transports: ["websocket"] });
      await next(witness, "connect");

      const peer = await openRaw(run.port);
      const serverSide = next<[Socket]>(run.io, "connection");
      await peer.connectMain();
      const [socket] = await serverSide;
      const reasons: string[] = [];
      socket.on("disconnect", (reason) => reasons.push(reason));
      const before = events;
      for (const message of messages) peer.ws.send(message);
      await peer.closed;
      await until(() => reasons.length === 1);
      assert.deepEqual(reasons, ["parse error"]);
      assert.equal(events, before, "no listener heard the malformed packet");
      assert.equal(({} as Record<string, unknown>)._placeholder, undefined);

      // The other client goes on.
      const echo = next(witness, "pong-back");
      const witnessSocket = run.io.of("/").sockets.get(witness.id!)!;
      witnessSocket.once("ping-me", (n: number) => witnessSocket.emit("pong-back", n + 1));
      witness.emit("ping-me", 1);
      assert.deepEqual(await echo, [2]);
      witness.disconnect();
    });
  }

  test("prototype keys (__proto__, constructor) stay plain data and pollute nothing", async () => {
    const peer = await openRaw(run.port);
    const serverSide = next<[Socket]>(run.io, "connection");
    await peer.connectMain();
    const [socket] = await serverSide;
    const received = next<[Record<string, unknown>]>(socket, "event");
    peer.ws.send(
      '451-["event",{"__proto__":{"_placeholder":true,"num":0},"constructor":{"prototype":{"x":1}}}]',
    );
    peer.ws.send(Buffer.from([1]));
    const [payload] = await received;
    assert.ok(Object.prototype.hasOwnProperty.call(payload, "__proto__"));
    assert.equal(Object.getPrototypeOf(payload), Object.prototype);
    assert.equal(({} as Record<string, unknown>)._placeholder, undefined);
    assert.equal(({} as Record<string, unknown>).x, undefined);
    peer.ws.close();
  });
});
