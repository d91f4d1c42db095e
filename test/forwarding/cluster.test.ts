/**
 * Forwarding over node:cluster IPC: this test process is the primary (Switchyard's setupPrimary relays), three
 * workers share one port, and node:cluster hands each new TCP connection to the next worker (round-robin). The
 * clients open a new connection per request (no keep-alive agent), so a session's requests reach any worker.
 *
 * The teardown is ordered so that the primary is left with nothing open: the clients disconnect and every
 * connection they opened ends (their last request, the close packet, answered), then each worker closes its
 * server and its IPC channel and exits by itself. A connection that reaches the port while the workers stop is
 * the leak that kept this file from ending: node:cluster's primary accepts it, offers it to a stopping worker,
 * gets it back and queues it again with no worker left to take it, and the open handle keeps the primary alive.
 * setupPrimary holds nothing open (listeners on the cluster object only).
 */
import assert from "node:assert/strict";
import cluster, { type Worker } from "node:cluster";
import { after, test } from "node:test";
import {
  io as ioc,
  type ManagerOptions,
  type Socket as ClientSocket,
  type SocketOptions,
} from "socket.io-client";
import { setupPrimary } from "../../src/adapters/cluster";
import { OneConnectionPerRequest } from "../support/http";
import { next, until } from "../support/io";
import type { SeenEvent } from "./app";
import { everyFeatureOverPolling, failsWithoutForwarding } from "./scenarios";

setupPrimary();
cluster.setupPrimary({
  exec: require.resolve("./cluster-worker.ts"),
  execArgv: ["--import", "tsx"],
  serialization: "advanced",
});

/** Stops `worker` gracefully (it closes its server and IPC channel); SIGKILL if it has not exited in time. */
async function stopWorker(worker: Worker): Promise<void> {
  if (worker.process.exitCode !== null || worker.process.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.once("exit", resolve));
  if (worker.isConnected()) worker.send({ stop: true });
  const timer = setTimeout(() => worker.process.kill("SIGKILL"), 15000);
  await exited;
  clearTimeout(timer);
}

/** WebSocket upgrades the workers relayed to another worker, since the start. */
let relayedUpgrades = 0;

async function withWorkers(
  forwarding: boolean,
  body: (
    client: (opts?: Partial<ManagerOptions & SocketOptions>) => ClientSocket,
    seen: SeenEvent[],
  ) => Promise<void>,
): Promise<void> {
  const workers: Worker[] = [];
  const seen: SeenEvent[] = [];
  const clients: ClientSocket[] = [];
  const agents: OneConnectionPerRequest[] = [];
  try {
    const ports = await Promise.all(
      [0, 1, 2].map(() => {
        const worker = cluster.fork({ FORWARDING: forwarding ? "1" : "0" });
        workers.push(worker);
        worker.on("message", (m: { seen?: SeenEvent; relayedUpgrade?: boolean }) => {
          if (Array.isArray(m?.seen)) seen.push(m.seen);
          if (m?.relayedUpgrade === true) relayedUpgrades++;
        });
        return new Promise<number>((resolve, reject) => {
          worker.on("message", (m: { listening?: number }) => {
            if (typeof m?.listening === "number") resolve(m.listening);
          });
          worker.once("exit", () => reject(new Error("worker exited")));
        });
      }),
    );
    assert.equal(new Set(ports).size, 1, "the workers share one port");
    const url = `http://127.0.0.1:${ports[0]}`;
    await body((opts = { transports: ["polling"] }) => {
      const agent = new OneConnectionPerRequest();
      agents.push(agent);
      const socket = ioc(url, {
        forceNew: true,
        reconnection: false,
        agent: agent as unknown as string,
        ...opts,
      });
      clients.push(socket);
      return socket;
    }, seen);
  } finally {
    for (const c of clients) c.disconnect();
    await until(() => agents.every((a) => a.open.size === 0)).catch(() => {
      for (const a of agents) a.destroy();
    });
    await Promise.all(workers.map(stopWorker));
  }
}

test("node:cluster workers on one port, no sticky sessions: every feature works over polling with forwarding", () =>
  withWorkers(true, everyFeatureOverPolling));

test("clients that upgrade: the WebSocket completes on whichever worker it reaches (relayed to the owner)", () =>
  withWorkers(true, async (client) => {
    const relayedBefore = relayedUpgrades;
    const sockets: ClientSocket[] = [];
    while (sockets.length < 4 || relayedUpgrades === relayedBefore) {
      assert.ok(sockets.length < 30, "thirty upgrades, all on their owner");
      const batch = [0, 1].map(() => client({ transports: ["polling", "websocket"] }));
      sockets.push(...batch);
      await Promise.all(batch.map((s) => next(s, "connect")));
      await until(() => batch.every((s) => s.io.engine.transport.name === "websocket"), 30000);
    }
    for (const s of sockets) {
      for (let i = 0; i < 3; i++)
        assert.deepEqual(await s.timeout(10000).emitWithAck("echo", i), [i]);
      const [bytes] = (await s.timeout(10000).emitWithAck("echo", Buffer.from([5]))) as [Buffer];
      assert.deepEqual([...bytes], [5]);
    }
    for (const s of sockets) await s.timeout(10000).emitWithAck("join", "ws");
    const heard = Promise.all(sockets.map((s) => next<[string]>(s, "heard")));
    sockets[0]!.emit("shout", "ws", "hi");
    assert.deepEqual(
      await heard,
      sockets.map(() => ["hi"]),
    );
  }));

test("the same workers without forwarding fail (requests do reach other workers)", () =>
  withWorkers(false, (client) => failsWithoutForwarding(client)));

after(() => {
  // what the workers' exits must leave in the primary: no socket and no server of theirs
  const open = process.getActiveResourcesInfo().filter((name) => name.startsWith("TCP"));
  assert.deepEqual(open, [], "nothing of the workers' port left open in the primary");
});
