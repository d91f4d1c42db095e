/**
 * The scenarios of the adapter suite (test/adapter/suite.ts) on three Switchyard workers of a real node:cluster
 * primary: this test process, with Switchyard's `setupPrimary`. The suite drives in-process servers; here each
 * node is a worker running test/redis/node.ts (mode "cluster"), driven by its IPC commands, and real
 * socket.io-client 4.8 clients connect to each worker's own port. A socket's own `to()`/`broadcast` (which needs
 * the socket object in this process) is replaced by the same broadcasts sent from its node with `except` its id;
 * the local rooms/sids maps and the adapter's room events are read through the worker's commands.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Socket as ClientSocket } from "socket.io-client";
import { setupPrimary } from "../../src/adapters/cluster";
import { BROADCASTS_RECEIVED, ROOM_EVENTS, sortedFirstArgs } from "../adapter/suite";
import { barrier as markerBarrier } from "../support/barrier";
import {
  closeClients,
  record,
  startNode,
  uniqueKey,
  until,
  type ClusterNode,
} from "../redis/cluster";

setupPrimary();

let nodes: ClusterNode[] = [];
let rooms = 0;

before(async () => {
  const key = uniqueKey("cluster-suite");
  nodes = await Promise.all(
    ["N0", "N1", "N2"].map((name) =>
      startNode({ name, key, mode: "cluster", requestsTimeout: 5000 }),
    ),
  );
  for (const node of nodes)
    await until(
      async () => (await node.run<number>({ cmd: "serverCount" })) === 3,
      "serverCount 3",
    );
});
after(async () => {
  closeClients();
  for (const node of nodes) assert.deepEqual(await node.run({ cmd: "errors" }), []);
  assert.deepEqual(
    nodes.flatMap((n) => n.unhandled),
    [],
  );
  await Promise.all(nodes.map((node) => node.stop()));
  nodes = [];
});

/** Fresh room names per test keep tests independent on the shared cluster. */
const room = (label: string) => `${label}-${rooms++}`;

async function connect(index: number, join: string[] = []) {
  const client = await nodes[index]!.client();
  for (const r of join) await new Promise<void>((resolve) => client.emit("join", r, resolve));
  return { client, id: client.id as string };
}

/** Waits until whatever the workers sent before has been applied everywhere (see the barrier). */
function barrier(clients: ClientSocket[]): Promise<void> {
  return markerBarrier(clients, nodes.length, (tag, i) =>
    nodes[i]!.run({ cmd: "emit", event: "barrier", args: [tag, i] }),
  );
}

test("broadcast to all, to a room, to several rooms (once each), except, from a socket's node", async () => {
  const [r1, r2] = [room("r1"), room("r2")];
  const a = await connect(0, [r1]);
  const b = await connect(1, [r1, r2]);
  const c = await connect(2, [r2]);
  const got = [a, b, c].map((x) => record(x.client, "m"));
  const emit0 = (args: string, to: string[] = [], except: string[] = []) =>
    nodes[0]!.run({ cmd: "emit", event: "m", args: [args], rooms: to, except });
  await emit0("all");
  await emit0("r1", [r1]);
  await emit0("r1+r2", [r1, r2]);
  await emit0("r1-r2", [r1, r2], [r2]);
  // what b.socket.to(r1) and b.socket.broadcast do: sent from b's node, except b
  await nodes[1]!.run({
    cmd: "emit",
    event: "m",
    args: ["from b to r1"],
    rooms: [r1],
    except: [b.id],
  });
  await nodes[1]!.run({ cmd: "emit", event: "m", args: ["from b to all"], except: [b.id] });
  await emit0("to c by id", [c.id]);
  await emit0("all but a", [], [a.id]);

  await until(
    () => got.every((list, i) => list.length === BROADCASTS_RECEIVED[i]!.length),
    "the broadcasts",
  );
  await barrier([a.client, b.client, c.client]);
  got.forEach((list, i) => assert.deepEqual(sortedFirstArgs(list), BROADCASTS_RECEIVED[i]));
});

test("local broadcasts stay on the emitting node", async () => {
  const a = await connect(0);
  const b = await connect(1);
  const got = [a, b].map((x) => record(x.client, "local-m"));
  await nodes[0]!.run({ cmd: "emit", event: "local-m", args: ["local"], flags: { local: true } });
  await until(() => got[0]!.length === 1, "the local broadcast");
  await barrier([a.client, b.client]);
  assert.deepEqual(got[0], [["local"]]);
  assert.deepEqual(got[1], []);
});

test("binary payloads reach every worker", async () => {
  const a = await connect(0);
  const b = await connect(1);
  const c = await connect(2);
  const got = [a, b, c].map((x) => record(x.client, "bin"));
  await nodes[1]!.run({ cmd: "emit", event: "bin", args: [Buffer.from([1, 2, 3])] });
  await until(() => got.every((g) => g.length === 1), "the binary broadcast");
  for (const g of got) assert.deepEqual([...new Uint8Array(g[0]![0] as ArrayBuffer)], [1, 2, 3]);
});

test("broadcast with acks: every answer, and a timeout error listing the answers that came", async () => {
  const q = room("q");
  const clients = [await connect(0, [q]), await connect(1, [q]), await connect(2, [q])];
  clients.forEach((x, i) => x.client.on("q", (ack: (n: number) => void) => ack(i)));
  type Acked = { responses?: number[]; error?: string };
  const ask = (timeout: number, to = q) =>
    nodes[0]!.run<Acked>({ cmd: "emitWithAck", event: "q", rooms: [to], flags: { timeout } });
  const all = await ask(3000);
  assert.equal(all.error, undefined);
  assert.deepEqual([...all.responses!].sort(), [0, 1, 2]);

  clients[2]!.client.off("q");
  clients[2]!.client.on("q", () => {});
  const partial = await ask(2000);
  assert.equal(partial.error, "operation has timed out");
  assert.deepEqual([...partial.responses!].sort(), [0, 1]);

  const empty = await ask(10000, room("nobody-here"));
  assert.deepEqual(empty, { responses: [] });
});

test("socketsJoin, socketsLeave, fetchSockets, disconnectSockets, allSockets across workers", async () => {
  const [r1, r2, r3, r4] = [room("r1"), room("r2"), room("r3"), room("r4")];
  const a = await connect(0, [r1]);
  const b = await connect(1, [r1]);
  const c = await connect(2);
  const roomsOf = async (index: number, id: string) =>
    (await nodes[index]!.run<Record<string, string[]>>({ cmd: "localRooms" }))[id] ?? [];
  const has = async (index: number, id: string, r: string) =>
    (await roomsOf(index, id)).includes(r);

  await nodes[0]!.run({ cmd: "socketsJoin", rooms: [r1], room: r2 });
  await until(async () => (await has(0, a.id, r2)) && (await has(1, b.id, r2)), "socketsJoin");
  await barrier([a.client, b.client, c.client]);
  assert.ok(!(await has(2, c.id, r2)));

  await nodes[0]!.run({ cmd: "socketsJoin", rooms: [c.id], room: [r3, r4] });
  await until(
    async () => (await has(2, c.id, r3)) && (await has(2, c.id, r4)),
    "socketsJoin by id",
  );

  await nodes[0]!.run({ cmd: "socketsLeave", except: [r1], room: r3 });
  await until(async () => !(await has(2, c.id, r3)), "socketsLeave");

  type Fetched = { sockets: Array<{ id: string; rooms: string[]; data: { node: string } }> };
  const inR2 = await nodes[0]!.run<Fetched>({ cmd: "fetchSockets", rooms: [r2], except: [a.id] });
  assert.deepEqual(
    inR2.sockets.map((s) => s.id),
    [b.id],
  );
  assert.equal(inR2.sockets[0]!.data.node, "N1");
  assert.deepEqual(inR2.sockets[0]!.rooms, [b.id, r1, r2].sort());
  const everyone = await nodes[0]!.run<Fetched>({
    cmd: "fetchSockets",
    rooms: [a.id, b.id, c.id],
  });
  assert.deepEqual(everyone.sockets.map((s) => s.id).sort(), [a.id, b.id, c.id].sort());
  const local = await nodes[0]!.run<Fetched>({
    cmd: "fetchSockets",
    rooms: [a.id, b.id, c.id],
    flags: { local: true },
  });
  assert.deepEqual(
    local.sockets.map((s) => s.id),
    [a.id],
  );

  const gone = new Promise<string>((resolve) => b.client.once("disconnect", resolve));
  await nodes[0]!.run({ cmd: "disconnectSockets", rooms: [r2], except: [a.id] });
  assert.equal(await gone, "io server disconnect");
  await barrier([a.client, c.client]);
  assert.ok(a.client.connected && c.client.connected);
  const ids = await nodes[0]!.run<string[]>({ cmd: "allSockets", rooms: [a.id, b.id, c.id] });
  assert.deepEqual(ids, [a.id, c.id].sort());
});

test("serverSideEmit reaches the other workers, with acks; serverCount", async () => {
  await Promise.all(nodes.map((node) => node.run({ cmd: "serverEvents" }))); // drop earlier ones
  await nodes[0]!.run({
    cmd: "serverSideEmit",
    event: "hello",
    args: ["world", 1, "2", { 3: "4" }],
  });
  for (const node of nodes.slice(1)) {
    const heard: unknown[][] = [];
    await until(
      async () => (
        heard.push(...(await node.run<unknown[][]>({ cmd: "serverEvents" }))),
        heard.length > 0
      ),
      `serverSideEmit on ${node.name}`,
    );
    assert.deepEqual(heard, [["/", "hello", "world", 1, "2", { 3: "4" }]]);
  }
  const acked = await nodes[0]!.run<{ responses?: string[]; error?: string }>({
    cmd: "serverSideEmitWithAck",
    event: "hello",
    args: ["ping"],
  });
  assert.equal(acked.error, undefined);
  assert.deepEqual(acked.responses, ['N1:["ping"]', 'N2:["ping"]']);
  assert.deepEqual(
    await nodes[0]!.run({ cmd: "serverEvents" }),
    [],
    "the sender does not hear its own server-side events",
  );
  for (const node of nodes) assert.equal(await node.run({ cmd: "serverCount" }), 3);
});

test("rooms and sids maps, and the room events of the adapter", async () => {
  const r1 = room("r1");
  await nodes[0]!.run({ cmd: "watchRoomEvents" });
  await nodes[0]!.run({ cmd: "roomEvents" }); // drop earlier ones
  const a = await connect(0, [r1]);
  type Maps = { sids: Record<string, string[]>; rooms: Record<string, string[]> };
  const maps = await nodes[0]!.run<Maps>({ cmd: "adapterMaps" });
  assert.deepEqual(maps.sids[a.id], [a.id, r1].sort());
  assert.deepEqual(maps.rooms[r1], [a.id]);
  await new Promise<void>((resolve) => a.client.emit("leave", r1, resolve));
  a.client.disconnect();
  await until(
    async () => !(a.id in (await nodes[0]!.run<Maps>({ cmd: "adapterMaps" })).sids),
    "the socket to leave the sids map",
  );
  // the namespace is shared by the tests of this file: keep the events of this test's socket and room
  const events = await nodes[0]!.run<Array<[string, string, string | null]>>({ cmd: "roomEvents" });
  assert.deepEqual(
    events
      .filter(([, name, id]) => name === a.id || (name === r1 && (id == null || id === a.id)))
      .map(([ev, name]) => `${ev} ${name === a.id ? "<own>" : "r1"}`),
    ROOM_EVENTS,
  );
});
