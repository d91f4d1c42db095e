/**
 * A forwarding test node in a child process of its own (so that a test can SIGKILL it): the Redis adapter and
 * the Redis forwarding route under KEY, the forwarding tests' application. To the parent: `{port}` once
 * listening, then `{seen: event}` per server-side event.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { type AdapterConstructor, Server, redisForwarding } from "../../src";
import { createAdapter } from "../../src/adapters/redis";
import { REDIS_URL } from "../redis/cluster";
import { HEARTBEAT, installApp } from "./app";

async function main(): Promise<void> {
  const name = process.env.NODE_NAME ?? "node";
  const key = process.env.KEY ?? "switchyard-fwd-test";
  const pub = new Redis(REDIS_URL);
  const sub = pub.duplicate();
  await Promise.all([pub, sub].map((c) => (c.status === "ready" ? undefined : once(c, "ready"))));
  const route = redisForwarding(pub, sub, { key: `${key}-fwd` });
  const http = createServer();
  const io = new Server(http, {
    adapter: createAdapter(pub, sub, { key }) as AdapterConstructor,
    forwarding: route,
    ...HEARTBEAT,
  });
  await route.ready;
  installApp(io, name, (event) => process.send?.({ seen: event }));
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  process.send?.({ port: (http.address() as AddressInfo).port });
  // the parent went away: end too
  process.on("disconnect", () => process.exit(0));
}

void main();
