/**
 * A mixed cluster with v2 clients: node A is official socket.io with the official Redis adapter, node B is
 * Switchyard with its adapter, both with `allowEIO3`; a socket.io-client 2.5 client on each node receives the
 * broadcasts (text and binary) sent to its room from either node.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { next } from "../support/io";
import { type V2Socket, v2Client } from "../support/legacy-clients";
import { startNode, uniqueKey, until, within } from "./cluster";

type Emitter = Parameters<typeof next>[0];

test("mixed cluster: v2 clients on an official node and a Switchyard node receive each other's broadcasts", async () => {
  const key = uniqueKey("v2");
  const base = { key, mode: "classic", client: "redis", allowEIO3: true } as const;
  const A = await startNode({ ...base, name: "A", impl: "socket.io", adapter: "official" });
  const B = await startNode({ ...base, name: "B", impl: "switchyard", adapter: "switchyard" });
  const clients: V2Socket[] = [];
  try {
    for (const node of [A, B]) {
      await until(
        async () => (await node.run<number>({ cmd: "serverCount" })) === 2,
        `serverCount 2 on ${node.name}`,
      );
    }
    for (const node of [A, B]) {
      const client = v2Client(`http://127.0.0.1:${node.port}`, { transports: ["websocket"] });
      clients.push(client);
      await next(client as unknown as Emitter, "connect");
      await within(
        new Promise<void>((resolve) => client.emit("join", "v2room", () => resolve())),
        "the v2 client's join",
      );
    }
    for (const from of [A, B]) {
      const received = clients.map((client) =>
        next<[string, Buffer]>(client as unknown as Emitter, "news"),
      );
      await from.run({
        cmd: "emit",
        rooms: ["v2room"],
        event: "news",
        args: [`from-${from.name}`, Buffer.from([1, 2, 3])],
      });
      for (const [text, bytes] of await Promise.all(received)) {
        assert.equal(text, `from-${from.name}`);
        assert.deepEqual([...Buffer.from(bytes)], [1, 2, 3]);
      }
    }
  } finally {
    for (const client of clients) client.close();
    await A.stop();
    await B.stop();
  }
});
