/** The engine's options and their defaults (those of engine.io 6.6). */
import type { IncomingMessage } from "node:http";
import type { CorsOptions, CorsOptionsDelegate } from "cors";
import { WebSocketServer } from "ws";
import type { ForwardingRoute } from "../forwarding/route";
import type { CookieOptions } from "./cookie";
import type { RawData } from "./packet";
import { DEFAULT_MAX_SEND_BUFFER_BYTES, DEFAULT_SEND_BUFFER_HIGH_WATER_MARK } from "./send-buffer";
import type { CompressionOptions } from "./transports/polling";

export type AllowRequest = (
  req: IncomingMessage,
  fn: (err: string | null | undefined, success: boolean) => void,
) => void;

/** A `ws`-compatible server class (`ws.Server` by default, or e.g. `eiows`). */
export type WsEngine = new (options: Record<string, unknown>) => unknown;

export interface PerMessageDeflateOptions {
  threshold?: number;
  [key: string]: unknown;
}

export interface AttachOptions {
  /** Path the engine answers on; default "/engine.io". */
  path?: string;
  /** Whether to end upgrade requests that no one handled; default true. */
  destroyUpgrade?: boolean;
  /** Delay before such requests are ended; default 1000 ms. */
  destroyUpgradeTimeout?: number;
  /** Append a trailing slash to `path`; default true. */
  addTrailingSlash?: boolean;
}

export interface ServerOptions extends AttachOptions {
  /** ms without a pong after a ping before the session closes; default 20000. */
  pingTimeout?: number;
  /** ms between pings; default 25000. */
  pingInterval?: number;
  /** ms an unfinished upgrade may take; default 10000. */
  upgradeTimeout?: number;
  /** Largest accepted message / POST body in bytes; default 1e6. */
  maxHttpBufferSize?: number;
  /** Accept or refuse each handshake (code 4 "Forbidden" on refusal). */
  allowRequest?: AllowRequest;
  /** Allowed transports; default ["polling", "websocket"]. */
  transports?: readonly string[];
  /** Allow polling → websocket upgrades; default true. */
  allowUpgrades?: boolean;
  /** WebSocket permessage-deflate; default false. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Polling response compression; default { threshold: 1024 }. */
  httpCompression?: boolean | Partial<CompressionOptions>;
  /** WebSocket server implementation; default ws.Server. */
  wsEngine?: WsEngine;
  /** A message packet sent right after the open packet. */
  initialPacket?: RawData;
  /** Set a cookie with the sid on the handshake; default false. */
  cookie?: boolean | CookieOptions;
  /** CORS options, as for the `cors` package; default off. */
  cors?: CorsOptions | CorsOptionsDelegate;
  /**
   * Bytes buffered for one session past which `socket.emit()` returns false and volatile packets are dropped;
   * default 1 MiB (docs/limits.md).
   */
  sendBufferHighWaterMark?: number;
  /** Bytes buffered for one session past which it is closed ("send buffer overflow"); default 32 MiB. */
  maxSendBufferBytes?: number;
  /** Open sessions allowed per remote address (the handshake is refused past it); default unlimited. */
  maxConnectionsPerAddress?: number;
  /** Engine.IO v3 clients are not supported; accepted for compatibility and ignored. */
  allowEIO3?: boolean;
  /**
   * Serve polling requests for sessions another node owns by forwarding them to it over this route, and relay
   * the frames of WebSocket upgrades for such sessions (see src/forwarding/); default off: such requests and
   * upgrades get 400 "Session ID unknown", as in socket.io.
   */
  forwarding?: ForwardingRoute;
  /** ms a forwarded request waits for its owner before the 400 "Session ID unknown"; default 2000. */
  forwardingTimeout?: number;
}

export interface ResolvedOptions extends Omit<
  ServerOptions,
  "httpCompression" | "perMessageDeflate" | "transports"
> {
  pingTimeout: number;
  pingInterval: number;
  upgradeTimeout: number;
  maxHttpBufferSize: number;
  transports: string[];
  allowUpgrades: boolean;
  perMessageDeflate: false | PerMessageDeflateOptions;
  httpCompression: false | CompressionOptions;
  wsEngine: WsEngine;
  destroyUpgrade: boolean;
  destroyUpgradeTimeout: number;
  addTrailingSlash: boolean;
  sendBufferHighWaterMark: number;
  maxSendBufferBytes: number;
  maxConnectionsPerAddress: number;
}

export function resolveOptions(opts: ServerOptions): ResolvedOptions {
  const perMessageDeflate = opts.perMessageDeflate
    ? { threshold: 1024, ...(opts.perMessageDeflate === true ? {} : opts.perMessageDeflate) }
    : false;
  const httpCompression =
    opts.httpCompression === false
      ? false
      : {
          threshold: 1024,
          ...(opts.httpCompression === true || opts.httpCompression === undefined
            ? {}
            : opts.httpCompression),
        };
  return {
    ...opts,
    pingTimeout: opts.pingTimeout ?? 20000,
    pingInterval: opts.pingInterval ?? 25000,
    upgradeTimeout: opts.upgradeTimeout ?? 10000,
    maxHttpBufferSize: opts.maxHttpBufferSize ?? 1e6,
    transports: [...(opts.transports ?? ["polling", "websocket"])],
    allowUpgrades: opts.allowUpgrades ?? true,
    perMessageDeflate,
    httpCompression,
    wsEngine: opts.wsEngine ?? (WebSocketServer as unknown as WsEngine),
    destroyUpgrade: opts.destroyUpgrade ?? true,
    destroyUpgradeTimeout: opts.destroyUpgradeTimeout || 1000,
    addTrailingSlash: opts.addTrailingSlash ?? true,
    sendBufferHighWaterMark: opts.sendBufferHighWaterMark ?? DEFAULT_SEND_BUFFER_HIGH_WATER_MARK,
    maxSendBufferBytes: opts.maxSendBufferBytes ?? DEFAULT_MAX_SEND_BUFFER_BYTES,
    maxConnectionsPerAddress: opts.maxConnectionsPerAddress ?? Infinity,
  };
}

/** The path the engine answers on, as engine.io computes it. */
export function computePath(opts: AttachOptions): string {
  let path = (opts.path ?? "/engine.io").replace(/\/$/, "");
  if (opts.addTrailingSlash !== false) path += "/";
  return path;
}
