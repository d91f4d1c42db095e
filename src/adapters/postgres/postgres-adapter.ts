/**
 * The Postgres adapter: the cluster protocol with heartbeats over `LISTEN` / `NOTIFY`, wire compatible with
 * `@socket.io/postgres-adapter` 0.5 (and reached by `@socket.io/postgres-emitter`). The transport is in
 * `./pubsub`; this class is one namespace's adapter on it.
 */
import createDebug from "debug";
import type { AdapterNamespace } from "../../adapter/adapter";
import { MessageType, toError, type ClusterMessage } from "../../adapter/cluster";
import {
  ClusterAdapterWithHeartbeat,
  type ClusterAdapterWithHeartbeatOptions,
} from "../../adapter/heartbeat";
import {
  PostgresTransport,
  checkTableName,
  type PostgresPool,
  type PostgresSubscriber,
} from "./pubsub";

const debug = createDebug("switchyard:postgres");

export interface PostgresAdapterOptions extends ClusterAdapterWithHeartbeatOptions {
  /** Prefix of the channel of each namespace (`${channelPrefix}#${nsp}`). Default "socket.io". */
  channelPrefix?: string;
  /** The table of the messages sent as attachments (binary, or too large to notify). Default "socket_io_attachments". */
  tableName?: string;
  /** A message whose JSON has at least this many bytes is sent as an attachment. Default 8000 (Postgres's limit). */
  payloadThreshold?: number;
  /** Attachments older than this many ms are deleted, every this many ms. Default 30000. */
  cleanupInterval?: number;
  /** Receives the transport's errors (they also reach each namespace adapter's `error` event). */
  errorHandler?: (err: Error) => void;
}

/**
 * The adapter factory for `new Server({ adapter })` (or `io.adapter()`): the namespaces of the servers using it
 * share one listening connection taken from `pool`.
 */
export function createAdapter(
  pool: PostgresPool,
  opts: PostgresAdapterOptions = {},
): (nsp: AdapterNamespace) => PostgresAdapter {
  const tableName = opts.tableName ?? "socket_io_attachments";
  checkTableName(tableName);
  const transport = new PostgresTransport(
    pool,
    {
      channelPrefix: opts.channelPrefix ?? "socket.io",
      tableName,
      payloadThreshold: opts.payloadThreshold ?? 8000,
      cleanupInterval: Math.max(0, Math.floor(opts.cleanupInterval ?? 30000)),
    },
    opts.errorHandler ?? ((err) => debug("%s", err.message)),
  );
  // a plain function, so that servers calling it with `new` (as socket.io does) get the adapter too
  return function (nsp: AdapterNamespace) {
    return new PostgresAdapter(nsp, transport, opts);
  };
}

export class PostgresAdapter extends ClusterAdapterWithHeartbeat implements PostgresSubscriber {
  readonly channel: string;
  /** Why this namespace cannot use Postgres (its channel name is too long), if it cannot. */
  private readonly unusable?: Error;
  private readonly listening: Promise<void>;
  private announced = false;
  private closing = false;

  constructor(
    nsp: AdapterNamespace,
    private readonly transport: PostgresTransport,
    opts: PostgresAdapterOptions = {},
  ) {
    super(nsp, opts);
    this.channel = transport.channelOf(nsp.name);
    try {
      this.listening = transport.add(nsp.name, this);
    } catch (err) {
      // local delivery still works; every publish reports this on the `error` event
      this.unusable = err as Error;
      this.listening = Promise.resolve();
      debug("%s", this.unusable.message);
    }
  }

  /** Announces this node once its channel is listened to, so that it hears the other nodes' answers. */
  override async init(): Promise<void> {
    await this.listening;
    if (this.isClosed() || this.announced) return;
    this.announced = true;
    await super.init();
  }

  deliver(message: ClusterMessage): void {
    this.onMessage(message);
  }

  fail(err: Error): void {
    this.reportError(err);
  }

  suspended(): void {
    if (!this.announced || this.isClosed()) return;
    // deaf, this node cannot hear the others, nor their answers: it counts none of them until it hears them
    // again (its pending requests end with the answers received so far), and tells them at once (the close
    // message, sent out of turn) so that their requests stop waiting for it; its own messages wait meanwhile
    this.forgetAllNodes();
    const goodbye: ClusterMessage = {
      type: MessageType.ADAPTER_CLOSE,
      uid: this.uid,
      nsp: this.nsp.name,
    };
    this.transport
      .publish(goodbye, true)
      .catch((err: unknown) => debug("could not tell the others: %s", toError(err).message));
  }

  resumed(): void {
    // notifications sent while the connection was down are lost: announce this node again
    if (this.announced && !this.isClosed()) this.publish({ type: MessageType.INITIAL_HEARTBEAT });
  }

  protected override async doPublish(message: ClusterMessage): Promise<string> {
    if (this.unusable) throw this.unusable;
    if (this.closing) return "";
    // closing goes at once even when deaf: close() must not wait for Postgres to come back
    await this.transport.publish(message, message.type === MessageType.ADAPTER_CLOSE);
    return "";
  }

  protected override async doPublishResponse(
    _requesterUid: string,
    response: ClusterMessage,
  ): Promise<void> {
    // every node of the namespace hears a response; those that did not ask ignore it
    await this.doPublish(response);
  }

  /** Tells the other nodes (ADAPTER_CLOSE), then stops listening; the last namespace out releases the connection. */
  override async close(): Promise<void> {
    if (this.closing) return;
    await super.close();
    this.closing = true;
    await this.transport.remove(this.nsp.name, this);
  }
}
