/**
 * The checks every forwarding route passes behind a balancer that rotates each request (haproxy, node:cluster's
 * round-robin): `client()` opens a polling socket.io-client whose requests the balancer spreads over the nodes.
 */
import assert from "node:assert/strict";
import type { Socket as ClientSocket } from "socket.io-client";
import { next, until } from "../support/io";
import type { SeenEvent } from "./app";

/** Connect, acks both ways, rooms and broadcasts, binary, 200 kB, 50 emits in order, heartbeats, disconnects. */
export async function everyFeatureOverPolling(
  client: () => ClientSocket,
  seen: readonly SeenEvent[],
): Promise<void> {
  const c1 = client();
  const c2 = client();
  await Promise.all([next(c1, "connect"), next(c2, "connect")]);

  // acks both ways
  assert.deepEqual(await c1.timeout(10000).emitWithAck("echo", 1, "a", { b: [2] }), [
    1,
    "a",
    { b: [2] },
  ]);
  c2.on("question", (v: number, ack: (a: number) => void) => ack(v * 2));
  assert.equal(await c2.timeout(10000).emitWithAck("ask", 21), 42);

  // rooms and broadcasts across nodes (whichever nodes own the two sessions)
  await c1.timeout(10000).emitWithAck("join", "r");
  await c2.timeout(10000).emitWithAck("join", "r");
  const heard = Promise.all([next<[string]>(c1, "heard"), next<[string]>(c2, "heard")]);
  c1.emit("shout", "r", "hello");
  assert.deepEqual(await heard, [["hello"], ["hello"]]);

  // binary and a 200 kB message
  const [bytes] = (await c1.timeout(10000).emitWithAck("echo", Buffer.from([1, 2, 3]))) as [Buffer];
  assert.deepEqual([...bytes], [1, 2, 3]);
  const big = "x".repeat(200_000);
  const [back] = (await c2.timeout(15000).emitWithAck("echo", big)) as [string];
  assert.equal(back, big);

  // 50 emits in order, both directions
  const seqs = next<[number[]]>(c1, "seqs");
  for (let i = 0; i < 50; i++) c1.emit("seq", i);
  assert.deepEqual((await seqs)[0], [...Array(50).keys()]);
  const numbers: number[] = [];
  c2.on("n", (i: number) => numbers.push(i));
  c2.emit("count");
  await until(() => numbers.length === 50);
  assert.deepEqual(numbers, [...Array(50).keys()]);

  // survives heartbeats (pingInterval 2 s): still connected after several pings went through the balancer
  const owner = await c1.timeout(10000).emitWithAck("where");
  for (let i = 0; i < 2; i++) await next(c1.io, "ping");
  assert.equal(c1.connected, true);
  assert.equal(await c1.timeout(10000).emitWithAck("where"), owner);

  // server-side and client-side disconnects
  const kicked = next<[string]>(c2, "disconnect");
  const c2id = c2.id;
  c2.emit("kickme");
  assert.equal((await kicked)[0], "io server disconnect");
  const c1id = c1.id;
  c1.disconnect();
  await until(() => seen.some(([e, id]) => e === "disconnect" && id === c1id));
  assert.ok(seen.some(([, id, reason]) => id === c1id && reason === "client namespace disconnect"));
  assert.ok(seen.some(([, id, reason]) => id === c2id && reason === "server namespace disconnect"));
}

/** Without forwarding, a polling session fails: its handshake or one of its next requests meets another node. */
export async function failsWithoutForwarding(client: () => ClientSocket): Promise<void> {
  const c1 = client();
  // one wait for whichever comes first (a losing `next()` would hold its timer, and the process, open)
  const connected = await new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("neither connect nor connect_error")), 20000);
    const settle = (value: boolean) => () => {
      clearTimeout(timer);
      resolve(value);
    };
    c1.once("connect", settle(true));
    c1.once("connect_error", settle(false));
  });
  if (!connected) return;
  await assert.rejects(async () => {
    for (let i = 0; i < 10; i++) await c1.timeout(3000).emitWithAck("echo", i);
  }, "an ack is lost once a request meets a node that does not know the session");
}
