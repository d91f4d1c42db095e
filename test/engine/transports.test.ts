// The official engine.io-client over polling only, WebSocket only, and polling upgraded to WebSocket:
// strings and binary both ways, the transport names the server reports, and close reasons on both sides.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Socket } from "../../src/engine";
import { connect, type Harness, once, startEngine } from "./support";

const modes = [
  { name: "polling only", client: { transports: ["polling"] }, expected: "polling" },
  { name: "websocket only", client: { transports: ["websocket"] }, expected: "websocket" },
  {
    name: "polling upgraded to websocket",
    client: { transports: ["polling", "websocket"] },
    expected: "websocket",
  },
] as const;

describe("engine transports with the official client", () => {
  let h: Harness;
  before(async () => {
    h = await startEngine();
  });
  after(() => h.close());

  for (const mode of modes) {
    test(`${mode.name}: strings and binary both ways`, async () => {
      const serverSide = once<[Socket]>(h.engine, "connection");
      const client = await connect(h.url, { transports: [...mode.client.transports] });
      const [socket] = await serverSide;
      assert.equal(socket.id, client.id);
      assert.equal(h.engine.clients[socket.id], socket);
      assert.equal(socket.protocol, 4);
      if (mode.expected === "websocket" && mode.client.transports.length === 2) {
        assert.equal(socket.transport.name, "polling");
        await once(socket, "upgrade");
        assert.equal(socket.upgraded, true);
      }
      assert.equal(socket.transport.name, mode.expected);
      assert.equal(socket.readyState, "open");

      // client → server
      const got: unknown[] = [];
      socket.on("message", (data: unknown) => got.push(data));
      client.send("hello ✓");
      client.send(Uint8Array.from([1, 2, 3, 250]));
      await waitUntil(() => got.length === 2);
      assert.equal(got[0], "hello ✓");
      assert.ok(Buffer.isBuffer(got[1]));
      assert.deepEqual([...(got[1] as Buffer)], [1, 2, 3, 250]);

      // server → client
      const received: unknown[] = [];
      client.on("message", (data: unknown) => received.push(data));
      socket.send("from server");
      socket.send(Buffer.from([9, 8, 7]));
      await waitUntil(() => received.length === 2);
      assert.equal(received[0], "from server");
      assert.deepEqual([...new Uint8Array(received[1] as ArrayBuffer)], [9, 8, 7]);

      // the client closes: the server sees "transport close"
      const closed = once<[string]>(socket, "close");
      client.close();
      const [reason] = await closed;
      assert.equal(reason, "transport close");
      assert.equal(h.engine.clients[socket.id], undefined);
      assert.equal(h.engine.clientsCount, 0);
    });

    test(`${mode.name}: server close() reaches the client`, async () => {
      const serverSide = once<[Socket]>(h.engine, "connection");
      const client = await connect(h.url, { transports: [...mode.client.transports] });
      const [socket] = await serverSide;
      if (mode.client.transports.length === 2) await once(socket, "upgrade");
      const clientClosed = once<[string]>(client, "close");
      const serverClosed = once<[string]>(socket, "close");
      socket.close();
      assert.equal((await serverClosed)[0], "forced close");
      assert.equal((await clientClosed)[0], "transport close");
    });
  }
});

async function waitUntil(predicate: () => boolean, timeoutMs = 10000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
