/** A node:cluster worker for cluster.test.ts: the cluster adapter, forwarding over IPC when FORWARDING=1. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, clusterForwarding } from "../../src";
import { createAdapter } from "../../src/adapters/cluster";

const httpServer = createServer();
const io = new Server(httpServer, {
  adapter: createAdapter(),
  forwarding: process.env.FORWARDING === "1" ? clusterForwarding() : undefined,
});
io.on("connection", (socket) => {
  socket.on("echo", (value: unknown, ack: (v: unknown) => void) => ack(value));
  socket.on("join", (room: string, ack: () => void) => {
    void socket.join(room);
    ack();
  });
  socket.on("shout", (room: string, text: string) => io.to(room).emit("heard", text));
});
httpServer.listen(0, "127.0.0.1", () => {
  process.send?.({ listening: (httpServer.address() as AddressInfo).port });
});
