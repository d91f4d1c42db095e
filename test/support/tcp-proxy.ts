/**
 * A TCP proxy in front of a server, for tests of connections that die without noticing: `blackHole()` makes the
 * connections open at that moment stop carrying bytes either way while their sockets stay open (as behind a
 * crashed NAT or a frozen peer), and connections opened afterwards work normally. `stallDownstream()` stops
 * reading what the server sends (the connections' bytes pile up in the kernel, then in the server, as behind a
 * client that stopped reading) until `resumeDownstream()`.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** The connections open now carry nothing more (both directions); returns how many there were. */
  blackHole(): number;
  /** Stops reading from the server on every connection, open now or opened later, until `resumeDownstream()`. */
  stallDownstream(): void;
  resumeDownstream(): void;
  close(): Promise<void>;
}

/** Starts a proxy on a free port forwarding to 127.0.0.1:`targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket; open: boolean }>();
  let stalled = false;
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    if (stalled) upstream.pause();
    const pair = { client, upstream, open: true };
    pairs.add(pair);
    client.on("data", (chunk) => pair.open && upstream.write(chunk));
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
    blackHole() {
      let n = 0;
      for (const pair of pairs) {
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
