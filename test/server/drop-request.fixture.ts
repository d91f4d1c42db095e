/**
 * Run by drop-request.test.ts in a child process started with --expose-gc: a server whose application drops (or
 * keeps) the engine's request on connection, one official client, and whether the request became unreachable.
 * Prints one JSON line with what it observed.
 */
import type { IncomingMessage } from "node:http";
import type { Socket as EngineSocket } from "../../src/engine";
import { next, start } from "../support/io";

const transport = process.argv[2] === "polling" ? "polling" : "websocket";
const drop = process.argv[3] === "drop";
const maybeGc = (globalThis as { gc?: () => void }).gc;
if (maybeGc === undefined) throw new Error("run with --expose-gc");
const gc: () => void = maybeGc;

async function main(): Promise<void> {
  const running = await start();
  let requestRef: WeakRef<IncomingMessage> | undefined;
  running.io.engine.on("connection", (raw: EngineSocket) => {
    requestRef = new WeakRef(raw.request);
    if (drop) (raw as { request: IncomingMessage | null }).request = null;
  });
  running.io.on("connection", (socket) => {
    socket.on("echo", (value: unknown, ack: (answer: unknown) => void) => ack(value));
  });

  const client = running.client("/", {
    transports: [transport],
    query: { probe: "q1" },
    extraHeaders: { "x-probe": "h1" },
  });
  const [serverSocket] = await next<[import("../../src").Socket]>(running.io, "connection");
  const echoed: unknown = await client.timeout(10000).emitWithAck("echo", "e1");
  const handshake = serverSocket.handshake;

  // Collect until the request is gone (or 5 s pass: a request that stays reachable stays so however often GC runs).
  const deadline = Date.now() + 5000;
  let rounds = 0;
  while (requestRef?.deref() !== undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc();
    rounds++;
  }
  const collected = requestRef !== undefined && requestRef.deref() === undefined;
  // The connection still works after the collection.
  const echoedAfter: unknown = await client.timeout(10000).emitWithAck("echo", "e2");

  process.stdout.write(
    JSON.stringify({
      collected,
      rounds,
      requestIsNull: serverSocket.request === null,
      echoed,
      echoedAfter,
      handshake: {
        probeHeader: handshake.headers["x-probe"],
        query: handshake.query.probe,
        url: handshake.url,
        address: handshake.address,
        secure: handshake.secure,
        xdomain: handshake.xdomain,
      },
    }) + "\n",
  );
  await running.close();
}

void main();
