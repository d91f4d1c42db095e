/**
 * A TCP proxy in front of a server, for tests of connections that die without noticing: `blackHole()` makes the
 * connections open at that moment stop carrying bytes either way while their sockets stay open (as behind a
 * crashed NAT or a frozen peer), and connections opened afterwards work normally. `blackHole("subscribers")` does
 * that only to the connections that sent a (S|P)SUBSCRIBE (a Redis client's pub/sub connection).
 * `stallDownstream()` stops reading what the server sends (the connections' bytes pile up in the kernel, then in
 * the server, as behind a client that stopped reading) until `resumeDownstream()`. `cut()` closes the connections
 * open now (as a server restart would); `refuse(true)` closes every new connection at once until `refuse(false)`.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /**
   * The connections open now carry nothing more (both directions); returns how many there were.
   * "subscribers": only those that sent a SUBSCRIBE, SSUBSCRIBE or PSUBSCRIBE command.
   */
  blackHole(which?: "all" | "subscribers"): number;
  /** Stops reading from the server on every connection, open now or opened later, until `resumeDownstream()`. */
  stallDownstream(): void;
  resumeDownstream(): void;
  /** Closes the connections open now, both sides; returns how many there were. */
  cut(): number;
  /** While on, a new connection is closed as soon as it is accepted. */
  refuse(on: boolean): void;
  close(): Promise<void>;
}

/** Starts a proxy on a free port forwarding to 127.0.0.1:`targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket; open: boolean; subscriber: boolean }>();
  let stalled = false;
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, "127.0.0.1");
    if (stalled) upstream.pause();
    const pair = { client, upstream, open: true, subscriber: false };
    pairs.add(pair);
    client.on("data", (chunk: Buffer) => {
      // the command name as a RESP bulk string (node-redis sends it upper case, ioredis lower case)
      if (!pair.subscriber && /\r\n[SP]?SUBSCRIBE\r\n/i.test(chunk.toString("latin1")))
        pair.subscriber = true;
      if (pair.open) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => pair.open && client.write(chunk));
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    blackHole(which = "all") {
      let n = 0;
      for (const pair of pairs) {
        if (which === "subscribers" && !pair.subscriber) continue;
        if (pair.open) n++;
        pair.open = false;
      }
      return n;
    },
    stallDownstream() {
      stalled = true;
      for (const { upstream } of pairs) upstream.pause();
    },
    resumeDownstream() {
      stalled = false;
      for (const { upstream } of pairs) upstream.resume();
    },
    cut() {
      const n = pairs.size;
      for (const { client, upstream } of [...pairs]) {
        client.destroy();
        upstream.destroy();
      }
      return n;
    },
    refuse(on) {
      refusing = on;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const { client, upstream } of pairs) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
