/**
 * Connection state recovery over Redis Streams, across kinds of nodes: official socket.io nodes with
 * @socket.io/redis-streams-adapter and Switchyard nodes with switchyard/redis-streams-adapter, each in its own
 * process. A client moves to another node the way a load balancer would move it (same client object, so it
 * sends back its pid and last offset): after a clean transport close (both directions), and after its
 * Switchyard node was killed with SIGKILL (its session was saved while it was connected).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient } from "redis";
import type { Socket as ClientSocket } from "socket.io-client";
import {
  closeClients,
  drop,
  moveTo,
  record,
  REDIS_URL,
  startNode,
  uniqueKey,
  until,
} from "./cluster";

async function scenario(client: "redis" | "ioredis"): Promise<void> {
  const key = uniqueKey(`streams-recovery-${client}`);
  const base = { key, mode: "streams" as const, client };
  const [A, B, C] = await Promise.all([
    startNode({ ...base, name: "A", impl: "socket.io", adapter: "official" }),
    startNode({ ...base, name: "B", impl: "switchyard", adapter: "switchyard" }),
    startNode({ ...base, name: "C", impl: "switchyard", adapter: "switchyard" }),
  ]);
  const redis = createClient({ url: REDIS_URL });
  await redis.connect();
  try {
    const join = async (s: ClientSocket, room: string) => {
      await s.timeout(15000).emitWithAck("join", room);
    };
    // x: Switchyard B → official A; y: official A → Switchyard C; z: killed with B, recovers on A
    const x = await B.client();
    const y = await A.client();
    const z = await B.client();
    await join(x, "rx");
    await join(y, "ry");
    await join(z, "rz");
    // The official node reads from `$` until it has read an entry, so an entry appended between two of its XREADs
    // before that is lost for it (the official adapter's start, not Switchyard's): probe until it has read one.
    const probes = record(y, "probe");
    await until(async () => {
      if (probes.length > 0) return true;
      await C.run({ cmd: "emit", event: "probe" });
      return false;
    }, "the official node to read the stream");
    const seen = new Map([x, y, z].map((s) => [s, record(s, "news")]));
    const ids = new Map([x, y, z].map((s) => [s, s.id]));
    await C.run({ cmd: "emit", event: "news", args: ["before"] });
    await until(() => [...seen.values()].every((l) => l.length === 1), "the first broadcast");
    for (const l of seen.values()) assert.match(String(l[0]?.[1]), /^[0-9]+-[0-9]+$/, "an offset");

    await drop(x);
    await drop(y);
    B.kill();
    // sent while they are away, from the node none of them was on
    const stream = `${key}-stream`;
    const length = await redis.xLen(stream);
    await C.run({ cmd: "emit", rooms: ["rx", "ry", "rz"], event: "news", args: ["missed-1"] });
    // a node's emit returns before its XADD is answered: missed-2, from another node, must come after it
    await until(async () => (await redis.xLen(stream)) > length, "missed-1 in the stream");
    await C.run({ cmd: "emit", rooms: ["elsewhere"], event: "news", args: ["not-theirs"] });
    await C.run({ cmd: "emit", flags: { volatile: true }, event: "news", args: ["volatile"] });
    await A.run({ cmd: "emit", event: "news", args: ["missed-2"] });

    assert.equal(await moveTo(x, A), true, "Switchyard → official");
    assert.equal(await moveTo(y, C), true, "official → Switchyard");
    assert.equal(await moveTo(z, A), true, "killed Switchyard node → official");
    for (const s of [x, y, z]) {
      assert.equal(s.id, ids.get(s));
      const labels = (seen.get(s) ?? []).map((args) => args[0]);
      // the official node replays volatile entries; Switchyard nodes skip them
      const replayed = labels.filter((l) => l !== "volatile");
      assert.deepEqual(replayed, ["before", "missed-1", "missed-2"], `missed packets of ${s.id}`);
    }
    assert.ok(!(seen.get(y) ?? []).some((a) => a[0] === "volatile"), "no volatile replay on C");
    // rooms and data came back (z's data as saved by B while it was connected)
    for (const [node, s, room, from] of [
      [A, x, "rx", "B"],
      [C, y, "ry", "A"],
      [A, z, "rz", "B"],
    ] as const) {
      const found = await node.run<{
        sockets: Array<{ id: string; rooms: string[]; data: { node: string } }>;
      }>({ cmd: "fetchSockets", rooms: [room] });
      const mine = found.sockets.find((f) => f.id === s.id);
      assert.ok(mine, `${s.id} in ${room}`);
      assert.equal(mine.data.node, from);
    }
    assert.deepEqual([...A.unhandled, ...C.unhandled], []);
    assert.deepEqual(await C.run({ cmd: "errors" }), []);
  } finally {
    closeClients();
    await redis.quit();
    await Promise.all([A.stop(), B.stop(), C.stop()]);
  }
}

// one after the other: three node processes each already load a 2-core machine
test("recovery across official and Switchyard streams nodes, and after a node is killed (node-redis)", () =>
  scenario("redis"));

test("recovery across official and Switchyard streams nodes, and after a node is killed (ioredis)", () =>
  scenario("ioredis"));
