/**
 * A burst of messages over the Postgres adapter: the messages a node publishes while earlier ones are on their way
 * go together in one statement (several `pg_notify` calls), and must still all arrive, in the order sent: equal
 * notifications in one transaction would be merged by Postgres (so a batch stops before a repeat), and a message
 * through the attachment table (binary) goes alone, between the batches before and after it.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Pool } from "pg";
import type { AdapterConstructor } from "../../src";
import { createAdapter } from "../../src/adapters/postgres";
import { next, start, until, type Running } from "../support/io";
import { PG_CONFIG, attachmentTable } from "../support/postgres";

const { prefix, table } = attachmentTable("order");
const pools: Pool[] = [];
const nodes: Running[] = [];

before(async () => {
  for (let i = 0; i < 2; i++) {
    const pool = new Pool({ ...PG_CONFIG, application_name: "sy-test-order" });
    pools.push(pool);
    const adapter = createAdapter(pool, { channelPrefix: prefix, tableName: table });
    nodes.push(await start({ adapter: adapter as unknown as AdapterConstructor }));
  }
});
after(async () => {
  await Promise.all(nodes.map((node) => node.close()));
  await Promise.allSettled(pools.map((pool) => pool.end()));
});

test("a burst of broadcasts, repeats and binary among them, arrives whole and in order", async () => {
  const deadline = Date.now() + 15000;
  // node 0 counts node 1 once node 1 listens (it announces itself only then)
  while ((await nodes[0]!.io.of("/").adapter.serverCount()) !== 2) {
    assert.ok(Date.now() < deadline, "the nodes did not find each other");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const client = nodes[1]!.client("/", { transports: ["websocket"] });
  await next(client, "connect");
  const got: unknown[] = [];
  // binary arrives as a Buffer (an ArrayBuffer in a browser)
  const shown = (value: unknown) =>
    value instanceof Uint8Array || value instanceof ArrayBuffer
      ? `bytes:${[...new Uint8Array(value)].join(",")}`
      : value;
  client.on("seq", (value: unknown) => got.push(shown(value)));

  const sent: unknown[] = [];
  const io0 = nodes[0]!.io;
  for (let i = 0; i < 600; i++) {
    // runs of equal messages, binary now and then, distinct ones between
    const value = i % 100 === 50 ? Buffer.from([i % 256, 7]) : i % 5 < 3 ? "same" : i;
    io0.emit("seq", value);
    sent.push(shown(value));
  }
  await until(() => got.length >= sent.length, 30000);
  assert.deepEqual(got, sent);
  client.disconnect();
});
