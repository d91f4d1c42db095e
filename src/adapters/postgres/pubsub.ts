/**
 * The Postgres transport of `switchyard/postgres-adapter`, one per `createAdapter()` call and shared by the
 * namespaces of the servers using it: one connection checked out of the pool holds every `LISTEN` (and is
 * replaced, with its `LISTEN`s, when it is lost), messages go out with `pg_notify` through the pool, and the
 * messages too large for a notification, or carrying binary, travel through the attachment table.
 *
 * The wire is `@socket.io/postgres-adapter` 0.5's: channel `${channelPrefix}#${nsp}`; a notification is the
 * message as JSON, or `{"uid","type","attachmentId"}` naming a row whose `payload` is the message in msgpack.
 *
 * A node speaks only while it hears: a message waits until its channel is listened to on the current
 * connection. Postgres does not keep notifications for a session that is not listening, so a node that sent
 * while deaf would be counted alive by the others (any message proves a node alive) while missing their
 * requests; holding its messages until it hears again keeps "heard from" meaning "can answer".
 */
import { decode as msgpackDecode, encode as msgpackEncode } from "@msgpack/msgpack";
import createDebug from "debug";
import { MessageType, isRecord, type ClusterMessage } from "../../adapter/cluster";
import { toError } from "../../adapter/errors";
import { hasBinary } from "../../parser/binary";

const debug = createDebug("switchyard:postgres");

/** What the adapter needs of a `pg` query result. */
export interface PostgresQueryResult {
  rows: unknown[];
}

/** A notification as `pg` delivers it. */
export interface PostgresNotification {
  channel: string;
  payload?: string | undefined;
}

/** What the adapter needs of a client checked out of a `pg` Pool (`PoolClient`). */
export interface PostgresPoolClient {
  query(text: string): Promise<PostgresQueryResult>;
  on(event: "notification", listener: (notification: PostgresNotification) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  on(event: "end", listener: () => void): unknown;
  removeListener(
    event: "notification",
    listener: (notification: PostgresNotification) => void,
  ): unknown;
  removeListener(event: "error", listener: (err: Error) => void): unknown;
  removeListener(event: "end", listener: () => void): unknown;
  release(err?: Error | boolean): void;
}

/** What the adapter needs of a `pg` Pool: queries, one checked-out client to listen on, its `error` event. */
export interface PostgresPool {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
  connect(): Promise<PostgresPoolClient>;
  on(event: "error", listener: (err: Error) => void): unknown;
  removeListener(event: "error", listener: (err: Error) => void): unknown;
}

export interface PostgresTransportOptions {
  channelPrefix: string;
  tableName: string;
  payloadThreshold: number;
  cleanupInterval: number;
}

/** A namespace adapter as the transport sees it. */
export interface PostgresSubscriber {
  readonly uid: string;
  /** A message of another node (or of the emitter); `nsp` is always set. */
  deliver(message: ClusterMessage): void;
  /** A failure of the transport. */
  fail(err: Error): void;
  /** The listening connection is lost: this node hears nothing until `resumed()`. */
  suspended(): void;
  /** The listening connection is back (after a loss): messages sent meanwhile are lost. */
  resumed(): void;
}

/** A message waiting for its turn, with its notification payload once prepared. */
interface QueuedPublish {
  message: ClusterMessage;
  channel: string;
  /** The notification's JSON, or undefined when the message goes through the attachment table. */
  payload?: string;
  resolve(): void;
  reject(err: Error): void;
}

/** Postgres refuses a notification payload of 8000 bytes or more, and a channel name over 63 bytes. */
export const NOTIFY_PAYLOAD_LIMIT = 8000;
export const CHANNEL_NAME_LIMIT = 63;

/** The types that may carry binary, sent as attachments when they do (the official adapter's list). */
const MAY_CARRY_BINARY: ReadonlySet<number> = new Set([
  MessageType.BROADCAST,
  MessageType.BROADCAST_ACK,
  MessageType.SERVER_SIDE_EMIT,
  MessageType.SERVER_SIDE_EMIT_RESPONSE,
]);

/** Publishes waiting for their turn beyond which new ones are refused (Postgres unreachable for long). */
const MAX_QUEUED_PUBLISHES = 10000;

/**
 * Messages sent in one round trip (`SELECT pg_notify($1, $2), pg_notify($3, $4), ...`: one transaction, whose
 * notifications Postgres delivers in order), so that a backlog (after an outage, or under a load above one
 * round trip per message) drains at once instead of delaying every later message, answers included.
 */
const MAX_BATCH = 200;

/** Reconnection delays of the listening connection: doubling from the first to the last, with jitter. */
const RECONNECT_FIRST_MS = 200;
const RECONNECT_MAX_MS = 5000;

/** A table name interpolated into SQL: a plain or double-quoted identifier, optionally schema-qualified. */
const TABLE_NAME = /^(?:[A-Za-z_][\w$]*|"[^"]+")(?:\.(?:[A-Za-z_][\w$]*|"[^"]+"))?$/;

export function checkTableName(tableName: string): void {
  if (!TABLE_NAME.test(tableName))
    throw new Error(
      `invalid tableName ${JSON.stringify(tableName)}: use an SQL identifier (letters, digits, _), optionally schema-qualified or double-quoted`,
    );
}

/** `LISTEN` takes an identifier: quoted, with embedded quotes doubled. */
function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export class PostgresTransport {
  private readonly channels = new Map<string, Set<PostgresSubscriber>>();
  /** The channels whose LISTEN succeeded on the current connection. */
  private readonly listening = new Set<string>();
  /** Who waits for a channel's first LISTEN (a namespace announces itself only once it can hear answers). */
  private readonly waiting = new Map<string, Array<() => void>>();
  /** Messages in the order published; the head waits while its channel is not listened to. */
  private readonly queue: QueuedPublish[] = [];
  private draining = false;
  private listener?: PostgresPoolClient;
  private connecting?: Promise<void>;
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectAttempts = 0;
  private cleanupTimer?: NodeJS.Timeout;
  private tableReady?: Promise<void>;
  /** Notifications are handled one after the other (an attachment is fetched before the next is handled). */
  private receiving: Promise<void> = Promise.resolve();
  private readonly onPoolError = (err: Error) => this.fail(err);

  constructor(
    readonly pool: PostgresPool,
    readonly opts: PostgresTransportOptions,
    private readonly errorHandler: (err: Error) => void,
  ) {}

  channelOf(nsp: string): string {
    return `${this.opts.channelPrefix}#${nsp}`;
  }

  /**
   * Starts listening for a namespace adapter. Throws when its channel name is too long for Postgres. The promise
   * resolves once the channel's LISTEN has succeeded (it stays pending while Postgres cannot be reached).
   */
  add(nsp: string, subscriber: PostgresSubscriber): Promise<void> {
    const channel = this.channelOf(nsp);
    if (Buffer.byteLength(channel) > CHANNEL_NAME_LIMIT)
      throw new Error(
        `the Postgres channel "${channel}" is longer than ${CHANNEL_NAME_LIMIT} bytes: use a shorter channelPrefix or namespace name`,
      );
    const first = this.channels.size === 0;
    let subscribers = this.channels.get(channel);
    if (!subscribers) {
      subscribers = new Set();
      this.channels.set(channel, subscribers);
      const client = this.listener;
      if (client) this.listen(client, channel);
    }
    subscribers.add(subscriber);
    if (first) this.start();
    if (this.listening.has(channel)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiting.get(channel);
      if (list) list.push(resolve);
      else this.waiting.set(channel, [resolve]);
    });
  }

  /** Stops listening for a namespace adapter; the last one out gives the connection back and stops the timers. */
  async remove(nsp: string, subscriber: PostgresSubscriber): Promise<void> {
    const channel = this.channelOf(nsp);
    const subscribers = this.channels.get(channel);
    if (!subscribers?.delete(subscriber)) return;
    if (subscribers.size > 0) return;
    this.channels.delete(channel);
    this.listening.delete(channel);
    // nobody is left to wait for the channel's LISTEN, nor to send its messages once heard
    const waiting = this.waiting.get(channel);
    this.waiting.delete(channel);
    for (const resolve of waiting ?? []) resolve();
    this.drain();
    const client = this.listener;
    if (this.channels.size > 0) {
      if (client)
        await client
          .query(`UNLISTEN ${quoteIdentifier(channel)}`)
          .catch((err: unknown) => this.fail(toError(err)));
      return;
    }
    this.stop();
    if (client) {
      this.listener = undefined;
      this.detach(client);
      try {
        await client.query("UNLISTEN *");
        client.release();
      } catch (err) {
        client.release(toError(err));
      }
    }
  }

  private start(): void {
    this.pool.on("error", this.onPoolError);
    this.connect();
    if (this.opts.cleanupInterval > 0) {
      this.cleanupTimer = setInterval(() => this.cleanup(), this.opts.cleanupInterval);
      this.cleanupTimer.unref();
    }
  }

  private stop(): void {
    this.pool.removeListener("error", this.onPoolError);
    clearInterval(this.cleanupTimer);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  /** Reports a failure to the error handler and every namespace adapter's `error` event. */
  private fail(err: Error): void {
    debug("%s", err.message);
    try {
      this.errorHandler(err);
    } catch (handlerErr) {
      debug("the errorHandler threw: %s", toError(handlerErr).message);
    }
    for (const subscribers of this.channels.values())
      for (const subscriber of subscribers) subscriber.fail(err);
  }

  // --- the listening connection --------------------------------------------------------------------------

  private connect(): void {
    if (this.connecting || this.listener || this.channels.size === 0) return;
    this.connecting = this.pool.connect().then(
      (client) => {
        this.connecting = undefined;
        if (this.channels.size === 0) {
          client.release();
          return;
        }
        this.attach(client);
        const resumed = this.reconnectAttempts > 0;
        this.reconnectAttempts = 0;
        const channels = [...this.channels.keys()];
        void Promise.all(channels.map((channel) => this.listen(client, channel))).then(() => {
          debug("listening on %d channel(s)", channels.length);
          if (!resumed || this.listener !== client) return;
          for (const channel of channels)
            for (const subscriber of this.channels.get(channel) ?? []) subscriber.resumed();
        });
      },
      (err: unknown) => {
        this.connecting = undefined;
        this.fail(toError(err));
        this.scheduleReconnect();
      },
    );
  }

  private readonly onNotification = (n: PostgresNotification) => this.receive(n);
  private readonly onClientError = (err: Error) => this.lost(err);
  private readonly onClientEnd = () =>
    this.lost(new Error("the Postgres listening connection ended"));

  private attach(client: PostgresPoolClient): void {
    this.listener = client;
    client.on("notification", this.onNotification);
    client.on("error", this.onClientError);
    client.on("end", this.onClientEnd);
  }

  private detach(client: PostgresPoolClient): void {
    client.removeListener("notification", this.onNotification);
    client.removeListener("end", this.onClientEnd);
    // a late error of a connection given up must not reach Node as an unhandled 'error' event
    client.removeListener("error", this.onClientError);
    client.on("error", (err) => debug("error on a released connection: %s", err.message));
  }

  private listen(client: PostgresPoolClient, channel: string): Promise<void> {
    return client.query(`LISTEN ${quoteIdentifier(channel)}`).then(
      () => {
        if (this.listener !== client || !this.channels.has(channel)) return;
        this.listening.add(channel);
        const waiting = this.waiting.get(channel);
        this.waiting.delete(channel);
        for (const resolve of waiting ?? []) resolve();
        // the messages held while the channel was deaf go now
        this.drain();
      },
      (err: unknown) => {
        // a LISTEN that failed on a working connection would leave the channel deaf: start over
        if (this.listener === client) this.lost(toError(err));
        else this.fail(toError(err));
      },
    );
  }

  /** The listening connection failed or ended: report it, throw it away, and connect again. */
  private lost(err: Error): void {
    const client = this.listener;
    if (!client) return;
    this.listener = undefined;
    this.listening.clear();
    this.detach(client);
    this.fail(err);
    for (const subscribers of this.channels.values())
      for (const subscriber of subscribers) subscriber.suspended();
    try {
      client.release(err);
    } catch (releaseErr) {
      debug("release failed: %s", toError(releaseErr).message);
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.channels.size === 0) return;
    const base = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** this.reconnectAttempts);
    this.reconnectAttempts++;
    const delay = Math.floor(base * (0.5 + Math.random()));
    debug("listening connection lost, reconnecting in %d ms", delay);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  // --- receiving -----------------------------------------------------------------------------------------

  private receive(notification: PostgresNotification): void {
    const subscribers = this.channels.get(notification.channel);
    if (!subscribers || notification.payload === undefined) return;
    let header: unknown;
    try {
      header = JSON.parse(notification.payload);
    } catch {
      debug("ignoring a notification that is not JSON on %s", notification.channel);
      return;
    }
    if (!isRecord(header)) return;
    // a node hears its own notifications: skip them before fetching any attachment
    if ([...subscribers].every((s) => s.uid === header.uid)) return;
    const attachmentId = header.attachmentId;
    const channelNsp = notification.channel.slice(this.opts.channelPrefix.length + 1);
    if (typeof attachmentId !== "string" && typeof attachmentId !== "number") {
      this.receiving = this.receiving.then(() => this.route(header, channelNsp));
      return;
    }
    const fetched = this.fetchAttachment(String(attachmentId));
    this.receiving = this.receiving.then(async () => {
      try {
        this.route(await fetched, channelNsp);
      } catch (err) {
        this.fail(toError(err));
      }
    });
  }

  private async fetchAttachment(id: string): Promise<unknown> {
    await this.tableReady;
    const result = await this.pool.query(
      `SELECT payload FROM ${this.opts.tableName} WHERE id = $1`,
      [id],
    );
    const row = result.rows[0];
    if (!isRecord(row) || !(row.payload instanceof Uint8Array))
      throw new Error(
        `attachment ${id} not found in ${this.opts.tableName} (removed by the cleanup before it was read?)`,
      );
    return msgpackDecode(row.payload);
  }

  /** Hands a message to the adapters of its namespace: its `nsp`, or the channel's (the emitter sends none). */
  private route(message: unknown, channelNsp: string): void {
    if (!isRecord(message) || typeof message.type !== "number") return;
    const nsp = typeof message.nsp === "string" ? message.nsp : channelNsp;
    message.nsp = nsp;
    const subscribers = this.channels.get(this.channelOf(nsp));
    if (!subscribers) return;
    for (const subscriber of subscribers) {
      if (subscriber.uid === message.uid) continue;
      try {
        subscriber.deliver(message as unknown as ClusterMessage);
      } catch (err) {
        subscriber.fail(toError(err));
      }
    }
  }

  // --- publishing ----------------------------------------------------------------------------------------

  /**
   * Sends a message to the namespace's channel, in order after this transport's earlier messages, once this
   * node hears that channel. `evenIfDeaf`: a message that must not wait (a node's goodbye) goes at once when
   * the channel is deaf, out of turn.
   */
  publish(message: ClusterMessage, evenIfDeaf = false): Promise<void> {
    const channel = this.channelOf(message.nsp ?? "/");
    return new Promise((resolve, reject) => {
      const item: QueuedPublish = { message, channel, resolve, reject };
      if (evenIfDeaf && !this.listening.has(channel)) {
        this.sendBatch([item]).then(resolve, reject);
        return;
      }
      if (this.queue.length >= MAX_QUEUED_PUBLISHES) {
        reject(
          new Error(
            `${MAX_QUEUED_PUBLISHES} messages are waiting for Postgres: this one is dropped`,
          ),
        );
        return;
      }
      this.queue.push(item);
      this.drain();
    });
  }

  /** Sends the queue's messages, batch after batch, until it is empty or its head's channel is deaf. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    void this.drainQueue();
  }

  private async drainQueue(): Promise<void> {
    try {
      for (;;) {
        const head = this.queue[0];
        if (!head) return;
        if (!this.channels.has(head.channel)) {
          this.queue.shift();
          head.reject(new Error(`no longer listening on "${head.channel}": message not sent`));
          continue;
        }
        // drain() runs again once the channel is heard
        if (!this.listening.has(head.channel)) return;
        const batch = this.takeBatch();
        try {
          await this.sendBatch(batch);
          for (const item of batch) item.resolve();
        } catch (err) {
          for (const item of batch) item.reject(toError(err));
        }
      }
    } finally {
      // cleared in the same turn as the loop's end, so that a drain() right after starts a new one
      this.draining = false;
    }
  }

  /**
   * The next messages that can go in one round trip: plain notifications of channels heard, up to MAX_BATCH,
   * and no two equal ones (Postgres delivers one of equal notifications of a transaction); a message going
   * through the attachment table goes alone.
   */
  private takeBatch(): QueuedPublish[] {
    const first = this.queue.shift() as QueuedPublish;
    this.prepare(first);
    if (first.payload === undefined) return [first];
    const batch = [first];
    const seen = new Set([`${first.channel}\0${first.payload}`]);
    for (;;) {
      const next = this.queue[0];
      if (!next || batch.length >= MAX_BATCH || !this.listening.has(next.channel)) break;
      this.prepare(next);
      const key = `${next.channel}\0${next.payload}`;
      if (next.payload === undefined || seen.has(key)) break;
      seen.add(key);
      batch.push(this.queue.shift() as QueuedPublish);
    }
    return batch;
  }

  /** Sets `payload` when the message fits in a notification (no binary, JSON under the threshold). */
  private prepare(item: QueuedPublish): void {
    if (item.payload !== undefined) return;
    const { message } = item;
    if (MAY_CARRY_BINARY.has(message.type) && hasBinary(message.data)) return;
    const payload = JSON.stringify(message);
    const limit = Math.min(this.opts.payloadThreshold, NOTIFY_PAYLOAD_LIMIT);
    if (Buffer.byteLength(payload) < limit) item.payload = payload;
  }

  private async sendBatch(batch: QueuedPublish[]): Promise<void> {
    if (batch.length === 1) {
      const [item] = batch as [QueuedPublish];
      this.prepare(item);
      if (item.payload === undefined) {
        await this.sendAttachment(item.channel, item.message);
        return;
      }
    }
    const calls: string[] = [];
    const values: string[] = [];
    for (const item of batch) {
      calls.push(`pg_notify($${values.length + 1}, $${values.length + 2})`);
      values.push(item.channel, item.payload as string);
    }
    await this.pool.query(`SELECT ${calls.join(", ")}`, values);
  }

  private async sendAttachment(channel: string, message: ClusterMessage): Promise<void> {
    const payload = msgpackEncode(message);
    await this.ensureTable();
    const result = await this.pool.query(
      `INSERT INTO ${this.opts.tableName} (payload) VALUES ($1) RETURNING id`,
      [Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)],
    );
    const row = result.rows[0];
    const id = isRecord(row) ? row.id : undefined;
    if (typeof id !== "string" && typeof id !== "number")
      throw new Error(`no id returned for the attachment in ${this.opts.tableName}`);
    const header = JSON.stringify({
      uid: message.uid,
      type: message.type,
      attachmentId: String(id),
    });
    await this.pool.query("SELECT pg_notify($1, $2)", [channel, header]);
  }

  /**
   * Creates the attachment table when it is missing (the official adapter leaves that to the user). Nodes
   * starting together race on it: the loser's "already exists" errors mean it is there.
   */
  ensureTable(): Promise<void> {
    if (!this.tableReady) {
      this.tableReady = this.pool
        .query(
          `CREATE TABLE IF NOT EXISTS ${this.opts.tableName} (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)`,
        )
        .then(
          () => undefined,
          (err: unknown) => {
            const code = isRecord(err) ? err.code : undefined;
            // 23505: unique violation on pg_type, 42P07: duplicate table (a concurrent CREATE won)
            if (code === "23505" || code === "42P07") return;
            this.tableReady = undefined;
            throw err;
          },
        );
    }
    return this.tableReady;
  }

  private cleanup(): void {
    const query = `DELETE FROM ${this.opts.tableName} WHERE created_at < now() - interval '${this.opts.cleanupInterval} milliseconds'`;
    this.ensureTable()
      .then(() => this.pool.query(query))
      .catch((err: unknown) => this.fail(toError(err)));
  }
}
