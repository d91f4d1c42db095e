/**
 * The ecosystem: the official admin UI (`@socket.io/admin-ui` `instrument(io)`) runs on Switchyard unchanged.
 * It reaches into io._nsps, new_namespace, engine and socket events, onAny/onAnyOutgoing, the adapter's room
 * events and the utility methods; its dashboard talks to the server over the "/admin" namespace.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { instrument } from "@socket.io/admin-ui";
import type { Socket } from "../../src";
import { next, start, until } from "../support/io";

test("instrument(io): the dashboard sees sockets, rooms and events, and its actions work", async () => {
  const run = await start({ cors: { origin: "*" } });
  try {
    instrument(run.io as unknown as Parameters<typeof instrument>[0], {
      auth: false,
      mode: "development",
    });
    run.io.on("connection", (socket: Socket) => {
      void socket.join("room1");
      socket.on("hi", (n: number) => socket.emit("back", n));
    });

    const dashboard = run.client("/admin");
    const seen = new Map<string, unknown[][]>();
    dashboard.onAny((event: string, ...args: unknown[]) => {
      if (!seen.has(event)) seen.set(event, []);
      seen.get(event)!.push(args);
    });
    await next(dashboard, "connect");

    const client = run.client("/");
    await next(client, "connect");
    client.emit("hi", 1);
    await next(client, "back");

    await until(
      () =>
        ["socket_connected", "room_joined", "event_received", "event_sent"].every((e) =>
          seen.has(e),
        ),
      10000,
    );
    const [connected] = seen
      .get("socket_connected")!
      .find(([socket]) => (socket as { id: string }).id === client.id)!;
    // admin-ui's connection listener runs first (prependListener), before the application joins "room1"
    assert.deepEqual((connected as { rooms: string[] }).rooms, [client.id]);
    await until(() =>
      seen.get("room_joined")!.some((args) => args.includes("room1") && args.includes(client.id)),
    );
    // each carries [namespace, socket id, [event, ...args], timestamp]
    const events = (name: string) =>
      seen.get(name)!.map((args) => JSON.stringify(args.slice(0, 3)));
    assert.ok(events("event_received").includes(JSON.stringify(["/", client.id, ["hi", 1]])));
    assert.ok(events("event_sent").includes(JSON.stringify(["/", client.id, ["back", 1]])));

    // The dashboard's actions use the utility methods.
    const socket = run.io.of("/").sockets.get(client.id!)!;
    dashboard.emit("leave", "/", "room1", client.id);
    await until(() => !socket.rooms.has("room1"));
    dashboard.emit("join", "/", "room2", client.id);
    await until(() => socket.rooms.has("room2"));
    const gone = next<[string]>(client, "disconnect");
    dashboard.emit("_disconnect", "/", false, client.id);
    assert.equal((await gone)[0], "io server disconnect");
  } finally {
    await run.close();
  }
});
