/** Network helpers for tests that start servers of their own (Redis, PostgreSQL, balancers) on a free port. */
import { createServer, type AddressInfo } from "node:net";

/** A TCP port free on 127.0.0.1 right now (for a server that cannot listen on port 0 itself). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
