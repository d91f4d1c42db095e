/**
 * `maxConnectionsPerAddress` (opt-in): open sessions counted per remote address; a handshake from an address at
 * the cap is refused with code 4 "Forbidden" and the message {@link TOO_MANY_CONNECTIONS} (docs/limits.md).
 * Off by default, and then nothing is counted.
 */
import type { IncomingMessage } from "node:http";

export const TOO_MANY_CONNECTIONS = "too many connections from this address";

export class AddressLimit {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  get enabled(): boolean {
    return this.max !== Infinity;
  }

  /**
   * Takes a place for a new session from `address`, or returns false at the cap. The place is counted at once,
   * not when the session opens, so that handshakes in flight together (a WebSocket upgrade may complete on a
   * later turn) cannot all pass; one whose session does not open gives it back with `remove`.
   */
  reserve(address: string): boolean {
    if (!this.enabled) return true;
    const count = this.counts.get(address) ?? 0;
    if (count >= this.max) return false;
    this.counts.set(address, count + 1);
    return true;
  }

  remove(address: string): void {
    if (!this.enabled) return;
    const count = (this.counts.get(address) ?? 0) - 1;
    if (count > 0) this.counts.set(address, count);
    else this.counts.delete(address);
  }
}

/**
 * The address a handshake is counted under. A net.Socket caches its peer address once read, so the session's
 * `remoteAddress` and a release after the socket closed see the same value as the reservation.
 */
export function addressOf(req: IncomingMessage): string {
  return req.socket?.remoteAddress ?? "";
}
