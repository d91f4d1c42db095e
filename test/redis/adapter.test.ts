/**
 * The Redis adapters in one process on the Switchyard server: listeners on shared clients, the `error` event,
 * garbage on the channels, allRooms, publishOnSpecificResponseChannel.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { Redis } from "ioredis";
import { createClient } from "redis";
import type { AdapterConstructor } from "../../src";
import { createAdapter, createShardedAdapter, RedisAdapter } from "../../src/adapters/redis";
import { next, start, type Running } from "../support/io";
import { REDIS_URL, uniqueKey, until, within } from "./cluster";

async function ioredisPair(): Promise<[Redis, Redis]> {
  const pub = new Redis(REDIS_URL);
  const sub = pub.duplicate();
  await Promise.all(
    [pub, sub].map((c) =>
      c.status === "ready" ? undefined : within(once(c, "ready"), "ioredis ready"),
    ),
  );
  return [pub, sub];
}

async function nodeRedisPair() {
  const pub = createClient({ url: REDIS_URL });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  return [pub, sub] as const;
}

test("many namespaces share one listener per client event; close() removes them", async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on("warning", onWarning);
  const [pub, sub] = await ioredisPair();
  const before = { error: sub.listenerCount("error"), message: sub.listenerCount("messageBuffer") };
  const node = await start({
    adapter: createAdapter(pub, sub, { key: uniqueKey("listeners") }) as AdapterConstructor,
  });
  const sharded = await start({
    adapter: createShardedAdapter(pub, sub, {
      channelPrefix: uniqueKey("listeners-s"),
    }) as AdapterConstructor,
  });
  try {
    for (let i = 0; i < 15; i++) {
      node.io.of(`/n${i}`);
      sharded.io.of(`/n${i}`);
    }
    assert.equal(sub.listenerCount("messageBuffer"), before.message + 1);
    assert.equal(sub.listenerCount("smessageBuffer"), 1);
    assert.equal(sub.listenerCount("error"), before.error + 1);
    await node.close();
    await sharded.close();
    assert.equal(sub.listenerCount("messageBuffer"), before.message);
    assert.equal(sub.listenerCount("smessageBuffer"), 0);
    assert.equal(sub.listenerCount("error"), before.error);
    // process warnings are emitted on a later tick: one turn of the event loop lets any of them arrive
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  } finally {
    process.off("warning", onWarning);
    await Promise.allSettled([pub.quit(), sub.quit()]);
  }
});

test("client errors reach the adapter's error event, and nothing throws without a listener", async () => {
  const [pub, sub] = await nodeRedisPair();
  const node = await start({
    adapter: createAdapter(pub, sub, { key: uniqueKey("errors") }) as AdapterConstructor,
  });
  try {
    const adapter = node.io.of("/").adapter as RedisAdapter;
    // no listener on the adapter: the error is only logged
    pub.emit("error", new Error("boom 1"));
    const seen = once(adapter, "error");
    pub.emit("error", new Error("boom 2"));
    const [err] = (await seen) as [Error];
    assert.equal(err.message, "boom 2");
  } finally {
    await node.close();
    await Promise.allSettled([pub.quit(), sub.quit()]);
  }
});

test("garbage on the adapter channels is ignored; the cluster keeps working", async () => {
  const key = uniqueKey("garbage");
  const prefix = uniqueKey("garbage-s");
  const pairs = await Promise.all([nodeRedisPair(), nodeRedisPair()]);
  const nodes: Running[] = [];
  for (const [pub, sub] of pairs) {
    nodes.push(await start({ adapter: createAdapter(pub, sub, { key }) as AdapterConstructor }));
  }
  const shardedNodes: Running[] = [];
  const ioPairs = await Promise.all([ioredisPair(), ioredisPair()]);
  for (const [pub, sub] of ioPairs) {
    shardedNodes.push(
      await start({
        adapter: createShardedAdapter(pub, sub, { channelPrefix: prefix }) as AdapterConstructor,
      }),
    );
  }
  const raw = createClient({ url: REDIS_URL });
  await raw.connect();
  try {
    const errors: Error[] = [];
    for (const n of [...nodes, ...shardedNodes])
      n.io.of("/").adapter.on("error", (e: Error) => errors.push(e));
    const junk = [
      Buffer.from([0xc1]),
      Buffer.from("{not json"),
      Buffer.from("[]"),
      Buffer.from('{"type":5,"requestId":7}'),
      Buffer.from('{"type":7,"uid":"x","requestId":"y","packet":null}'),
      Buffer.from('{"type":3,"data":null,"uid":"x","nsp":"/"}'),
      Buffer.from([0x93, 0xa1, 0x78, 0xc0, 0xc0]),
      Buffer.from([0x93, 0xa1, 0x78, 0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa1, 0x78, 0x90]),
    ];
    for (const payload of junk) {
      for (const channel of [`${key}#/#`, `${key}-request#/#`, `${key}-response#/#`])
        await raw.publish(channel, payload);
      await raw.sPublish(`${prefix}#/#`, payload);
    }
    // no wait needed: each publish above has been answered, so Redis has pushed the junk to every subscriber
    // before the messages below, which the nodes must then handle (and the errors are checked after them)
    for (const group of [nodes, shardedNodes]) {
      const client = group[1]!.client("/", { transports: ["websocket"] });
      await next(client, "connect");
      const got = next<[string]>(client, "m");
      group[0]!.io.emit("m", "still fine");
      assert.deepEqual(await got, ["still fine"]);
      assert.equal((await group[0]!.io.fetchSockets()).length, 1);
    }
    assert.deepEqual(errors, []);
  } finally {
    for (const n of [...nodes, ...shardedNodes]) await n.close();
    await raw.quit();
    await Promise.allSettled([...pairs, ...ioPairs].flat().map((c) => c.quit()));
  }
});

test("allRooms across nodes, and publishOnSpecificResponseChannel", async () => {
  const key = uniqueKey("rooms");
  const pairs = await Promise.all([nodeRedisPair(), nodeRedisPair()]);
  const nodes: Running[] = [];
  for (const [pub, sub] of pairs) {
    nodes.push(
      await start({
        adapter: createAdapter(pub, sub, {
          key,
          publishOnSpecificResponseChannel: true,
        }) as AdapterConstructor,
      }),
    );
  }
  const spy = createClient({ url: REDIS_URL });
  await spy.connect();
  const responseChannels: string[] = [];
  await spy.pSubscribe(`${key}-response*`, (_m, channel) => responseChannels.push(channel));
  try {
    const [a, b] = nodes as [Running, Running];
    const client = b.client("/", { transports: ["websocket"] });
    await next(client, "connect");
    const [socket] = [...b.io.of("/").sockets.values()];
    await socket!.join("only-on-b");
    const adapterA = a.io.of("/").adapter as RedisAdapter;
    await until(async () => (await adapterA.serverCount()) === 2, "two nodes");
    const rooms = await adapterA.allRooms();
    assert.ok(rooms.has("only-on-b"));
    assert.ok(rooms.has(socket!.id));
    const found = await a.io.fetchSockets();
    assert.deepEqual(
      found.map((s) => s.id),
      [socket!.id],
    );
    await until(() => responseChannels.length >= 2, "two responses seen by the spy");
    for (const channel of responseChannels)
      assert.equal(channel, `${key}-response#/#${adapterA.uid}#`);
  } finally {
    for (const n of nodes) await n.close();
    await spy.quit();
    await Promise.allSettled(pairs.flat().map((c) => c.quit()));
  }
});
