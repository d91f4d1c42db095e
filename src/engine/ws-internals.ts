/**
 * The one place that touches `ws` beyond its documented API.
 *
 * The WebSocket fast path needs a single private of a `ws` WebSocket: `_socket`, the underlying `net.Socket`.
 * With it the engine corks the socket for the rest of the tick (one write per connection per tick), writes the
 * frames it built itself (see frame.ts) straight to the socket, and watches the socket's own `drain` for
 * backpressure. Everything else goes through ws's public API (`send`, `close`, `bufferedAmount`).
 *
 * When a WebSocket lacks `_socket` (a custom `wsEngine`, or a `ws` release that renamed it) the transport falls back
 * to `ws.send()` for every packet, no corking, and backpressure from `bufferedAmount` and send callbacks. The
 * fallback is announced once per process with a `process.emitWarning` (code SWITCHYARD_WS_FALLBACK), never silently.
 */
import type { Socket as NetSocket } from "node:net";
import type { WebSocket as WsSocket } from "ws";
import type { Frame } from "./frame";

/** What the engine reaches into, as probed on one WebSocket. */
export interface WsLink {
  /** The underlying socket, or null when the WebSocket does not expose it (fallback path). */
  readonly raw: NetSocket | null;
}

/** The result of probing a WebSocket: whether the fast path is available, and why not. */
export interface WsProbe {
  readonly fastPath: boolean;
  readonly missing: readonly string[];
}

interface WsPrivates {
  _socket?: unknown;
}

export const WS_FALLBACK_WARNING_CODE = "SWITCHYARD_WS_FALLBACK";

let warned = false;

function isNetSocket(value: unknown): value is NetSocket {
  if (value === null || typeof value !== "object") return false;
  const s = value as Partial<NetSocket>;
  return (
    typeof s.write === "function" &&
    typeof s.cork === "function" &&
    typeof s.uncork === "function" &&
    typeof s.once === "function" &&
    typeof s.writableNeedDrain === "boolean"
  );
}

/** Which ws internals `ws` offers; pure (no warning). */
export function probeWebSocket(ws: WsSocket): WsProbe {
  const raw = (ws as unknown as WsPrivates)._socket;
  return isNetSocket(raw) ? FAST : MISSING_SOCKET;
}

const FAST: WsProbe = Object.freeze({ fastPath: true, missing: Object.freeze([]) });
const MISSING_SOCKET: WsProbe = Object.freeze({
  fastPath: false,
  missing: Object.freeze(["_socket (net.Socket with cork/uncork/write/drain)"]),
});

/**
 * Marks a stand-in WebSocket whose frames travel to another node (forwarding's relayed upgrade): it has no
 * socket here by design, so the transport uses `send()` without the fallback warning.
 */
export const RELAYED_WEBSOCKET = Symbol.for("switchyard.relayedWebSocket");

/** The link the transport uses for `ws`; warns once per process when the fast path is unavailable. */
export function linkWebSocket(ws: WsSocket): WsLink {
  if ((ws as unknown as Record<symbol, unknown>)[RELAYED_WEBSOCKET] === true) return NO_LINK;
  const raw = (ws as unknown as WsPrivates)._socket;
  if (isNetSocket(raw)) return { raw };
  if (!warned) {
    warned = true;
    process.emitWarning(
      "the WebSocket implementation does not expose ws's `_socket`: Switchyard falls back to ws.send() for " +
        "every packet (no corking, no pre-framed broadcasts; backpressure from bufferedAmount)",
      { type: "SwitchyardWarning", code: WS_FALLBACK_WARNING_CODE },
    );
  }
  return NO_LINK;
}

const NO_LINK: WsLink = Object.freeze({ raw: null });

/** @internal For tests: lets the next fallback warn again. */
export function resetWsFallbackWarning(): void {
  warned = false;
}

/** Writes a complete frame to the socket (the one way the engine writes a frame); `done` runs once written. */
export function writeFrame(
  raw: NetSocket,
  frame: Frame,
  done?: (err?: Error | null) => void,
): void {
  if (Buffer.isBuffer(frame)) {
    raw.write(frame, done);
    return;
  }
  const frames = frame as readonly Buffer[];
  const last = frames.length - 1;
  for (let i = 0; i < last; i++) raw.write(frames[i] as Buffer);
  raw.write(frames[last] as Buffer, done);
}
