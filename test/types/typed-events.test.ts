/**
 * The four generics of Server type-check event names and arguments. This file is compiled by `npm run typecheck`:
 * each `@ts-expect-error` line must be a type error, or the compilation fails.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Server } from "../../src";

interface ClientToServerEvents {
  hello: (name: string) => void;
  add: (a: number, b: number, ack: (sum: number) => void) => void;
}
interface ServerToClientEvents {
  greeting: (text: string) => void;
  ask: (question: string, ack: (answer: string) => void) => void;
}
interface InterServerEvents {
  ping: (n: number) => void;
}
interface SocketData {
  name: string;
  age: number;
}

test("typed events compile as declared", () => {
  const io = new Server<
    ClientToServerEvents,
    ServerToClientEvents,
    InterServerEvents,
    SocketData
  >();
  io.on("connection", (socket) => {
    socket.on("hello", (name) => {
      const upper: string = name.toUpperCase();
      socket.emit("greeting", upper);
    });
    socket.on("add", (a, b, ack) => ack(a + b));
    // @ts-expect-error: hello takes a string
    socket.on("hello", (name: number) => name);
    // @ts-expect-error: greeting takes a string
    socket.emit("greeting", 42);
    // @ts-expect-error: unknown event
    socket.emit("unknown-event", "x");
    socket.data.name = "ana";
    // @ts-expect-error: age is a number
    socket.data.age = "old";
    socket.timeout(100).emit("ask", "why?", (err, answer) => {
      const e: Error = err;
      const a: string = answer;
      void e;
      void a;
    });
  });
  io.emit("greeting", "all");
  // @ts-expect-error: greeting takes a string
  io.to("room").emit("greeting", 1);
  io.serverSideEmit("ping", 1);
  // @ts-expect-error: ping takes a number
  io.serverSideEmit("ping", "one");
  io.on("ping", (n) => {
    const value: number = n;
    void value;
  });
  assert.ok(io);
});
