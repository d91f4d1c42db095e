/**
 * Seed, section "serverSideEmit": events between the Socket.IO servers of a cluster, with acknowledgements.
 * Two servers joined through the Redis adapter (REDIS_URL), as in a multi-node setup; then a single node.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { createClient } from "redis";
import { createAdapter } from "../../src/adapters/redis";
import { next, type Running, start } from "../support/io";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

describe("seed: serverSideEmit across two servers", () => {
  const redisClients: Array<ReturnType<typeof createClient>> = [];
  let serverA: Running;
  let serverB: Running;

  before(async () => {
    const key = `seed-${randomBytes(4).toString("hex")}`;
    const node = async () => {
      const pubClient = createClient({ url: REDIS_URL });
      const subClient = pubClient.duplicate();
      redisClients.push(pubClient, subClient);
      await Promise.all([pubClient.connect(), subClient.connect()]);
      return start({
        adapter: createAdapter(pubClient, subClient, { key, requestsTimeout: 1000 }),
      });
    };
    serverA = await node();
    serverB = await node();
    // Both nodes must be subscribed before the first event: each counts two subscribers to its request channel.
    const deadline = Date.now() + 15000;
    for (const server of [serverA, serverB]) {
      while ((await server.io.of("/").adapter.serverCount()) !== 2) {
        if (Date.now() > deadline) throw new Error("the two nodes did not see each other");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  });

  after(async () => {
    await serverA.close();
    await serverB.close();
    await Promise.all(redisClients.map((client) => client.quit()));
  });

  test('io.serverSideEmit("hello", "world") is heard by io.on("hello") on the other server', async () => {
    const ioA = serverA.io;
    const ioB = serverB.io;
    const heard = new Promise<unknown>((resolve) => {
      ioB.on("hello", (arg1: unknown) => {
        resolve(arg1); // prints "world"
      });
    });
    ioA.serverSideEmit("hello", "world");
    assert.equal(await heard, "world");
  });

  test("any number of arguments, as JSON", async () => {
    const heard = next(serverB.io, "hello-many");
    serverA.io.serverSideEmit("hello-many", "world", 1, "2", { 3: "4" });
    assert.deepEqual(await heard, ["world", 1, "2", { 3: "4" }]);
    assert.throws(() => serverA.io.serverSideEmit("hello-many", Buffer.from([1])), /binary/);
  });

  test("acknowledgements: the responses of the other servers", async () => {
    // server B
    serverB.io.on("ping", (cb: (answer: string) => void) => {
      cb("pong");
    });
    // server A
    const responses = await new Promise<unknown[]>((resolve, reject) => {
      serverA.io.serverSideEmit("ping", (err: Error | null, responses: unknown[]) => {
        if (err) reject(err);
        else resolve(responses);
      });
    });
    assert.equal(responses[0], "pong"); // prints "pong"
    assert.deepEqual(responses, ["pong"]);
  });

  test("an error when a server does not answer in time, with the responses received so far", async () => {
    serverB.io.on("slow-ping", () => {
      // never answers
    });
    const started = Date.now();
    const [err, responses] = await new Promise<[Error | null, unknown[]]>((resolve) => {
      serverA.io.serverSideEmit("slow-ping", (err: Error | null, responses: unknown[]) => {
        resolve([err, responses]);
      });
    });
    assert.ok(err instanceof Error, "at least one Socket.IO server has not responded");
    assert.deepEqual(responses, []);
    assert.ok(Date.now() - started >= 900);
  });

  test("reserved names throw", () => {
    for (const name of ["connection", "connect", "new_namespace"]) {
      assert.throws(() => serverA.io.serverSideEmit(name), {
        message: `"${name}" is a reserved event name`,
      });
    }
  });
});

test("serverSideEmit on a single server: the ack gets (null, []) at once", async () => {
  const run = await start();
  try {
    const result = await new Promise<unknown[]>((resolve) =>
      run.io.serverSideEmit("ping", (...args: unknown[]) => resolve(args)),
    );
    assert.deepEqual(result, [null, []]);
    assert.deepEqual(await run.io.serverSideEmitWithAck("ping"), []);
  } finally {
    await run.close();
  }
});
