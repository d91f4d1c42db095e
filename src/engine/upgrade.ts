/**
 * The polling → WebSocket upgrade of one session, as an explicit state machine with a single timer.
 *
 *   PROBING ──"2probe"──▶ PROBED ──"5"──▶ DONE
 *      │                    │
 *      └──── anything else, WebSocket error/close, session close, upgradeTimeout ────▶ ABORTED
 *
 * - PROBING: the WebSocket is open and owned by this object (its packets do not reach the session). The client
 *   sends "2probe"; we answer "3probe" and emit `upgrading` on the session.
 * - PROBED: the client now pauses its polling transport, which needs its pending GET answered. Instead of
 *   engine.io's 100 ms interval, we send a noop on the polling transport right away if a GET is pending, and
 *   again whenever a new GET arrives while nothing else is queued (event driven, see `onPollingReady`).
 * - DONE: on "5" the session discards polling, switches to the WebSocket and flushes its buffer there.
 * - ABORTED: the WebSocket is closed; the session goes on polling.
 * The one timer is `upgradeTimeout`, armed at creation, cleared on DONE or ABORTED.
 */
import createDebug from "debug";
import type { Packet } from "./packet";
import type { Socket } from "./socket";
import type { Transport, TransportOwner } from "./transports/transport";

const debug = createDebug("switchyard:engine:upgrade");

export enum UpgradeState {
  PROBING = 0,
  PROBED = 1,
  DONE = 2,
  ABORTED = 3,
}

const NOOP: Packet = Object.freeze({ type: "noop" }) as Packet;

export class Upgrade implements TransportOwner {
  state = UpgradeState.PROBING;
  private timer: NodeJS.Timeout | null;

  constructor(
    private readonly session: Socket,
    readonly transport: Transport,
    timeout: number,
  ) {
    transport.setOwner(this);
    this.timer = setTimeout(onUpgradeTimeout, timeout, this);
  }

  onTransportPacket(transport: Transport, packet: Packet): void {
    if (this.state >= UpgradeState.DONE) return;
    if (packet.type === "ping" && packet.data === "probe") {
      debug("probe received for %s", this.session.id);
      transport.send([{ type: "pong", data: "probe" }]);
      this.state = UpgradeState.PROBED;
      this.session.emit("upgrading", transport);
      this.onPollingReady();
    } else if (packet.type === "upgrade" && this.session.readyState !== "closed") {
      debug("upgrade packet received for %s", this.session.id);
      this.state = UpgradeState.DONE;
      this.clearTimer();
      this.session._completeUpgrade(this);
    } else {
      debug("unexpected %s packet during upgrade of %s", packet.type, this.session.id);
      this.abort();
    }
  }

  onTransportError(): void {
    this.abort();
  }

  onTransportClose(): void {
    this.abort();
  }

  onTransportReady(): void {
    // the WebSocket is always writable; nothing to do
  }

  /** The polling transport got a new GET (and the session had nothing to send on it). */
  onPollingReady(): void {
    if (this.state !== UpgradeState.PROBED) return;
    const current = this.session.transport;
    if (current.name === "polling" && current.writable) {
      debug("answering the pending poll of %s with a noop", this.session.id);
      current.send([NOOP]);
    }
  }

  /** Gives up: closes the WebSocket; the session stays on polling. */
  abort(): void {
    if (this.state >= UpgradeState.DONE) return;
    this.state = UpgradeState.ABORTED;
    this.clearTimer();
    this.transport.setOwner(null);
    this.transport.close();
    this.session._upgradeEnded(this);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

function onUpgradeTimeout(upgrade: Upgrade): void {
  debug("upgrade timed out");
  upgrade.abort();
}
