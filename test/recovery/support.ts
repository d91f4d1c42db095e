/** Helpers for the connection state recovery tests: dropping a client's connection and bringing it back. */
import type { Socket as ClientSocket } from "socket.io-client";
import { next, until } from "../support/io";

/**
 * The client's connection is lost (the client says "forced close", the server sees "transport close"); resolves
 * once the server's namespace `nsp` let the socket go. The client does not reconnect by itself.
 */
export async function drop(
  client: ClientSocket,
  nsp: { sockets: ReadonlyMap<string, unknown> },
): Promise<void> {
  const id = client.id!;
  const disconnected = next<[string]>(client, "disconnect");
  client.io.engine.close();
  const [reason] = await disconnected;
  if (reason !== "forced close") throw new Error(`unexpected disconnect reason ${reason}`);
  await until(() => !nsp.sockets.has(id));
}

/** The same client object connects again (sending its pid and last offset when it has them). */
export async function reconnect(client: ClientSocket): Promise<void> {
  const connected = next(client, "connect");
  client.connect();
  await connected;
}

/** Every event the client receives, with its arguments (the offset, when there is one, stays last). */
export function record(client: ClientSocket): unknown[][] {
  const events: unknown[][] = [];
  client.onAny((...args: unknown[]) => events.push(args));
  return events;
}

/** The private session id the client got in its CONNECT reply (socket.io-client keeps it in `_pid`). */
export function pidOf(client: ClientSocket): string | undefined {
  return (client as unknown as { _pid?: string })._pid;
}

/** The events without their last argument (the offset). */
export function withoutOffsets(events: unknown[][]): unknown[][] {
  return events.map((args) => args.slice(0, -1));
}
