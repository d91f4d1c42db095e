/**
 * Test helpers: the older official clients still in the field, as npm aliases (devDependencies):
 * socket.io-client 2.5 (engine.io-client 3.5: Engine.IO 3, Socket.IO protocol 4; served with `allowEIO3`) and
 * socket.io-client 3.1 (Engine.IO 4, Socket.IO protocol 5). Neither ships types for Node 20's resolution of the
 * alias, so the few members the tests use are declared here.
 */
import { createRequire } from "node:module";

/** A socket of socket.io-client 2.x. */
export interface V2Socket {
  readonly id: string;
  readonly connected: boolean;
  readonly io: { engine: { transport: { name: string }; id: string } };
  on(event: string, listener: (...args: never[]) => void): V2Socket;
  once(event: string, listener: (...args: never[]) => void): V2Socket;
  emit(event: string, ...args: unknown[]): V2Socket;
  close(): V2Socket;
  disconnect(): V2Socket;
}

export interface V2Options {
  transports?: readonly string[];
  query?: Record<string, string>;
  upgrade?: boolean;
}

type V2Io = (url: string, opts: Record<string, unknown>) => V2Socket;

const localRequire = createRequire(__filename);
const ioV2 = localRequire("socket.io-client-v2") as V2Io;

/** Opens a socket.io-client 2.5 socket to `url` (a namespace in its path); no reconnection, a new manager. */
export function v2Client(url: string, opts: V2Options = {}): V2Socket {
  return ioV2(url, { forceNew: true, reconnection: false, ...opts });
}

/**
 * A v2 socket of an existing manager (same engine connection), as `manager.socket(nsp, { query })`; it connects at
 * once (the manager's `autoConnect`). The manager keeps one socket per namespace.
 */
export function v2Namespace(root: V2Socket, nsp: string, query?: Record<string, string>): V2Socket {
  const manager = (
    root as unknown as {
      io: { socket(nsp: string, opts?: { query?: Record<string, string> }): V2Socket };
    }
  ).io;
  return manager.socket(nsp, query === undefined ? undefined : { query });
}

export { io as v3Client } from "socket.io-client-v3";
