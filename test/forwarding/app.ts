/** The application of every forwarding test node (in-process, a cluster worker or a child process). */
import type { Server } from "../../src";

/** A server-side event the test checks: `["disconnect", socketId, reason]`. */
export type SeenEvent = [string, ...unknown[]];

/** Short heartbeats, so that a test sees several pings go through the route. */
export const HEARTBEAT = { pingInterval: 2000, pingTimeout: 3000 } as const;

/** Registers the test application on `io`; `name` is the node's name, `seen` gets server-side events. */
export function installApp(io: Server, name: string, seen: (event: SeenEvent) => void): void {
  io.on("connection", (socket) => {
    const received: number[] = [];
    socket.on("echo", (...args: unknown[]) => {
      const ack = args.pop() as (a: unknown[]) => void;
      ack(args);
    });
    socket.on("where", (ack: (node: string) => void) => ack(name));
    socket.on("join", (room: string, ack: () => void) => {
      void socket.join(room);
      ack();
    });
    socket.on("shout", (room: string, text: string) => io.to(room).emit("heard", text));
    socket.on("ask", async (value: number, ack: (answer: unknown) => void) => {
      ack(await socket.timeout(10000).emitWithAck("question", value));
    });
    socket.on("seq", (i: number) => {
      received.push(i);
      if (received.length === 50) socket.emit("seqs", received);
    });
    socket.on("count", () => {
      for (let i = 0; i < 50; i++) socket.emit("n", i);
    });
    socket.on("kickme", () => socket.disconnect());
    socket.on("disconnect", (reason) => seen(["disconnect", socket.id, reason]));
  });
}
