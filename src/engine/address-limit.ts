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

  /** Whether a new session from `req`'s address would pass the cap. */
  isFull(req: IncomingMessage): boolean {
    if (!this.enabled) return false;
    return (this.counts.get(addressOf(req)) ?? 0) >= this.max;
  }

  add(address: string): void {
    if (this.enabled) this.counts.set(address, (this.counts.get(address) ?? 0) + 1);
  }

  remove(address: string): void {
    if (!this.enabled) return;
    const count = (this.counts.get(address) ?? 0) - 1;
    if (count > 0) this.counts.set(address, count);
    else this.counts.delete(address);
  }
}

export function addressOf(req: IncomingMessage): string {
  return req.socket?.remoteAddress ?? "";
}
