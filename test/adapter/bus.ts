/**
 * A heartbeat cluster adapter over an in-process bus: the smallest transport on `ClusterAdapterWithHeartbeat`
 * (and the example src/adapter/README.md points adapter authors to). Every server of a test shares one `Bus`;
 * messages are delivered on a later turn of the event loop, in order. `cut(uid)` silences a node without its
 * close message, as a killed process would be.
 */
import type { AdapterNamespace } from "../../src/adapter";
import {
  ClusterAdapterWithHeartbeat,
  type ClusterAdapterWithHeartbeatOptions,
  type ClusterMessage,
} from "../../src/adapter";

export class Bus {
  readonly adapters = new Set<BusAdapter>();
  /** Every message published, in order (for wire checks). */
  readonly published: ClusterMessage[] = [];
  private readonly silenced = new Set<string>();

  /** An `adapter` option for a server on this bus. */
  adapter(opts: ClusterAdapterWithHeartbeatOptions = {}): (nsp: AdapterNamespace) => BusAdapter {
    return (nsp) => new BusAdapter(nsp, this, opts);
  }

  /** Stops every message from and to the adapter `uid` (no close message): a killed node. */
  cut(uid: string): void {
    this.silenced.add(uid);
  }

  send(from: BusAdapter, message: ClusterMessage, to?: string): void {
    if (this.silenced.has(from.uid)) return;
    this.published.push(message);
    setImmediate(() => {
      for (const adapter of this.adapters) {
        if (adapter === from || this.silenced.has(adapter.uid)) continue;
        if (to !== undefined && adapter.uid !== to) continue;
        adapter.onMessage(message);
      }
    });
  }
}

export class BusAdapter extends ClusterAdapterWithHeartbeat {
  constructor(
    nsp: AdapterNamespace,
    private readonly bus: Bus,
    opts: ClusterAdapterWithHeartbeatOptions,
  ) {
    super(nsp, opts);
    bus.adapters.add(this);
  }

  protected override doPublish(message: ClusterMessage): Promise<string> {
    this.bus.send(this, message);
    return Promise.resolve("");
  }

  protected override doPublishResponse(
    requesterUid: string,
    response: ClusterMessage,
  ): Promise<void> {
    this.bus.send(this, response, requesterUid);
    return Promise.resolve();
  }

  override async close(): Promise<void> {
    await super.close();
    this.bus.adapters.delete(this);
  }
}
