/**
 * The in-memory adapter with connection state recovery: the default adapter when the server's
 * `connectionStateRecovery` option is set (socket.io-adapter's `SessionAwareAdapter`).
 */
import {
  Adapter,
  type AdapterNamespace,
  type AdapterPacket,
  type BroadcastOptions,
} from "./adapter";
import { type Session, SessionStore, type SessionToPersist } from "./sessions";

/** socket.io's default when the adapter is built outside a recovering server. */
const DEFAULT_MAX_DISCONNECTION_DURATION = 120_000;

export class SessionAwareAdapter extends Adapter {
  /** The sessions and recoverable packets of this namespace (observable: `store.stats`). */
  readonly store: SessionStore;

  constructor(nsp: AdapterNamespace) {
    super(nsp);
    this.store = new SessionStore(
      nsp.connectionStateRecovery?.maxDisconnectionDuration ?? DEFAULT_MAX_DISCONNECTION_DURATION,
      { onSweep: (stats) => this.emit("sweep", stats) },
    );
  }

  override broadcast(packet: AdapterPacket, opts: BroadcastOptions): void {
    this.store.record(packet, opts);
    super.broadcast(packet, opts);
  }

  override persistSession(session: SessionToPersist): void {
    this.store.persist(session);
  }

  override restoreSession(pid: string, offset: string): Promise<Session | null> {
    return Promise.resolve(this.store.restore(pid, offset));
  }

  /** Unlike socket.io's, the cleanup timer stops with the adapter. */
  override close(): void {
    this.store.close();
  }
}
