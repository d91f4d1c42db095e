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
import { next } from "../support/io";
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

test("clients that may upgrade: the upgrade completes on the owner or is refused elsewhere; events flow", async () => {
  await withCluster(true, async (url, _seen, clients) => {
    const sockets = [0, 1, 2].map(() => {
      const s = ioc(url, { forceNew: true, reconnection: false });
      clients.push(s);
      return s;
    });
    await Promise.all(sockets.map((s) => next(s, "connect")));
    for (const s of sockets) {
      for (let i = 0; i < 5; i++)
        assert.deepEqual(await s.timeout(10000).emitWithAck("echo", i), [i]);
    }
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
