/**
 * The bound on each session's send buffer (docs/limits.md).
 *
 * A session's outgoing bytes live in two places: packets it queued while the transport could not take them
 * (`Socket.writeBuffer`), and bytes the transport already handed to the network socket that the peer has not read
 * yet (a WebSocket's `writableLength`). Their sum is the session's `bufferedAmount`. Only a byte counter is kept:
 * a packet's size is added when it is queued and the counter is reset when the queue is flushed, so the hot path
 * pays one addition and one comparison, and allocates nothing.
 *
 * - Past `sendBufferHighWaterMark` (the soft limit) the Socket.IO layer's `socket.emit()` returns false and
 *   volatile packets are dropped; once the buffer is back under it, the session emits `bufferDrain` (the
 *   Socket.IO sockets then emit `drain`).
 * - Past `maxSendBufferBytes` (the hard limit) the session is closed at once, its buffer discarded, with the close
 *   reason "send buffer overflow".
 */
import type { Packet } from "./packet";

/** Default soft limit: 1 MiB, far above what an application that keeps up ever buffers. */
export const DEFAULT_SEND_BUFFER_HIGH_WATER_MARK = 1024 * 1024;
/** Default hard limit: 32 MiB per session. */
export const DEFAULT_MAX_SEND_BUFFER_BYTES = 32 * 1024 * 1024;

/** The close reason of a session whose send buffer passed `maxSendBufferBytes`. */
export const SEND_BUFFER_OVERFLOW = "send buffer overflow";

/**
 * The bytes a packet will take on the wire, approximately: a string counts its length (exact for ASCII), a
 * Buffer its bytes. Cheap on purpose: it runs for every packet sent.
 */
export function packetSize(packet: Packet): number {
  const data = packet.data;
  if (data === undefined) return 1;
  return data.length + 1;
}
