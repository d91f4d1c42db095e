/**
 * The mixed-cluster scenario: node A is official socket.io with the official Redis adapter, node B runs the
 * Switchyard adapter (on the Switchyard server); clients on both; every broadcast and utility method is run
 * from A and from B and checked on the other side.
 */
import assert from "node:assert/strict";
import type { Socket as ClientSocket } from "socket.io-client";
import { disconnected, record, startNode, uniqueKey, until, type ClusterNode } from "./cluster";
import type { NodeConfig } from "./node";

export interface Scenario {
  mode: NodeConfig["mode"];
  client: NodeConfig["client"];
  /** The server running the Switchyard adapter. */
  impl: NodeConfig["impl"];
  subscriptionMode?: NodeConfig["subscriptionMode"];
  /** Configuration for both nodes beyond the Redis defaults (the Postgres backend, ...). */
  extra?: Partial<NodeConfig>;
}

interface Member {
  name: string;
  node: ClusterNode;
  socket: ClientSocket;
}

type Emitted = { error?: string; responses?: unknown[] };

export async function mixedCluster(s: Scenario): Promise<void> {
  const key = uniqueKey(`${s.mode}-${s.client}`);
  const base = {
    key,
    mode: s.mode,
    client: s.client,
    subscriptionMode: s.subscriptionMode,
    ...s.extra,
  };
  const A = await startNode({ ...base, name: "A", impl: "socket.io", adapter: "official" });
  const B = await startNode({ ...base, name: "B", impl: s.impl, adapter: "switchyard" });
  try {
    const members: Member[] = [];
    for (const [name, node] of [
      ["a1", A],
      ["a2", A],
      ["b1", B],
      ["b2", B],
    ] as const) {
      const socket = await node.client();
      socket.on("ask", (arg: unknown, cb: (v: unknown) => void) => cb(`${name}:${String(arg)}`));
      members.push({ name, node, socket });
    }
    const byName = (n: string) => members.find((m) => m.name === n) as Member;
    const join = async (n: string, room: string) => {
      await byName(n).socket.timeout(15000).emitWithAck("join", room);
    };
    await join("a1", "room1");
    await join("b1", "room1");
    await join("b2", "room2");
    await join("a2", "room3");

    for (const node of [A, B]) {
      await until(
        async () => (await node.run<number>({ cmd: "serverCount" })) === 2,
        `serverCount 2 on ${node.name}`,
      );
    }

    // Broadcasts, each way: all, one room (room channel), several rooms with except, volatile, uncompressed, binary
    const received = new Map(members.map((m) => [m.name, record(m.socket, "news")]));
    const markers = members.map((m) => record(m.socket, "marker"));
    // on a timeout, what each client got last (the stream adapters' entry ids are in the nodes' debug output)
    const lastSeen = () =>
      members
        .map((m) => `${m.name}: ${JSON.stringify(received.get(m.name)?.slice(-2) ?? [])}`)
        .join("; ");
    const expectNews = async (from: ClusterNode, label: string, who: string[]) => {
      await until(
        () => who.every((n) => received.get(n)?.some((args) => args[0] === label)),
        `${label} to reach ${who.join(",")}`,
      ).catch((err: Error) => {
        throw new Error(`${err.message} (last received: ${lastSeen()})`);
      });
      // a marker broadcast by the same node after the message: a node's messages reach the other node in order,
      // so once every client has the marker, no copy of the message is still on its way
      await from.run({ cmd: "emit", event: "marker", args: [label] });
      await until(
        () => markers.every((seen) => seen.some((args) => args[0] === label)),
        `the marker after ${label}`,
      ).catch((err: Error) => {
        const missing = members.filter((_, i) => !markers[i]?.some((args) => args[0] === label));
        throw new Error(`${err.message} (not on ${missing.map((m) => m.name).join(",")})`);
      });
      for (const [n, seen] of received) {
        const count = seen.filter((args) => args[0] === label).length;
        assert.equal(count, who.includes(n) ? 1 : 0, `${label}: ${n} got it ${count} times`);
      }
    };
    for (const from of [A, B]) {
      await from.run({ cmd: "emit", event: "news", args: [`all-${from.name}`, { n: 1 }] });
      await expectNews(from, `all-${from.name}`, ["a1", "a2", "b1", "b2"]);
      await from.run({ cmd: "emit", rooms: ["room1"], event: "news", args: [`r1-${from.name}`] });
      await expectNews(from, `r1-${from.name}`, ["a1", "b1"]);
      await from.run({ cmd: "emit", rooms: ["room2"], event: "news", args: [`r2-${from.name}`] });
      await expectNews(from, `r2-${from.name}`, ["b2"]);
      await from.run({
        cmd: "emit",
        rooms: ["room1", "room2", "room3"],
        except: ["room1"],
        event: "news",
        args: [`multi-${from.name}`],
      });
      await expectNews(from, `multi-${from.name}`, ["a2", "b2"]);
      await from.run({ cmd: "emit", except: ["room2"], event: "news", args: [`exc-${from.name}`] });
      await expectNews(from, `exc-${from.name}`, ["a1", "a2", "b1"]);
      await from.run({
        cmd: "emit",
        flags: { volatile: true },
        event: "news",
        args: [`vol-${from.name}`],
      });
      await expectNews(from, `vol-${from.name}`, ["a1", "a2", "b1", "b2"]);
      await from.run({
        cmd: "emit",
        flags: { compress: false },
        event: "news",
        args: [`nc-${from.name}`],
      });
      await expectNews(from, `nc-${from.name}`, ["a1", "a2", "b1", "b2"]);
      await from.run({
        cmd: "emit",
        flags: { local: true },
        event: "news",
        args: [`local-${from.name}`],
      });
      await expectNews(from, `local-${from.name}`, from === A ? ["a1", "a2"] : ["b1", "b2"]);
      const bytes = Buffer.from([1, 2, 3, 250]);
      await from.run({
        cmd: "emit",
        event: "news",
        args: [`bin-${from.name}`, bytes, { nested: bytes }],
      });
      await expectNews(from, `bin-${from.name}`, ["a1", "a2", "b1", "b2"]);
      for (const seen of received.values()) {
        const args = seen.find((a) => a[0] === `bin-${from.name}`) as unknown[];
        assert.deepEqual(Buffer.from(args[1] as ArrayBuffer), bytes);
        assert.deepEqual(Buffer.from((args[2] as { nested: ArrayBuffer }).nested), bytes);
      }
    }

    // Broadcast with acks, counted across both nodes
    for (const from of [A, B]) {
      const all = await from.run<Emitted>({
        cmd: "emitWithAck",
        flags: { timeout: 3000 },
        event: "ask",
        args: [1],
      });
      assert.equal(all.error, undefined, `emitWithAck from ${from.name}: ${all.error}`);
      assert.deepEqual([...(all.responses as string[])].sort(), ["a1:1", "a2:1", "b1:1", "b2:1"]);
      const some = await from.run<Emitted>({
        cmd: "emitWithAck",
        rooms: ["room1", "room2"],
        flags: { timeout: 3000 },
        event: "ask",
        args: [2],
      });
      assert.deepEqual([...(some.responses as string[])].sort(), ["a1:2", "b1:2", "b2:2"]);
    }

    // RemoteSocket.emit with an ack: one answer from one socket of the other node
    assert.deepEqual(
      await A.run({ cmd: "remoteEmitWithAck", rooms: ["room2"], event: "ask", args: [3] }),
      ["b2:3"],
    );
    assert.deepEqual(
      await B.run({ cmd: "remoteEmitWithAck", rooms: ["room3"], event: "ask", args: [4] }),
      ["a2:4"],
    );

    // fetchSockets, each way: descriptions of the other node's sockets (id, rooms, data)
    const ids = Object.fromEntries(members.map((m) => [m.name, m.socket.id as string]));
    for (const from of [A, B]) {
      const all = await from.run<{
        sockets: Array<{ id: string; rooms: string[]; data: { node: string } }>;
      }>({
        cmd: "fetchSockets",
      });
      assert.deepEqual(
        all.sockets.map((x) => x.id).sort(),
        Object.values(ids).sort(),
        `fetchSockets from ${from.name}`,
      );
      const b2 = all.sockets.find((x) => x.id === ids.b2);
      assert.deepEqual(b2?.rooms, [ids.b2, "room2"].sort());
      assert.equal(b2?.data.node, "B");
      const r1 = await from.run<{ sockets: Array<{ id: string }> }>({
        cmd: "fetchSockets",
        rooms: ["room1"],
      });
      assert.deepEqual(r1.sockets.map((x) => x.id).sort(), [ids.a1, ids.b1].sort());
    }

    // socketsJoin / socketsLeave, each way
    const rooms = async (node: ClusterNode, n: string) =>
      (await node.run<Record<string, string[]>>({ cmd: "localRooms" }))[ids[n] as string] ?? [];
    await A.run({ cmd: "socketsJoin", rooms: ["room2"], room: "fromA" });
    await until(async () => (await rooms(B, "b2")).includes("fromA"), "b2 to join fromA");
    await B.run({ cmd: "socketsJoin", room: ["fromB", "fromB2"] });
    await until(async () => (await rooms(A, "a1")).includes("fromB2"), "a1 to join fromB2");
    assert.ok((await rooms(A, "a2")).includes("fromB"));
    assert.ok((await rooms(B, "b1")).includes("fromB"), "B applies its own socketsJoin");
    await B.run({ cmd: "socketsLeave", rooms: ["room1"], room: "fromB" });
    await until(async () => !(await rooms(A, "a1")).includes("fromB"), "a1 to leave fromB");
    assert.ok((await rooms(A, "a2")).includes("fromB"), "a2 (not in room1) stays in fromB");
    await A.run({ cmd: "socketsLeave", room: "fromA" });
    await until(async () => !(await rooms(B, "b2")).includes("fromA"), "b2 to leave fromA");
    // RemoteSocket.join from B on A's sockets (a single-socket request)
    await B.run({ cmd: "remoteJoin", rooms: [ids.a2 as string], event: "join", room: "picked" });
    await until(async () => (await rooms(A, "a2")).includes("picked"), "a2 to join picked");

    // serverSideEmit, each way, with and without ack
    await A.run({ cmd: "serverSideEmit", event: "hello", args: ["from-A", 1] });
    await B.run({ cmd: "serverSideEmit", event: "hello", args: ["from-B", 2] });
    const eventsOn = async (node: ClusterNode) => node.run<unknown[][]>({ cmd: "serverEvents" });
    const onB: unknown[][] = [];
    const onA: unknown[][] = [];
    await until(
      async () => (onB.push(...(await eventsOn(B))), onB.length > 0),
      "serverSideEmit A→B",
    );
    await until(
      async () => (onA.push(...(await eventsOn(A))), onA.length > 0),
      "serverSideEmit B→A",
    );
    assert.deepEqual(onB, [["/", "hello", "from-A", 1]]);
    assert.deepEqual(onA, [["/", "hello", "from-B", 2]]);
    const ackAB = await A.run<Emitted>({
      cmd: "serverSideEmitWithAck",
      event: "hello",
      args: ["q"],
    });
    assert.deepEqual(ackAB, { responses: ['B:["q"]'] });
    const ackBA = await B.run<Emitted>({
      cmd: "serverSideEmitWithAck",
      event: "hello",
      args: ["r"],
    });
    assert.deepEqual(ackBA, { responses: ['A:["r"]'] });

    // allSockets: across nodes from Switchyard (it asks the others); the official adapter answers locally only
    assert.deepEqual(await B.run({ cmd: "allSockets" }), Object.values(ids).sort());
    assert.deepEqual(await B.run({ cmd: "allSockets", rooms: ["room1"] }), [ids.a1, ids.b1].sort());

    // another namespace is another set of channels
    const ca = await A.client("/custom");
    const cb = await B.client("/custom");
    const customA = record(ca, "news");
    const customB = record(cb, "news");
    await A.run({ cmd: "emit", nsp: "/custom", event: "news", args: ["c-A"] });
    await B.run({ cmd: "emit", nsp: "/custom", event: "news", args: ["c-B"] });
    await until(() => customA.length === 2 && customB.length === 2, "custom namespace broadcasts");
    // markers on "/" from both nodes, sent after the broadcasts on "/custom": once a1 has both, it would have
    // had any of those broadcasts too
    const a1Markers = record(byName("a1").socket, "marker");
    await A.run({ cmd: "emit", event: "marker", args: ["after-custom"] });
    await B.run({ cmd: "emit", event: "marker", args: ["after-custom"] });
    await until(() => a1Markers.length === 2, "the markers after the /custom broadcasts");
    assert.equal(received.get("a1")?.filter((a) => String(a[0]).startsWith("c-")).length, 0);

    // disconnectSockets, each way
    const gone = (n: string) => disconnected(byName(n).socket, n);
    const b2gone = gone("b2");
    await A.run({ cmd: "disconnectSockets", rooms: ["room2"] });
    await b2gone;
    const a2gone = gone("a2");
    await B.run({ cmd: "disconnectSockets", rooms: [ids.a2 as string], close: true });
    await a2gone;
    assert.ok(byName("a1").socket.connected && byName("b1").socket.connected);

    // no adapter errors, no unhandled rejections on either node
    assert.deepEqual(await B.run({ cmd: "errors" }), []);
    assert.deepEqual([...A.unhandled, ...B.unhandled], []);
  } catch (err) {
    // scenarios may run at once (mixed-streams.test.ts): the message says which one failed
    if (err instanceof Error) err.message = `[${s.mode}/${s.client}] ${err.message}`;
    throw err;
  } finally {
    // this scenario's clients only: another scenario running at once keeps its own
    A.closeClients();
    B.closeClients();
    await Promise.all([A.stop(), B.stop()]);
  }
}
