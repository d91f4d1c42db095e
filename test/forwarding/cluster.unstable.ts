// Out of `npm test` for now (not *.test.ts): the file does not finish on its own (a handle left open after
// its workers exit); run it with `node --import tsx --test test/forwarding/cluster.unstable.ts` while fixing it.
/**
 * Forwarding over node:cluster IPC: this test process is the primary (Switchyard's setupPrimary relays), three
 * workers share one port, and node:cluster hands each new TCP connection to the next worker (round-robin). The
 * clients open a new connection per request (no keep-alive agent), so a session's requests reach any worker.
 */
import assert from "node:assert/strict";
import cluster, { type Worker } from "node:cluster";
import { Agent } from "node:http";
import { test } from "node:test";
import { io as ioc, type Socket as ClientSocket } from "socket.io-client";
import { setupPrimary } from "../../src/adapters/cluster";
import { next } from "../support/io";

setupPrimary();
cluster.setupPrimary({
  exec: require.resolve("./cluster-worker.ts"),
  execArgv: ["--import", "tsx"],
  serialization: "advanced",
});

async function withWorkers(forwarding: boolean, body: (url: string) => Promise<void>) {
  const workers: Worker[] = [];
  const ports = await Promise.all(
    [0, 1, 2].map(() => {
      const worker = cluster.fork({ FORWARDING: forwarding ? "1" : "0" });
      workers.push(worker);
      return new Promise<number>((resolve, reject) => {
        worker.on("message", (m: { listening?: number }) => {
          if (typeof m?.listening === "number") resolve(m.listening);
        });
        worker.once("exit", () => reject(new Error("worker exited")));
      });
    }),
  );
  assert.equal(new Set(ports).size, 1);
  try {
    await body(`http://127.0.0.1:${ports[0]}`);
  } finally {
    await Promise.all(
      workers.map((w) => {
        const exited = new Promise((resolve) => w.once("exit", resolve));
        w.kill();
        return exited;
      }),
    );
  }
}

function polling(url: string, clients: ClientSocket[]): ClientSocket {
  const socket = ioc(url, {
    forceNew: true,
    reconnection: false,
    transports: ["polling"],
    agent: new Agent({ keepAlive: false }) as unknown as string,
  });
  clients.push(socket);
  return socket;
}

test("node:cluster workers on one port, no sticky sessions: polling works with forwarding", async () => {
  await withWorkers(true, async (url) => {
    const clients: ClientSocket[] = [];
    try {
      const [c1, c2] = [polling(url, clients), polling(url, clients)] as [
        ClientSocket,
        ClientSocket,
      ];
      await Promise.all([next(c1, "connect"), next(c2, "connect")]);
      for (let i = 0; i < 10; i++) assert.equal(await c1.timeout(10000).emitWithAck("echo", i), i);
      const [bytes] = [
        (await c2.timeout(10000).emitWithAck("echo", Buffer.from([7, 8]))) as Buffer,
      ];
      assert.deepEqual([...bytes], [7, 8]);
      await c1.timeout(10000).emitWithAck("join", "r");
      await c2.timeout(10000).emitWithAck("join", "r");
      const heard = Promise.all([next<[string]>(c1, "heard"), next<[string]>(c2, "heard")]);
      c2.emit("shout", "r", "hi");
      assert.deepEqual(await heard, [["hi"], ["hi"]]);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });
});

test("the same workers without forwarding fail (requests do reach other workers)", async () => {
  await withWorkers(false, async (url) => {
    const clients: ClientSocket[] = [];
    try {
      const c1 = polling(url, clients);
      const failed = await Promise.race([
        next(c1, "connect_error", 20000).then(() => true),
        next(c1, "connect", 20000).then(async () => {
          try {
            for (let i = 0; i < 10; i++) await c1.timeout(3000).emitWithAck("echo", i);
            return false;
          } catch {
            return true;
          }
        }),
      ]);
      assert.equal(failed, true);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });
});
