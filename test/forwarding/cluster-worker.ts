/**
 * A node:cluster worker for cluster.test.ts: the cluster adapter, forwarding over IPC when FORWARDING=1, the
 * forwarding tests' application. To the primary: `{listening: port}`, then `{seen: event}` per server-side
 * event and `{relayedUpgrade: true}` per WebSocket upgrade it relays to another worker. From the primary: `{stop: true}` closes the server and the IPC channel, so the worker exits by itself.
 */
import cluster from "node:cluster";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, clusterForwarding } from "../../src";
import { createAdapter } from "../../src/adapters/cluster";
import { Kind } from "../../src/forwarding/wire";
import { HEARTBEAT, installApp } from "./app";

const route = process.env.FORWARDING === "1" ? clusterForwarding() : undefined;
if (route !== undefined) {
  // tells the primary of each WebSocket upgrade relayed to another worker (WS_OPEN on the route, wire.ts)
  const send = route.send.bind(route);
  route.send = (to, message) => {
    if (message[0] === Kind.WS_OPEN) process.send?.({ relayedUpgrade: true });
    send(to, message);
  };
}
const httpServer = createServer();
const io = new Server(httpServer, { adapter: createAdapter(), forwarding: route, ...HEARTBEAT });
installApp(io, `worker ${cluster.worker?.id}`, (event) => process.send?.({ seen: event }));
process.on("message", (message: { stop?: boolean }) => {
  if (message?.stop !== true) return;
  httpServer.closeAllConnections();
  void io.close().then(() => cluster.worker?.disconnect());
});
httpServer.listen(0, "127.0.0.1", () => {
  process.send?.({ listening: (httpServer.address() as AddressInfo).port });
});
