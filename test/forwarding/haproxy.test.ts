/**
 * Long-polling without sticky sessions: three Switchyard nodes (Redis adapter + Redis forwarding route) behind
 * haproxy balancing every request round-robin with no affinity, official socket.io-client clients.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { Redis } from "ioredis";
import { io as ioc, type Socket as ClientSocket } from "socket.io-client";
import { type AdapterConstructor, Server, redisForwarding } from "../../src";
import { createAdapter } from "../../src/adapters/redis";
import { Kind } from "../../src/forwarding/wire";
import { next, until } from "../support/io";
import { REDIS_URL, uniqueKey } from "../redis/cluster";
import { HEARTBEAT, type SeenEvent, installApp } from "./app";
import { startBalancer } from "./balancer";
import { everyFeatureOverPolling, failsWithoutForwarding } from "./scenarios";

interface Node {
  name: string;
  io: Server;
  http: HttpServer;
  port: number;
  pub: Redis;
  sub: Redis;
}

/** WebSocket upgrades that landed on a node other than their session's owner, since the start. */
let relayedUpgrades = 0;

async function startNode(
  name: string,
  key: string,
  forwarding: boolean,
  seen: SeenEvent[],
): Promise<Node> {
  const pub = new Redis(REDIS_URL);
  const sub = pub.duplicate();
  await Promise.all([pub, sub].map((c) => (c.status === "ready" ? undefined : once(c, "ready"))));
  const route = forwarding ? redisForwarding(pub, sub, { key: `${key}-fwd` }) : undefined;
  if (route !== undefined) {
    // counts the WebSocket upgrades relayed to another node (WS_OPEN messages on the route, wire.ts)
    const send = route.send.bind(route);
    route.send = (to, message) => {
      if (message[0] === Kind.WS_OPEN) relayedUpgrades++;
      send(to, message);
    };
  }
  const http = createServer();
  const io = new Server(http, {
    adapter: createAdapter(pub, sub, { key }) as AdapterConstructor,
    forwarding: route,
    ...HEARTBEAT,
  });
  await route?.ready;
  installApp(io, name, (event) => seen.push(event));
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  return { name, io, http, port: (http.address() as AddressInfo).port, pub, sub };
}

async function withCluster(
  forwarding: boolean,
  body: (url: string, seen: SeenEvent[], clients: ClientSocket[]) => Promise<void>,
): Promise<void> {
  const key = uniqueKey("fwd");
  const seen: SeenEvent[] = [];
  const nodes = await Promise.all(["a", "b", "c"].map((n) => startNode(n, key, forwarding, seen)));
  const balancer = await startBalancer(nodes.map((n) => n.port));
  const clients: ClientSocket[] = [];
  try {
    await body(balancer.url, seen, clients);
  } finally {
    for (const c of clients) c.disconnect();
    await balancer.close();
    for (const n of nodes) {
      n.http.closeAllConnections();
      await n.io.close();
      n.pub.disconnect();
      n.sub.disconnect();
    }
  }
}

function polling(url: string, clients: ClientSocket[]): ClientSocket {
  const socket = ioc(url, { forceNew: true, reconnection: false, transports: ["polling"] });
  clients.push(socket);
  return socket;
}

test("three nodes behind round-robin haproxy: every feature works over polling with forwarding", () =>
  withCluster(true, (url, seen, clients) =>
    everyFeatureOverPolling(() => polling(url, clients), seen),
  ));

test("clients that upgrade: the WebSocket completes wherever it lands (relayed to the owner); events flow", async (t) => {
  await withCluster(true, async (url, seen, clients) => {
    const relayedBefore = relayedUpgrades;
    // sessions that upgrade, at least six, until one upgrade has landed on another node than its owner
    const sockets: ClientSocket[] = [];
    while (sockets.length < 6 || relayedUpgrades === relayedBefore) {
      assert.ok(
        sockets.length < 30,
        "thirty upgrades, all on their owner: does the balancer rotate?",
      );
      const batch = [0, 1, 2].map(() => ioc(url, { forceNew: true, reconnection: false }));
      clients.push(...batch);
      sockets.push(...batch);
      await Promise.all(batch.map((s) => next(s, "connect")));
      await until(() => batch.every((s) => s.io.engine.transport.name === "websocket"), 30000);
    }
    t.diagnostic(
      `${relayedUpgrades - relayedBefore} of ${sockets.length} upgrades landed on another node than the owner`,
    );
    for (const s of sockets) {
      for (let i = 0; i < 5; i++)
        assert.deepEqual(await s.timeout(10000).emitWithAck("echo", i), [i]);
      const [bytes] = (await s.timeout(10000).emitWithAck("echo", Buffer.from([9, 8]))) as [Buffer];
      assert.deepEqual([...bytes], [9, 8]);
    }
    // rooms and broadcasts over the relayed WebSockets
    for (const s of sockets) await s.timeout(10000).emitWithAck("join", "ws");
    const heard = Promise.all(sockets.map((s) => next<[string]>(s, "heard")));
    sockets[0]!.emit("shout", "ws", "over websocket");
    assert.deepEqual(
      await heard,
      sockets.map(() => ["over websocket"]),
    );
    // heartbeats go through (pingInterval 2 s), then both disconnects
    for (let i = 0; i < 2; i++) await next(sockets[1]!.io, "ping");
    assert.equal(sockets[1]!.connected, true);
    const kicked = next<[string]>(sockets[2]!, "disconnect");
    sockets[2]!.emit("kickme");
    assert.equal((await kicked)[0], "io server disconnect");
    const id = sockets[3]!.id;
    sockets[3]!.disconnect();
    await until(() => seen.some(([e, sid]) => e === "disconnect" && sid === id));
  });
});

test("the same cluster without forwarding fails (the balancer rotates)", () =>
  withCluster(false, (url, _seen, clients) => failsWithoutForwarding(() => polling(url, clients))));

test("a request for a session no node owns gets 400 Session ID unknown within the deadline", async () => {
  await withCluster(true, async (url) => {
    const started = Date.now();
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA`);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { code: 1, message: "Session ID unknown" });
    assert.ok(Date.now() - started < 15000);
  });
});
