// Differential: connection state recovery (in-memory adapter) as the official client sees it on both servers.
// Offsets have each server's own format, so the recordings keep their presence, not their value.
import { describe, test } from "node:test";
import type { Socket } from "../../src";
import { drop, pidOf, reconnect } from "../recovery/support";
import { next, same, type Side } from "./harness";

/** An event's arguments with a trailing offset (a string after the payload) shown as "<offset>". */
function shape(args: unknown[], payloadLength: number): unknown[] {
  return args.map((arg, i) => (i >= payloadLength && typeof arg === "string" ? "<offset>" : arg));
}

/** The socket's rooms, its own room named "self" (ids sort differently on each run). */
function roomsOf(socket: Socket): unknown[] {
  return [...socket.rooms].map((room) => (room === socket.id ? "self" : room)).sort();
}

async function recoverScenario(s: Side, transports: string[]): Promise<void> {
  let middlewareCalls = 0;
  s.io.use((socket, nextFn) => {
    middlewareCalls++;
    s.rec("middleware", socket.recovered);
    nextFn();
  });
  const sockets: Socket[] = [];
  s.io.on("connection", (socket) => {
    sockets.push(socket);
    s.rec("server", "connection", socket.id, socket.recovered, roomsOf(socket));
    if (!socket.recovered) {
      void socket.join("a");
      socket.data = { n: 1 };
    }
    socket.emit(socket.recovered ? "after" : "welcome", "x");
  });
  const client = s.client("/", { transports });
  client.onAny((...args: unknown[]) => s.rec("client", shape(args, 2)));
  await next(client, "welcome");
  s.rec("pid", typeof pidOf(client), pidOf(client) === sockets[0]!.pid);
  await drop(client, s.io.sockets);
  s.io.emit("all", 1);
  s.io.to("a").emit("room-a", 2);
  s.io.to("b").emit("room-b", 3);
  s.io.except("a").emit("except-a", 4);
  s.io.volatile.emit("volatile", 5);
  sockets[0]!.emit("direct", 6);
  const after = next(client, "after");
  await reconnect(client);
  await after;
  const second = sockets[1]!;
  s.rec(
    "recovered",
    client.recovered,
    second.recovered,
    second.id === sockets[0]!.id,
    client.id === second.id,
    second.data,
    roomsOf(second),
    middlewareCalls,
  );
}

describe("connection state recovery, side by side", () => {
  for (const transports of [["polling"], ["websocket"]]) {
    test(`recovered session over ${transports[0]}: id, rooms, data, missed events before new ones`, async () => {
      await same({ connectionStateRecovery: {} }, (s) => recoverScenario(s, transports));
    });
  }

  test("a client namespace disconnect keeps no session; skipMiddlewares: false runs the middlewares", async () => {
    await same({ connectionStateRecovery: { skipMiddlewares: false } }, async (s) => {
      s.io.use((socket, nextFn) => {
        s.rec("middleware", socket.recovered);
        nextFn();
      });
      s.io.on("connection", (socket) => {
        s.rec("server", socket.recovered);
        socket.emit("hi");
      });
      const client = s.client();
      await next(client, "hi");
      client.disconnect();
      let hi = next(client, "hi");
      await reconnect(client);
      await hi;
      s.rec("client", "after leaving", client.recovered);
      await drop(client, s.io.sockets);
      hi = next(client, "hi");
      await reconnect(client);
      await hi;
      s.rec("client", "after losing the connection", client.recovered);
    });
  });

  test("an unknown session gives a fresh socket", async () => {
    await same({ connectionStateRecovery: {} }, async (s) => {
      s.io.on("connection", (socket) => s.rec("server", socket.recovered));
      const client = s.client("/", { auth: { pid: "unknown-pid-0123456", offset: "0" } });
      await next(client, "connect");
      s.rec("client", client.recovered);
    });
  });

  test("off: no pid, no offsets", async () => {
    await same({}, async (s) => {
      s.io.on("connection", (socket) => {
        s.rec("server", socket.recovered, (socket as { pid?: string }).pid === undefined);
        socket.emit("direct", 1);
      });
      const client = s.client();
      client.onAny((...args: unknown[]) => s.rec("client", args));
      await next(client, "direct");
      s.rec("pid", typeof pidOf(client));
    });
  });
});
