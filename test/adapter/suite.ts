/**
 * The adapter conformance suite: rooms, broadcasts and utility methods exercised through the Server API, on a
 * cluster of nodes built by `makeCluster` (one node for the in-memory adapter, several for a cluster adapter).
 * Every expectation holds whatever node the clients sit on.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Socket as ClientSocket } from "socket.io-client";
import type { AdapterConstructor, Socket } from "../../src";
import { barrier as markerBarrier } from "../support/barrier";
import { next, type Running, start, until } from "../support/io";

export interface Cluster {
  nodes: Running[];
  close(): Promise<void>;
}

/** Starts `count` servers using adapters from `makeAdapter` (called once per node). */
export async function startCluster(
  count: number,
  makeAdapter: () => AdapterConstructor,
): Promise<Cluster> {
  const nodes: Running[] = [];
  for (let i = 0; i < count; i++) nodes.push(await start({ adapter: makeAdapter() }));
  return {
    nodes,
    async close() {
      await Promise.all(nodes.map((node) => node.close()));
    },
  };
}

/**
 * What each client of the broadcast scenario receives, sorted: a (in r1, on node 0), b (in r1 and r2, node 1) and
 * c (in r2, node 2), when node 0 emits "all", "r1" to r1, "r1+r2" to r1 and r2, "r1-r2" to r1 and r2 except r2,
 * "to c by id" to c's id, "all but a" except a's id, and b's socket emits "from b to r1" and "from b to all"
 * (`socket.to(r1)`, `socket.broadcast`: from b's node, except b).
 */
export const BROADCASTS_RECEIVED: readonly (readonly string[])[] = [
  ["all", "from b to all", "from b to r1", "r1", "r1+r2", "r1-r2"],
  ["all", "all but a", "r1", "r1+r2"],
  ["all", "all but a", "from b to all", "r1+r2", "to c by id"],
];

/**
 * The adapter's room events on node 0 for a socket that connects having joined r1, leaves r1 and disconnects
 * (`<own>`: the socket's own room, its id).
 */
export const ROOM_EVENTS: readonly string[] = [
  "create-room <own>",
  "join-room <own>",
  "create-room r1",
  "join-room r1",
  "leave-room r1",
  "delete-room r1",
  "leave-room <own>",
  "delete-room <own>",
];

/** The first argument of each event received, as strings, sorted (broadcasts of several nodes interleave). */
export function sortedFirstArgs(list: unknown[][]): string[] {
  return list.map((args) => String(args[0])).sort();
}

export function adapterSuite(name: string, makeCluster: () => Promise<Cluster>) {
  describe(`adapter suite: ${name}`, () => {
    let cluster: Cluster;
    let counter = 0;

    /** Waits until whatever node operations sent before has been applied everywhere (see the barrier). */
    function barrier(nsp: string, clients: ClientSocket[]): Promise<void> {
      return markerBarrier(clients, cluster.nodes.length, (tag, i) =>
        cluster.nodes[i]!.io.of(nsp).emit("barrier", tag, i),
      );
    }
    before(async () => {
      cluster = await makeCluster();
    });
    after(() => cluster.close());

    /** A fresh namespace per test keeps tests independent on a shared cluster. */
    function freshNsp(): string {
      return `/suite-${counter++}`;
    }

    async function connect(nodeIndex: number, nsp: string, rooms: string[] = []) {
      const node = cluster.nodes[nodeIndex % cluster.nodes.length]!;
      const serverSide = next<[Socket]>(node.io.of(nsp), "connection");
      const client = node.client(nsp, { transports: ["websocket"] });
      await next(client, "connect");
      const [socket] = await serverSide;
      await socket.join(rooms);
      return { client, socket, node };
    }

    /**
     * Waits until node 0 counts `nodes` nodes (every node by default) in `nsp`. Adapters that learn the nodes by
     * heartbeat (Postgres, the node:cluster one) know a namespace's nodes only once their announcements have
     * arrived; requests sent before would rightly wait for fewer answers. A node counted listens to the namespace's
     * channel (it speaks only once it hears), so broadcasts sent afterwards reach it.
     */
    async function allNodesKnown(nsp: string, nodes = cluster.nodes.length): Promise<void> {
      const deadline = Date.now() + 15000;
      const adapter = cluster.nodes[0]!.io.of(nsp).adapter;
      while ((await adapter.serverCount()) !== nodes) {
        if (Date.now() > deadline) throw new Error(`node 0 does not count every node in ${nsp}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }

    function collect(client: ClientSocket, event: string): unknown[][] {
      const got: unknown[][] = [];
      client.on(event, (...args: unknown[]) => got.push(args));
      return got;
    }

    test("broadcast to all, to a room, to several rooms (once each), except, from a socket", async () => {
      const nsp = freshNsp();
      const a = await connect(0, nsp, ["r1"]);
      const b = await connect(1, nsp, ["r1", "r2"]);
      const c = await connect(2, nsp, ["r2"]);
      // a node listens to a new namespace's channel asynchronously (Postgres: LISTEN); what is sent before is not for it
      await allNodesKnown(nsp);
      const io0 = cluster.nodes[0]!.io;
      const got = [a, b, c].map((x) => collect(x.client, "m"));

      io0.of(nsp).emit("m", "all");
      io0.of(nsp).to("r1").emit("m", "r1");
      io0.of(nsp).to("r1").to("r2").emit("m", "r1+r2");
      io0.of(nsp).to(["r1", "r2"]).except("r2").emit("m", "r1-r2");
      b.socket.to("r1").emit("m", "from b to r1");
      b.socket.broadcast.emit("m", "from b to all");
      io0.of(nsp).to(c.socket.id).emit("m", "to c by id");
      io0.of(nsp).except(a.socket.id).emit("m", "all but a");

      await until(() => got.every((list, i) => list.length === BROADCASTS_RECEIVED[i]!.length));
      await barrier(nsp, [a.client, b.client, c.client]);
      // Broadcasts from different nodes may interleave: compare the sets of messages each client received.
      got.forEach((list, i) => assert.deepEqual(sortedFirstArgs(list), BROADCASTS_RECEIVED[i]));
    });

    test("local broadcasts stay on the emitting node", async () => {
      const nsp = freshNsp();
      const a = await connect(0, nsp);
      const b = await connect(1, nsp);
      const got = [a, b].map((x) => collect(x.client, "m"));
      cluster.nodes[0]!.io.of(nsp).local.emit("m", "local");
      await until(() => got[0]!.length === 1);
      await barrier(nsp, [a.client, b.client]);
      assert.deepEqual(got[0], [["local"]]);
      assert.deepEqual(got[1], cluster.nodes.length > 1 ? [] : [["local"]]);
    });

    test("binary payloads reach every node", async () => {
      const nsp = freshNsp();
      const a = await connect(0, nsp);
      const b = await connect(1, nsp);
      await allNodesKnown(nsp, Math.min(2, cluster.nodes.length));
      const arrived = Promise.all([
        next<[ArrayBuffer]>(a.client, "bin"),
        next<[ArrayBuffer]>(b.client, "bin"),
      ]);
      cluster.nodes[0]!.io.of(nsp).emit("bin", Buffer.from([1, 2, 3]));
      for (const [data] of await arrived) assert.deepEqual([...new Uint8Array(data)], [1, 2, 3]);
    });

    test("broadcast with acks: every answer, and a timeout error listing the answers that came", async () => {
      const nsp = freshNsp();
      const clients = [await connect(0, nsp), await connect(1, nsp), await connect(2, nsp)];
      clients.forEach((x, i) => x.client.on("q", (ack: (n: number) => void) => ack(i)));
      await allNodesKnown(nsp);
      const io0 = cluster.nodes[0]!.io;
      const responses = (await io0.of(nsp).timeout(3000).emitWithAck("q")) as number[];
      assert.deepEqual([...responses].sort(), [0, 1, 2]);

      clients[2]!.client.off("q");
      clients[2]!.client.on("q", () => {});
      const [err, partial] = await new Promise<[Error | null, number[]]>((resolve) =>
        io0
          .of(nsp)
          .timeout(2000)
          .emit("q", (e: Error | null, r: number[]) => resolve([e, r])),
      );
      assert.equal(err?.message, "operation has timed out");
      assert.deepEqual([...partial].sort(), [0, 1]);

      const empty = await io0.of(nsp).to("nobody-here").timeout(10000).emitWithAck("q");
      assert.deepEqual(empty, []);
    });

    test("socketsJoin, socketsLeave, fetchSockets, disconnectSockets across nodes", async () => {
      const nsp = freshNsp();
      const a = await connect(0, nsp, ["r1"]);
      const b = await connect(1, nsp, ["r1"]);
      const c = await connect(2, nsp);
      await allNodesKnown(nsp);
      const io0 = cluster.nodes[0]!.io;
      io0.of(nsp).in("r1").socketsJoin("r2");
      await until(() => a.socket.rooms.has("r2") && b.socket.rooms.has("r2"));
      await barrier(nsp, [a.client, b.client, c.client]);
      assert.ok(!c.socket.rooms.has("r2"));

      io0.of(nsp).in(c.socket.id).socketsJoin(["r3", "r4"]);
      await until(() => c.socket.rooms.has("r3") && c.socket.rooms.has("r4"));

      io0.of(nsp).except("r1").socketsLeave("r3");
      await until(() => !c.socket.rooms.has("r3"));

      b.socket.data = { name: "bee" };
      const all = await io0.of(nsp).fetchSockets();
      assert.deepEqual(all.map((s) => s.id).sort(), [a, b, c].map((x) => x.socket.id).sort());
      const inR2 = await io0.of(nsp).in("r2").except(a.socket.id).fetchSockets();
      assert.deepEqual(
        inR2.map((s) => s.id),
        [b.socket.id],
      );
      assert.deepEqual(inR2[0]!.data, { name: "bee" });
      assert.deepEqual([...inR2[0]!.rooms].sort(), [b.socket.id, "r1", "r2"].sort());
      assert.equal(inR2[0]!.handshake.auth && typeof inR2[0]!.handshake.auth, "object");
      const local = await io0.of(nsp).local.fetchSockets();
      assert.deepEqual(
        local.map((s) => s.id),
        cluster.nodes.length > 1 ? [a.socket.id] : [a, b, c].map((x) => x.socket.id),
      );

      const gone = next<[string]>(b.client, "disconnect");
      io0.of(nsp).in("r2").except(a.socket.id).disconnectSockets();
      assert.equal((await gone)[0], "io server disconnect");
      await barrier(nsp, [a.client, c.client]);
      assert.ok(a.socket.connected && c.socket.connected);
      const ids = await io0.of(nsp).allSockets();
      assert.deepEqual([...ids].sort(), [a.socket.id, c.socket.id].sort());
    });

    test("serverSideEmit reaches the other nodes, with acks", async () => {
      const nsp = freshNsp();
      const others = cluster.nodes.slice(1);
      const heard = others.map((node) => next(node.io.of(nsp), "hello"));
      others.forEach((node, i) =>
        node.io.of(nsp).on("ping", (cb: (answer: string) => void) => cb(`pong ${i}`)),
      );
      const ownHeard: unknown[] = [];
      cluster.nodes[0]!.io.of(nsp).on("hello", (...args: unknown[]) => ownHeard.push(args));
      cluster.nodes[0]!.io.of(nsp).serverSideEmit("hello", "world", 1, "2", { 3: "4" });
      for (const args of await Promise.all(heard))
        assert.deepEqual(args, ["world", 1, "2", { 3: "4" }]);
      await allNodesKnown(nsp);
      const [err, responses] = await new Promise<[Error | null, string[]]>((resolve) =>
        cluster.nodes[0]!.io.of(nsp).serverSideEmit("ping", (e: Error | null, r: string[]) =>
          resolve([e, r]),
        ),
      );
      assert.equal(err, null);
      assert.deepEqual(
        [...responses].sort(),
        others.map((_, i) => `pong ${i}`),
      );
      assert.deepEqual(ownHeard, [], "the sender does not hear its own server-side events");
      assert.equal(await cluster.nodes[0]!.io.of(nsp).adapter.serverCount(), cluster.nodes.length);
    });

    test("rooms and sids maps, and the room events of the adapter", async () => {
      const nsp = freshNsp();
      const adapter = cluster.nodes[0]!.io.of(nsp).adapter;
      const events: string[] = [];
      for (const ev of ["create-room", "delete-room", "join-room", "leave-room"]) {
        adapter.on(ev, (room: string, id?: string) =>
          events.push(`${ev} ${room === id ? "<own>" : room}`),
        );
      }
      const a = await connect(0, nsp, ["r1"]);
      assert.deepEqual([...adapter.sids.get(a.socket.id)!].sort(), [a.socket.id, "r1"].sort());
      assert.deepEqual([...adapter.rooms.get("r1")!], [a.socket.id]);
      await a.socket.leave("r1");
      a.client.disconnect();
      await until(() => !adapter.sids.has(a.socket.id));
      assert.deepEqual(
        events.map((e) => e.replace(a.socket.id, "<own>")),
        ROOM_EVENTS,
      );
    });
  });
}
