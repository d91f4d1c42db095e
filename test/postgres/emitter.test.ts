/**
 * `@socket.io/postgres-emitter` 0.1.1 reaching Switchyard nodes on the Postgres adapter. The emitter puts no `nsp`
 * in its messages (the official adapter 0.5 drops them for that); Switchyard takes the namespace from the
 * channel. Broadcasts (rooms, except, binary, large), socketsJoin / socketsLeave, disconnectSockets,
 * serverSideEmit, and another namespace.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Emitter } from "@socket.io/postgres-emitter";
import { Pool } from "pg";
import type { AdapterConstructor, Socket } from "../../src";
import { createAdapter } from "../../src/adapters/postgres";
import { next, start, until, type Running } from "../support/io";
import { PG_CONFIG, attachmentTable } from "../support/postgres";

const { prefix, table } = attachmentTable("emitter");
const pools: Pool[] = [];
const nodes: Running[] = [];
let emitterPool: Pool;

before(async () => {
  for (let i = 0; i < 2; i++) {
    const pool = new Pool({ ...PG_CONFIG, application_name: "sy-test-emitter" });
    pools.push(pool);
    nodes.push(
      await start({
        adapter: createAdapter(pool, {
          channelPrefix: prefix,
          tableName: table,
        }) as unknown as AdapterConstructor,
      }),
    );
  }
  emitterPool = new Pool({ ...PG_CONFIG, application_name: "sy-test-emitter" });
});

after(async () => {
  await Promise.all(nodes.map((node) => node.close()));
  await Promise.allSettled([...pools, emitterPool].map((pool) => pool.end()));
});

async function connect(node: Running, nsp = "/") {
  const serverSide = next<[Socket]>(node.io.of(nsp), "connection");
  const client = node.client(nsp, { transports: ["websocket"] });
  await next(client, "connect");
  const [socket] = await serverSide;
  // resolves once the namespace's channel is listened to (the emitter's notifications are not queued)
  await node.io.of(nsp).adapter.init();
  return { client, socket };
}

test("the Postgres emitter reaches Switchyard nodes", async () => {
  const a = await connect(nodes[0]!);
  const b = await connect(nodes[1]!);
  await a.socket.join("r1");
  const emitter = new Emitter(emitterPool, "/", { channelPrefix: prefix, tableName: table });
  const seen = [a, b].map(() => [] as unknown[][]);
  a.client.on("news", (...args: unknown[]) => seen[0]!.push(args));
  b.client.on("news", (...args: unknown[]) => seen[1]!.push(args));

  emitter.emit("news", "all", 1);
  emitter.to("r1").emit("news", "r1");
  emitter.except("r1").emit("news", "not-r1");
  emitter.emit("news", "bin", Buffer.from([1, 2, 3]));
  emitter.emit("news", "big", "x".repeat(9000));
  const labels = (i: number) => seen[i]!.map((args) => String(args[0])).sort();
  await until(() => labels(0).length >= 4 && labels(1).length >= 4);
  // every message above has reached a client, so each was notified: a marker notified now comes after them all
  emitter.emit("news", "end");
  await until(() => seen.every((s) => s.some((args) => args[0] === "end")));
  assert.deepEqual(labels(0), ["all", "big", "bin", "end", "r1"]);
  assert.deepEqual(labels(1), ["all", "big", "bin", "end", "not-r1"]);
  const bin = seen[1]!.find((args) => args[0] === "bin")!;
  assert.deepEqual([...new Uint8Array(bin[1] as ArrayBuffer)], [1, 2, 3]);
  assert.equal((seen[1]!.find((args) => args[0] === "big")![1] as string).length, 9000);

  emitter.in("r1").socketsJoin("r2");
  emitter.socketsJoin(["r3"]);
  await until(
    () => a.socket.rooms.has("r2") && a.socket.rooms.has("r3") && b.socket.rooms.has("r3"),
  );
  assert.ok(!b.socket.rooms.has("r2"));
  emitter.except("r1").socketsLeave("r3");
  await until(() => !b.socket.rooms.has("r3"));
  assert.ok(a.socket.rooms.has("r3"));

  const heard = nodes.map((node) => next(node.io.of("/"), "sync"));
  emitter.serverSideEmit("sync", "from-emitter", 7);
  for (const args of await Promise.all(heard)) assert.deepEqual(args, ["from-emitter", 7]);

  const gone = next<[string]>(b.client, "disconnect");
  emitter.except("r1").disconnectSockets();
  assert.equal((await gone)[0], "io server disconnect");
  assert.ok(a.client.connected);
  // the emitter is not a node
  assert.equal(await nodes[0]!.io.of("/").adapter.serverCount(), 2);
});

test("the emitter's of(nsp) reaches that namespace only", async () => {
  const c = await connect(nodes[1]!, "/custom");
  const root = await connect(nodes[1]!);
  const emitter = new Emitter(emitterPool, "/custom", { channelPrefix: prefix, tableName: table });
  const onRoot: unknown[][] = [];
  root.client.on("news", (...args: unknown[]) => onRoot.push(args));
  const got = next(c.client, "news");
  emitter.emit("news", "custom");
  assert.deepEqual(await got, ["custom"]);
  const marker = next(root.client, "news");
  new Emitter(emitterPool, "/", { channelPrefix: prefix, tableName: table }).emit("news", "root");
  assert.deepEqual(await marker, ["root"]);
  assert.deepEqual(onRoot, [["root"]]);
});
