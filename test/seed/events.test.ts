/** Seed, section "Eventos": the connection event, and connect as its alias. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Socket } from "../../src";
import { next, start } from "../support/io";

test('io.on("connection") and its alias "connect"', async () => {
  const run = await start();
  const { io } = run;
  try {
    const seen: string[] = [];
    io.on("connection", (socket) => {
      assert.ok(socket instanceof Socket);
      seen.push(`connection ${socket.id}`);
    });
    io.on("connect", (socket) => {
      seen.push(`connect ${socket.id}`);
    });
    const client = run.client("/");
    await next(client, "connect");
    assert.deepEqual(seen, [`connect ${client.id}`, `connection ${client.id}`]);
  } finally {
    await run.close();
  }
});
