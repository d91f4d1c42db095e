/**
 * A node killed mid-session behind the round-robin balancer: three Switchyard nodes in child processes (Redis
 * adapter and forwarding), haproxy in front, socket.io-client clients on polling that reconnect. One node is
 * SIGKILLed: the sessions it owned end on their clients (a disconnect, within the forwarding and heartbeat
 * deadlines, never a hang), the clients reconnect through the balancer to the nodes left, and every client
 * works again.
 */
import assert from "node:assert/strict";
import { type ChildProcess, fork } from "node:child_process";
import { test } from "node:test";
import { io as ioc, type Socket as ClientSocket } from "socket.io-client";
import { uniqueKey } from "../redis/cluster";
import { next, until } from "../support/io";
import { HEARTBEAT, type SeenEvent } from "./app";
import { startBalancer } from "./balancer";

/** The engine's default `forwardingTimeout`. */
const FORWARDING_TIMEOUT = 2000;

interface NodeProcess {
  name: string;
  port: number;
  child: ChildProcess;
}

async function startNodeProcess(
  name: string,
  key: string,
  seen: SeenEvent[],
): Promise<NodeProcess> {
  const child = fork(require.resolve("./node-process.ts"), {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, NODE_NAME: name, KEY: key },
  });
  child.on("message", (m: { seen?: SeenEvent }) => {
    if (Array.isArray(m?.seen)) seen.push(m.seen);
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${name} did not start`)), 60000);
    child.on("message", (m: { port?: number }) => {
      if (typeof m?.port !== "number") return;
      clearTimeout(timer);
      resolve(m.port);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${name} exited with ${code}`));
    });
  });
  return { name, port, child };
}

async function stopNodeProcess(node: NodeProcess): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  const exited = new Promise((resolve) => node.child.once("exit", resolve));
  node.child.kill("SIGTERM");
  await exited;
}

test("a node killed mid-session: its sessions end on their clients, which reconnect through the balancer", async (t) => {
  const key = uniqueKey("fwd-kill");
  const seen: SeenEvent[] = [];
  const nodes = await Promise.all(["a", "b", "c"].map((n) => startNodeProcess(n, key, seen)));
  const balancer = await startBalancer(nodes.map((n) => n.port));
  const clients: ClientSocket[] = [];
  try {
    const owners = new Map<ClientSocket, string>();
    const where = async (c: ClientSocket) =>
      (await c.timeout(10000).emitWithAck("where")) as string;
    // six sessions on at least two nodes. A client's handshake makes a fixed number of requests, so the
    // rotation may bring every handshake to one node: a lone handshake request moves it on.
    for (let i = 0; i < 6; i++) {
      if (i > 0 && new Set(owners.values()).size === 1)
        await fetch(`${balancer.url}/socket.io/?EIO=4&transport=polling`).then((r) => r.text());
      const c = ioc(balancer.url, {
        forceNew: true,
        transports: ["polling"],
        reconnectionDelay: 100,
        reconnectionDelayMax: 500,
        randomizationFactor: 0,
      });
      clients.push(c);
      await next(c, "connect");
      owners.set(c, await where(c));
    }
    assert.ok(new Set(owners.values()).size > 1, "sessions on at least two nodes");
    const victim = nodes.find((n) => [...owners.values()].includes(n.name))!;
    const orphans = clients.filter((c) => owners.get(c) === victim.name);
    const sids = new Map(clients.map((c) => [c, c.io.engine.id]));
    const socketIds = new Map(clients.map((c) => [c, c.id]));

    // mid-session: each orphan has a GET held (polling) and acks in flight when its owner dies
    const ended = orphans.map((c) => next<[string]>(c, "disconnect", 30000));
    const reconnected = orphans.map((c) => next(c.io, "reconnect", 60000));
    const inFlight = orphans.map((c) =>
      c
        .timeout(30000)
        .emitWithAck("echo", "lost?")
        .catch(() => "lost"),
    );
    const killedAt = Date.now();
    victim.child.kill("SIGKILL");

    // the orphans' sessions end: a disconnect each, bounded by the held GET's deadline (heartbeat + forwarding)
    const reasons = await Promise.all(ended);
    t.diagnostic(
      `${orphans.length} sessions of the killed node ended after ${Date.now() - killedAt} ms: ${reasons.join(", ")}`,
    );
    const bound = HEARTBEAT.pingInterval + HEARTBEAT.pingTimeout + FORWARDING_TIMEOUT + 10000;
    assert.ok(Date.now() - killedAt < bound, `ended after ${Date.now() - killedAt} ms`);
    for (const [reason] of reasons)
      assert.ok(["transport error", "transport close", "ping timeout"].includes(reason), reason);
    await Promise.all(inFlight);

    // they reconnect through the balancer, to the nodes left, and work there
    await Promise.all(reconnected);
    for (const c of clients) await until(() => c.connected, 60000);
    const kept = clients.filter((c) => !orphans.includes(c) && c.io.engine.id === sids.get(c));
    t.diagnostic(
      `${kept.length} of ${clients.length - orphans.length} sessions of the other nodes kept (a request of one ` +
        "relayed by the killed node when it died ends that session too)",
    );
    // a lost session of a node left ends there too (its heartbeat), with a disconnect
    for (const c of clients.filter((c) => !orphans.includes(c) && !kept.includes(c))) {
      const id = socketIds.get(c);
      await until(() => seen.some(([event, sid]) => event === "disconnect" && sid === id), bound);
    }
    for (const c of clients) {
      const owner = await where(c);
      assert.notEqual(owner, victim.name);
      for (let i = 0; i < 5; i++)
        assert.deepEqual(await c.timeout(10000).emitWithAck("echo", i), [i]);
    }
  } finally {
    for (const c of clients) c.disconnect();
    await balancer.close();
    await Promise.all(nodes.map(stopNodeProcess));
  }
});
