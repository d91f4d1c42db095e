// The official @socket.io/postgres-adapter (built on socket.io-adapter 2.5's ClusterAdapterWithHeartbeat) on
// two Switchyard nodes sharing PostgreSQL (127.0.0.1:5432, database test): broadcasts with rooms and binary
// from the other node, fetchSockets, a broadcast with acks across nodes, serverSideEmit with acks, socketsJoin,
// disconnectSockets, all checked from real socket.io-client clients.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { createAdapter } from "@socket.io/postgres-adapter";
import { Pool } from "pg";
import { io as ioc, type Socket as ClientSocket } from "socket.io-client";
import { Server, type ServerOptions } from "../../src";
import { next, sleep } from "../support/io";

const PG = { host: "127.0.0.1", port: 5432, user: "postgres", database: "test" };

interface PgNode {
  io: Server;
  http: HttpServer;
  pool: Pool;
  url: string;
}

async function startNode(channelPrefix: string): Promise<PgNode> {
  const pool = new Pool(PG);
  const http = createServer();
  const adapter = createAdapter(pool, { channelPrefix, heartbeatInterval: 200 });
  const io = new Server(http, { adapter } as unknown as Partial<ServerOptions>);
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  return { io, http, pool, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

/** Waits until the node sees `count` nodes (the adapters find each other through heartbeats). */
async function untilServerCount(node: PgNode, count: number): Promise<void> {
  const deadline = Date.now() + 15000;
  while ((await node.io.of("/").adapter.serverCount()) !== count) {
    if (Date.now() > deadline) throw new Error("the nodes did not find each other");
    await sleep(20);
  }
}

test("@socket.io/postgres-adapter: two Switchyard nodes form one cluster", async () => {
  const admin = new Pool(PG);
  // the adapter keeps binary (and large) payloads in this table
  await admin.query(
    "CREATE TABLE IF NOT EXISTS socket_io_attachments (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)",
  );
  const prefix = `i18_${process.pid}_${Date.now()}`;
  const a = await startNode(prefix);
  const b = await startNode(prefix);
  const clients: ClientSocket[] = [];
  try {
    b.io.on("connection", (socket) => void socket.join("room"));
    b.io.on("ping-srv", (n: number, cb: (v: string) => void) => cb(`pong-${n}`));
    await Promise.all([untilServerCount(a, 2), untilServerCount(b, 2)]);

    const client = ioc(b.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
    clients.push(client);
    client.on("ask", (cb: (v: string) => void) => cb("client-ack"));
    await next(client, "connect");

    const text = next<[number, string]>(client, "from-a");
    a.io.to("room").emit("from-a", 1, "two");
    assert.deepEqual(await text, [1, "two"]);
    const binary = next<[Buffer]>(client, "bin");
    a.io.emit("bin", Buffer.from([9, 8]));
    assert.deepEqual([...(await binary)[0]], [9, 8]);

    const sockets = await a.io.fetchSockets();
    assert.deepEqual(
      sockets.map((s) => [s.id, [...s.rooms].sort()]),
      [[client.id, [client.id, "room"].sort()]],
    );
    assert.deepEqual(await a.io.timeout(5000).emitWithAck("ask"), ["client-ack"]);
    assert.deepEqual(await a.io.serverSideEmitWithAck("ping-srv", 5), ["pong-5"]);

    a.io.in("room").socketsJoin("joined-remotely");
    // the official adapter sends each message on its own pool connection: a broadcast right after the join
    // may overtake it, so wait until node b has applied the join
    const deadline = Date.now() + 15000;
    while (
      !b.io
        .of("/")
        .sockets.get(client.id as string)
        ?.rooms.has("joined-remotely")
    ) {
      if (Date.now() > deadline) throw new Error("the join did not reach node b");
      await sleep(20);
    }
    const joined = next<[string]>(client, "joined");
    a.io.to("joined-remotely").emit("joined", "yes");
    assert.deepEqual(await joined, ["yes"]);

    const gone = next<[string]>(client, "disconnect");
    a.io.disconnectSockets();
    assert.equal((await gone)[0], "io server disconnect");
  } finally {
    for (const c of clients) c.disconnect();
    await a.io.close();
    await b.io.close();
    await Promise.all([a.pool.end(), b.pool.end(), admin.end()]);
  }
});
