/**
 * What the transports share. A transport reports to its owner (the session, or the upgrade while it is being
 * probed) through direct method calls: no events and no listener closures on the hot path.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { transportError } from "../errors";
import type { Packet } from "../packet";
import type { PacketSpill } from "../packet-spill";

export type TransportName = "polling" | "websocket";

/** Called once the packets of one `send()` have been written. */
export type SendCallback = (transport: Transport) => void;

/** @internal */
export interface TransportOwner {
  onTransportPacket(transport: Transport, packet: Packet): void;
  onTransportError(transport: Transport, err: Error): void;
  onTransportClose(transport: Transport): void;
  /** The transport became writable (a new poll arrived). */
  onTransportReady(transport: Transport): void;
}

/** Headers of an HTTP response, mutable by `headers` / `initial_headers` listeners. */
export type ResponseHeaders = OutgoingHttpHeaders;

/** The server-side services a transport needs. */
export interface TransportHost {
  emitResponseHeaders(
    headers: ResponseHeaders,
    req: IncomingMessage,
    initial: boolean,
    sid: string,
  ): void;
}

export abstract class Transport {
  abstract readonly name: TransportName;
  /** Whether `send()` may be called now. */
  writable = false;
  /** "open" | "closing" | "closed", as in engine.io. */
  readyState: "open" | "closing" | "closed" = "open";
  /** Set once the session has moved to another transport. */
  discarded = false;
  /** The session id this transport serves. */
  sid = "";
  /** @internal */
  protected owner: TransportOwner | null = null;

  get handlesUpgrades(): boolean {
    return false;
  }

  /** @internal */
  setOwner(owner: TransportOwner | null): void {
    this.owner = owner;
  }

  discard(): void {
    this.discarded = true;
  }

  /** Bytes handed to the network but not yet written out (the peer is slow to read); 0 when unknown. */
  get bufferedAmount(): number {
    return 0;
  }

  /**
   * The peer is not keeping up, yet the transport stays writable because it holds what it is given off the heap
   * (a pre-framed WebSocket, spill.ts): the session looks at its send buffer bound and volatile packets are dropped,
   * as when it is not writable.
   */
  get lagging(): boolean {
    return false;
  }

  /** Closes at once, dropping whatever is still buffered (an overflowing session). */
  terminate(): void {
    this.close();
  }

  /**
   * Writes packets, then the records of `spilled` (a lagging session's further packets, kept as bytes; the
   * transport takes it over); `callbacks` run once they are all written.
   */
  abstract send(
    packets: Packet[],
    callbacks?: readonly SendCallback[] | null,
    spilled?: PacketSpill | null,
  ): void;

  close(fn?: () => void): void {
    if (this.readyState !== "open") return;
    this.readyState = "closing";
    this.doClose(fn);
  }

  protected abstract doClose(fn?: () => void): void;

  protected onPacket(packet: Packet): void {
    this.owner?.onTransportPacket(this, packet);
  }

  protected onError(message: string, description?: unknown): void {
    const owner = this.owner;
    if (owner === null) return;
    owner.onTransportError(this, transportError(message, description));
  }

  protected onClose(): void {
    if (this.readyState === "closed") return;
    this.readyState = "closed";
    this.writable = false;
    this.owner?.onTransportClose(this);
  }
}

/** Runs send callbacks. */
export function runCallbacks(transport: Transport, callbacks: readonly SendCallback[]): void {
  for (let i = 0; i < callbacks.length; i++) (callbacks[i] as SendCallback)(transport);
}
