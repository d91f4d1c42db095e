/**
 * Connection state recovery on the classic and sharded Redis adapters (beyond socket.io, whose Redis adapters
 * never recover): a client that comes back to the node it left recovers, with the broadcasts other nodes sent
 * meanwhile, Switchyard and official socket.io nodes alike. Official nodes never see an offset.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import * as official from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server as SocketIOServer } from "socket.io";
import { io as ioc, type Socket as ClientSocket } from "socket.io-client";
import type { AdapterConstructor, Socket } from "../../src";
import { createAdapter, createShardedAdapter } from "../../src/adapters/redis";
import { next, start, type Running } from "../support/io";
import { REDIS_URL, uniqueKey } from "../redis/cluster";
import { drop, reconnect, record, withoutOffsets } from "./support";

type Mode = "classic" | "sharded";

async function redisPair() {
  const pub = createClient({ url: REDIS_URL });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  return [pub, sub] as const;
}

type Pair = Awaited<ReturnType<typeof redisPair>>;

async function switchyardNode(mode: Mode, key: string, pair: Pair): Promise<Running> {
  const [pub, sub] = pair;
  const adapter =
    mode === "classic"
      ? createAdapter(pub, sub, { key })
      : createShardedAdapter(pub, sub, { channelPrefix: key });
  return start({ adapter: adapter as AdapterConstructor, connectionStateRecovery: {} });
}

async function officialNode(mode: Mode, key: string, pair: Pair) {
  const [pub, sub] = pair;
  const httpServer = createServer();
  const adapter =
    mode === "classic"
      ? official.createAdapter(pub, sub, { key })
      : official.createShardedAdapter(pub, sub, { channelPrefix: key });
  // socket.io's sharded adapter with recovery on appends an `undefined` offset (null on the wire) to every
  // broadcast it receives, whoever sent it: its own quirk, so that node runs without recovery
  const io = new SocketIOServer(
    httpServer,
    mode === "classic" ? { adapter, connectionStateRecovery: {} } : { adapter },
  );
  httpServer.listen(0);
  await once(httpServer, "listening");
  const url = `http://localhost:${(httpServer.address() as AddressInfo).port}`;
  return {
    io,
    client: () => ioc(url, { forceNew: true, reconnection: false }),
    async close() {
      httpServer.closeAllConnections();
      await io.close();
    },
  };
}

for (const mode of ["classic", "sharded"] as const) {
  describe(`recovery on the ${mode} Redis adapter`, () => {
    test("back on the same node: id, rooms, data, and the broadcasts of every node while away", async () => {
      const key = uniqueKey(`recovery-${mode}`);
      const pairs = await Promise.all([redisPair(), redisPair(), redisPair()]);
      const home = await switchyardNode(mode, key, pairs[0]);
      const peer = await switchyardNode(mode, key, pairs[1]);
      const officialPeer = await officialNode(mode, key, pairs[2]);
      const others: ClientSocket[] = [];
      try {
        const sockets: Socket[] = [];
        home.io.on("connection", (socket) => {
          sockets.push(socket);
          if (!socket.recovered) {
            void socket.join("r");
            socket.data = { who: "away" };
          }
          socket.emit(socket.recovered ? "back" : "welcome");
        });
        const client = home.client();
        const events = record(client);
        await next(client, "welcome");
        // a client that stays on the home node: when it has the markers, so has the home node
        const watcher = home.client();
        // a client of the official node: it must never see an offset
        const officialClient = officialPeer.client();
        others.push(officialClient);
        const officialEvents = record(officialClient);
        await Promise.all([next(watcher, "welcome"), next(officialClient, "connect")]);
        await until3Nodes(home);

        await drop(client, home.io.sockets);
        peer.io.emit("from-peer", 1);
        peer.io.to("r").emit("from-peer-to-r", 2);
        peer.io.to("elsewhere").emit("not-for-me");
        officialPeer.io.emit("from-official", 3);
        home.io.emit("from-home", 4);
        peer.io.emit("marker-peer");
        officialPeer.io.emit("marker-official");
        await Promise.all([next(watcher, "marker-peer"), next(watcher, "marker-official")]);

        const back = next(client, "back");
        await reconnect(client);
        await back;
        assert.equal(client.recovered, true);
        const recovered = sockets[2]!;
        assert.equal(recovered.recovered, true);
        assert.equal(recovered.id, sockets[0]!.id);
        assert.deepEqual([...recovered.rooms].sort(), [recovered.id, "r"].sort());
        assert.deepEqual(recovered.data, { who: "away" });

        const missed = events.slice(1, -1);
        for (const args of missed) assert.equal(typeof args.at(-1), "string");
        const names = missed.map((args) => args[0]);
        assert.deepEqual([...names].sort(), [
          "from-home",
          "from-official",
          "from-peer",
          "from-peer-to-r",
          "marker-official",
          "marker-peer",
        ]);
        // one publisher's messages keep their order
        assert.ok(names.indexOf("from-peer") < names.indexOf("from-peer-to-r"));
        assert.ok(names.indexOf("from-peer-to-r") < names.indexOf("marker-peer"));
        assert.deepEqual(withoutOffsets(missed.filter((args) => args[0] === "from-peer-to-r")), [
          ["from-peer-to-r", 2],
        ]);
        assert.deepEqual(events.at(-1)!.slice(0, 1), ["back"]);

        // the official node's client got the home node's broadcast as published: no offset
        const homeMarker = next(officialClient, "marker-home");
        home.io.emit("marker-home");
        await homeMarker;
        assert.deepEqual(
          officialEvents.find((args) => args[0] === "from-home"),
          ["from-home", 4],
        );
      } finally {
        for (const c of others) c.disconnect();
        await Promise.allSettled([home.close(), peer.close(), officialPeer.close()]);
        await Promise.allSettled(pairs.flat().map((c) => c.quit()));
      }
    });

    test("another node's offset is unknown here: a fresh socket", async () => {
      const key = uniqueKey(`recovery-other-${mode}`);
      const pairs = await Promise.all([redisPair(), redisPair()]);
      const a = await switchyardNode(mode, key, pairs[0]);
      const b = await switchyardNode(mode, key, pairs[1]);
      try {
        a.io.on("connection", (socket) => socket.emit("hi"));
        const client = a.client();
        await next(client, "hi");
        const pid = (client as unknown as { _pid: string })._pid;
        const offset = (client as unknown as { _lastOffset: string })._lastOffset;
        await drop(client, a.io.sockets);
        const elsewhere = b.client("/", { auth: { pid, offset } });
        await next(elsewhere, "connect");
        assert.equal(elsewhere.recovered, false);
      } finally {
        await Promise.allSettled([a.close(), b.close()]);
        await Promise.allSettled(pairs.flat().map((c) => c.quit()));
      }
    });
  });
}

/** Every node subscribed (the home node counts three subscribers). */
async function until3Nodes(home: Running): Promise<void> {
  const deadline = Date.now() + 15000;
  while ((await home.io.of("/").adapter.serverCount()) < 3) {
    if (Date.now() > deadline) throw new Error("the nodes did not all subscribe in time");
    await new Promise((resolve) => setImmediate(resolve));
  }
}
