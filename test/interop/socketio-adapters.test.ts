// Differential: the official in-memory Adapter classes of socket.io-adapter 2.2 (broadcasts through
// `socket.packet(encoded, {preEncoded: true})`) and 2.5 (through `socket.client.writeToEngine`, acks through
// `nsp._ids` and `socket.acks`) as the `adapter` option, on Switchyard and on socket.io 4.8. Where socket.io
// itself fails with the 2.2 class (no broadcastWithAck, no serverSideEmit), Switchyard fails the same way.
import { describe, test } from "node:test";
import { Adapter as Adapter22 } from "sioa22";
import { Adapter as Adapter25 } from "socket.io-adapter";
import type { ServerOptions, Socket as ServerSocket } from "../../src";
import { errInfo, next, same, type Side } from "./harness";

async function scenario(s: Side): Promise<void> {
  const connection = next<[ServerSocket]>(s.io, "connection");
  const a = s.client("/", { transports: ["websocket"] });
  const [[serverA]] = await Promise.all([connection, next(a, "connect")]);
  const b = s.client("/", { transports: ["polling"] });
  await next(b, "connect");
  await serverA.join("r");
  let outgoing = 0;
  serverA.onAnyOutgoing(() => outgoing++);

  const binary = next<[string, Buffer]>(a, "bin");
  s.io.to("r").emit("bin", "x", Buffer.from([7, 8]));
  const [text, bytes] = await binary;
  s.rec("room binary", text, [...bytes]);
  s.rec("outgoing listeners heard the broadcast", outgoing);

  const all = [next(a, "all"), next(b, "all")];
  s.io.emit("all", { n: 1 });
  s.rec("all", await Promise.all(all));

  // an ack of one socket does not go through the adapter
  a.on("ask", (cb: (v: string) => void) => cb("a-ack"));
  b.on("ask", (cb: (v: string) => void) => cb("b-ack"));
  s.rec("socket ack", await serverA.timeout(5000).emitWithAck("ask"));

  // a broadcast with acks: broadcastWithAck
  const acked = await new Promise<unknown[]>((resolve) => {
    try {
      s.io
        .to("r")
        .timeout(500)
        .emit("ask", (err: Error | null, responses: unknown[]) =>
          resolve(["callback", errInfo(err ?? undefined), responses]),
        );
    } catch (err) {
      s.rec("broadcast ack threw", errInfo(err));
    }
  });
  s.rec("broadcast ack", acked);

  const sockets = await s.io.fetchSockets();
  s.rec("fetchSockets", sockets.map((socket) => [...socket.rooms].filter((r) => r === "r")).sort());
  s.io.in("r").socketsJoin("j");
  s.rec("socketsJoin", [...(await s.io.in("j").allSockets())].length);
  s.io.socketsLeave("r");
  s.rec("socketsLeave", [...(await s.io.in("r").allSockets())].length);
  s.rec("allSockets", (await s.io.allSockets()).size);

  try {
    s.io.serverSideEmit("ping");
    s.rec("serverSideEmit", "no throw");
  } catch (err) {
    s.rec("serverSideEmit", errInfo(err));
  }

  const gone = [next<[string]>(a, "disconnect"), next<[string]>(b, "disconnect")];
  s.io.disconnectSockets();
  s.rec("disconnect", await Promise.all(gone));
}

describe("interop: socket.io-adapter classes as the adapter option", () => {
  test("socket.io-adapter 2.2's Adapter (socket.packet with preEncoded)", async () => {
    await same({ adapter: Adapter22 } as unknown as Partial<ServerOptions>, scenario);
  });

  test("socket.io-adapter 2.5's Adapter (writeToEngine, nsp._ids, socket.acks)", async () => {
    const warn = console.warn;
    // 2.5's serverSideEmit only warns that the in-memory adapter cannot do it, on both servers
    console.warn = () => {};
    try {
      await same({ adapter: Adapter25 } as unknown as Partial<ServerOptions>, scenario);
    } finally {
      console.warn = warn;
    }
  });
});
