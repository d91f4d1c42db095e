/**
 * switchyard/metrics: Prometheus metrics for a Switchyard server, with prom-client (an optional peer
 * dependency: install it beside switchyard to use this module).
 *
 *   collectMetrics(io).attach(httpServer); // GET /metrics
 *
 * The collector is fed by the diagnostics channels (src/diagnostics.ts), the one instrumentation path: it
 * subscribes to them while it runs, so a server without a collector publishes nothing. On each message it only
 * adds to plain numbers (see tallies.ts); prom-client's metrics read them when the registry is scraped, so the
 * cost per packet is a channel call and a few additions, never a label hash.
 */
import diagnostics from "node:diagnostics_channel";
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type * as PromClient from "prom-client";
import {
  type AckMessage,
  type AdapterErrorMessage,
  type AdapterRequestMessage,
  type BroadcastMessage,
  ChannelName,
  type ConnectionMessage,
  type DisconnectMessage,
  type EngineCloseMessage,
  type EngineOpenMessage,
  type EnginePacketInMessage,
  type EnginePacketOutMessage,
  type EngineRefusedMessage,
  type EngineUpgradeMessage,
  type EventCounter,
  type EventInMessage,
  type EventOutMessage,
} from "../diagnostics";
import type { Server } from "../server/server";
import type { EventsMap } from "../server/typed-events";
import { BoundedNames, EngineTraffic, Tally, type Traffic } from "./tallies";

export interface MetricsOptions {
  /** The registry to register on (the application's, typically); a new one by default. */
  registry?: PromClient.Registry;
  /** Prefix of every metric name. Default "switchyard_". */
  prefix?: string;
  /**
   * Event names counted under their own label; any other is counted as "other". By default the first
   * `maxEventNames` names seen are kept.
   */
  eventNames?: readonly string[];
  /** With no `eventNames`, how many distinct event names get their own label. Default 50. */
  maxEventNames?: number;
  /** How many distinct namespaces get their own label (dynamic namespaces); the rest are "other". Default 50. */
  maxNamespaces?: number;
  /** Buckets of the ack round-trip histogram, in seconds. */
  ackBuckets?: number[];
  /** Buckets of the adapter request duration histogram, in seconds. */
  requestBuckets?: number[];
  /** Buckets of the handshake-to-upgrade histogram, in seconds. */
  upgradeBuckets?: number[];
}

/** A request handler serving the registry: an `http.Server` request listener and an Express-style handler. */
export type MetricsHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (err?: unknown) => void,
) => void;

export interface Metrics {
  /** The registry the metrics are registered on. */
  readonly registry: PromClient.Registry;
  /** Serves the registry in the Prometheus text format (for `app.get("/metrics", ...)` or `http.createServer`). */
  readonly handler: MetricsHandler;
  /**
   * Serves the registry at `path` (default "/metrics") on `server`: GET requests to that path are answered,
   * every other request goes to the server's other listeners, as they were.
   */
  attach(server: HttpServer, path?: string): this;
  /** The exposition text, as a scrape gets it. */
  text(): Promise<string>;
  /** Stops collecting (unsubscribes from the channels) and removes the metrics from the registry. */
  close(): void;
}

const DEFAULT_ACK_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DEFAULT_REQUEST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DEFAULT_UPGRADE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function loadPromClient(): typeof PromClient {
  try {
    return require("prom-client") as typeof PromClient;
  } catch (err) {
    throw new Error(
      'switchyard/metrics needs the "prom-client" package (npm install prom-client): ' +
        (err as Error).message,
    );
  }
}

/**
 * Starts collecting the metrics of `io` (every namespace, every engine session of `io.engine`) on a registry
 * and returns the handle that serves it.
 */
export function collectMetrics<
  ListenEvents extends EventsMap,
  EmitEvents extends EventsMap,
  ServerSideEvents extends EventsMap,
  SocketData,
>(
  io: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>,
  opts: MetricsOptions = {},
): Metrics {
  const prom = loadPromClient();
  const registry = opts.registry ?? new prom.Registry();
  const prefix = opts.prefix ?? "switchyard_";
  const server = io as unknown as Server;
  const eventNames = new BoundedNames(opts.maxEventNames ?? 50, opts.eventNames);
  const namespaces = new BoundedNames(opts.maxNamespaces ?? 50);

  // ---- the tallies the channel subscribers add to ----
  const handshakes = new Tally(["transport"]);
  const refused = new Tally(["code"]);
  const engineCloses = new Tally(["reason", "transport"]);
  const trafficCounter = new EngineTraffic(); // packets and bytes in and out
  const upgrades = new Tally(["from", "to"]);
  const connections = new Tally(["namespace"]);
  const disconnects = new Tally(["namespace", "reason"]);
  const eventsIn = new Tally(["event"]);
  const eventsOut = new Tally(["event"]);
  const broadcasts = new Tally(["namespace"]);
  const recipients = new Tally(["namespace"]);
  const ackTimeouts = new Tally(["event"]);
  const requests = new Tally(["type", "outcome"]);
  const partial = new Tally(["type"]);
  const adapterErrors = new Tally(["namespace"]);
  const openedAt = new WeakMap<object, number>();

  // ---- prom-client metrics: counters read the tallies at scrape time ----
  const metrics: PromClient.Metric[] = [];
  type ForEach = (fn: (labels: Record<string, string>, value: number) => void) => void;
  const counter = (
    name: string,
    help: string,
    tally: Tally | { labelNames: readonly string[]; forEach: ForEach },
  ): void => {
    metrics.push(
      new prom.Counter({
        name: prefix + name,
        help,
        labelNames: tally.labelNames,
        registers: [],
        collect() {
          this.reset();
          tally.forEach((labels, value) => this.inc(labels, value));
        },
      }),
    );
  };
  const packets = (traffic: Traffic) => ({
    labelNames: ["transport", "type"],
    forEach: (fn: Parameters<ForEach>[0]) => traffic.forEachPacketCount(fn),
  });
  const bytes = (traffic: Traffic) => ({
    labelNames: ["transport"],
    forEach: (fn: Parameters<ForEach>[0]) => traffic.forEachBytes(fn),
  });
  counter("engine_handshakes_total", "Engine.IO sessions opened, by first transport", handshakes);
  counter(
    "engine_connection_errors_total",
    "Requests refused by the engine, by connection_error code (0-5)",
    refused,
  );
  counter(
    "engine_closes_total",
    "Engine.IO sessions closed, by reason and last transport",
    engineCloses,
  );
  counter(
    "engine_packets_received_total",
    "Engine.IO packets received, by transport and type",
    packets(trafficCounter.received),
  );
  counter(
    "engine_packets_sent_total",
    "Engine.IO packets sent, by transport and type",
    packets(trafficCounter.sent),
  );
  counter(
    "engine_received_bytes_total",
    "Bytes of Engine.IO packets received (type and data, before framing)",
    bytes(trafficCounter.received),
  );
  counter(
    "engine_sent_bytes_total",
    "Bytes of Engine.IO packets sent (type and data, before framing and compression)",
    bytes(trafficCounter.sent),
  );
  counter("engine_upgrades_total", "Sessions upgraded from one transport to another", upgrades);
  counter("connections_total", "Sockets connected to a namespace", connections);
  counter("disconnects_total", "Sockets disconnected from a namespace, by reason", disconnects);
  counter(
    "events_received_total",
    "Events received from clients, by name (others: other)",
    eventsIn,
  );
  counter(
    "events_sent_total",
    "Events sent: socket.emit once per socket, a broadcast once (by name, others: other)",
    eventsOut,
  );
  counter("broadcasts_total", "Broadcasts delivered on this node", broadcasts);
  counter(
    "broadcast_recipients_total",
    "Sockets written to by broadcasts on this node",
    recipients,
  );
  counter("ack_timeouts_total", "Acks of socket.timeout(ms).emit that expired", ackTimeouts);
  counter(
    "adapter_requests_total",
    "Requests to the other nodes of a cluster, by type and outcome (complete, timeout, aborted)",
    requests,
  );
  counter(
    "adapter_request_partial_total",
    "Requests to other nodes that ended with some answers missing",
    partial,
  );
  counter(
    "adapter_errors_total",
    "Adapter failures (what the adapter's error event reports)",
    adapterErrors,
  );

  const ackSeconds = new prom.Histogram({
    name: prefix + "ack_duration_seconds",
    help: "Round trip of socket.emit acks: from the emit to the client's answer",
    buckets: opts.ackBuckets ?? DEFAULT_ACK_BUCKETS,
    registers: [],
  });
  const requestSeconds = new prom.Histogram({
    name: prefix + "adapter_request_duration_seconds",
    help: "Duration of requests to the other nodes of a cluster, by type",
    labelNames: ["type"],
    buckets: opts.requestBuckets ?? DEFAULT_REQUEST_BUCKETS,
    registers: [],
  });
  const upgradeSeconds = new prom.Histogram({
    name: prefix + "engine_upgrade_delay_seconds",
    help: "Time from the handshake to the completed transport upgrade",
    buckets: opts.upgradeBuckets ?? DEFAULT_UPGRADE_BUCKETS,
    registers: [],
  });
  metrics.push(ackSeconds, requestSeconds, upgradeSeconds);

  metrics.push(
    new prom.Gauge({
      name: prefix + "sockets_connected",
      help: "Sockets connected now, by namespace and transport",
      labelNames: ["namespace", "transport"],
      registers: [],
      collect() {
        this.reset();
        for (const [name, nsp] of server._nsps) {
          const byTransport = new Map<string, number>();
          for (const socket of nsp.sockets.values()) {
            const transport = socket.conn.transport.name;
            byTransport.set(transport, (byTransport.get(transport) ?? 0) + 1);
          }
          const namespace = namespaces.label(name);
          for (const [transport, n] of byTransport) this.inc({ namespace, transport }, n);
        }
      },
    }),
    new prom.Gauge({
      name: prefix + "engine_sessions",
      help: "Engine.IO sessions open now, by transport",
      labelNames: ["transport"],
      registers: [],
      collect() {
        this.reset();
        const engine = server.engine as typeof server.engine | undefined;
        if (engine === undefined) return;
        for (const sid in engine.clients) {
          const session = engine.clients[sid];
          if (session !== undefined) this.inc({ transport: session.transport.name }, 1);
        }
      },
    }),
    new prom.Gauge({
      name: prefix + "engine_write_buffer_packets",
      help: "Packets waiting in the sessions' write buffers for their transport to become writable",
      registers: [],
      collect() {
        let total = 0;
        const engine = server.engine as typeof server.engine | undefined;
        if (engine !== undefined) {
          for (const sid in engine.clients) total += engine.clients[sid]?.writeBuffer.length ?? 0;
        }
        this.set(total);
      },
    }),
  );

  for (const metric of metrics) registry.registerMetric(metric);

  // ---- the channel subscribers: filter on this server, then add ----
  const ours = (engineServer: object): boolean => engineServer === server.engine;
  const ourAdapter = (namespace: string, adapter: object): boolean =>
    server._nsps.get(namespace)?.adapter === adapter;

  const subscribers: Array<[string, (message: unknown) => void]> = [
    [
      ChannelName.ENGINE_OPEN,
      (m) => {
        const { socket, transport } = m as EngineOpenMessage;
        if (!ours(socket.server)) return;
        handshakes.add1(transport);
        openedAt.set(socket, performance.now());
      },
    ],
    [
      ChannelName.ENGINE_REFUSED,
      (m) => {
        const message = m as EngineRefusedMessage;
        if (ours(message.server)) refused.add1(String(message.code));
      },
    ],
    [
      ChannelName.ENGINE_UPGRADE,
      (m) => {
        const { socket, from, to } = m as EngineUpgradeMessage;
        if (!ours(socket.server)) return;
        upgrades.add2(from, to);
        const start = openedAt.get(socket);
        if (start !== undefined) upgradeSeconds.observe((performance.now() - start) / 1000);
      },
    ],
    [
      ChannelName.ENGINE_CLOSE,
      (m) => {
        const { socket, reason, transport } = m as EngineCloseMessage;
        if (ours(socket.server)) engineCloses.add2(reason, transport);
      },
    ],
    [
      ChannelName.CONNECTION,
      (m) => {
        const { socket } = m as ConnectionMessage;
        if (socket.nsp.server === server) connections.add1(namespaces.label(socket.nsp.name));
      },
    ],
    [
      ChannelName.DISCONNECT,
      (m) => {
        const { socket, reason } = m as DisconnectMessage;
        if (socket.nsp.server === server)
          disconnects.add2(namespaces.label(socket.nsp.name), reason);
      },
    ],
    [
      ChannelName.ACK,
      (m) => {
        const { socket, event, durationMs, timedOut } = m as AckMessage;
        if (socket.nsp.server !== server) return;
        if (timedOut) ackTimeouts.add1(eventNames.label(event));
        else ackSeconds.observe(durationMs / 1000);
      },
    ],
    [
      ChannelName.BROADCAST,
      (m) => {
        const message = m as BroadcastMessage;
        if (!ourAdapter(message.namespace, message.adapter)) return;
        const namespace = namespaces.label(message.namespace);
        broadcasts.add1(namespace);
        recipients.add(namespace, message.recipients);
        const data = message.packet.data;
        if (Array.isArray(data)) eventsOut.add1(eventNames.label(data[0]));
      },
    ],
    [
      ChannelName.ADAPTER_REQUEST,
      (m) => {
        const message = m as AdapterRequestMessage;
        if (!ourAdapter(message.namespace, message.adapter)) return;
        requests.add2(message.type, message.outcome);
        if (message.received < message.expected) partial.add1(message.type);
        requestSeconds.observe({ type: message.type }, message.durationMs / 1000);
      },
    ],
    [
      ChannelName.ADAPTER_ERROR,
      (m) => {
        const message = m as AdapterErrorMessage;
        if (ourAdapter(message.namespace, message.adapter)) {
          adapterErrors.add1(namespaces.label(message.namespace));
        }
      },
    ],
  ];
  // Engine packets: the engine's traffic counter (no message per packet, which a fan-out would pay once per
  // target). A second collector on the same engine, or a server not yet bound to one, uses the channels.
  const engineServer = server.engine as typeof server.engine | undefined;
  if (engineServer !== undefined && engineServer._trafficCounter === undefined) {
    engineServer._trafficCounter = trafficCounter;
  } else {
    subscribers.push(
      [
        ChannelName.ENGINE_PACKET_IN,
        (m) => {
          const { socket, packet } = m as EnginePacketInMessage;
          if (ours(socket.server)) trafficCounter.countIn(socket.transport.name, packet);
        },
      ],
      [
        ChannelName.ENGINE_PACKET_OUT,
        (m) => {
          const { socket, packets } = m as EnginePacketOutMessage;
          if (ours(socket.server)) trafficCounter.countOut(socket.transport.name, packets);
        },
      ],
    );
  }
  // Events: the server's event counter (no message, no copy of the arguments per event); channels for a
  // second collector on the same server.
  const eventCounter: EventCounter = {
    countIn(event) {
      eventsIn.add1(eventNames.label(event));
    },
    countOut(event) {
      eventsOut.add1(eventNames.label(event));
    },
  };
  if (server._eventCounter === undefined) {
    server._eventCounter = eventCounter;
  } else {
    subscribers.push(
      [
        ChannelName.EVENT_IN,
        (m) => {
          const { socket, event } = m as EventInMessage;
          if (socket.nsp.server === server) eventCounter.countIn(event);
        },
      ],
      [
        ChannelName.EVENT_OUT,
        (m) => {
          const { socket, event } = m as EventOutMessage;
          if (socket.nsp.server === server) eventCounter.countOut(event);
        },
      ],
    );
  }
  for (const [name, fn] of subscribers) diagnostics.subscribe(name, fn);

  const text = (): Promise<string> => registry.metrics();
  const handler: MetricsHandler = (_req, res, next) => {
    text().then(
      (body) => {
        res.writeHead(200, { "Content-Type": registry.contentType });
        res.end(body);
      },
      (err: unknown) => {
        if (next) {
          next(err);
          return;
        }
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.end(String(err));
      },
    );
  };

  const handle: Metrics = {
    registry,
    handler,
    text,
    attach(httpServer, path = "/metrics") {
      const previous = httpServer.listeners("request") as Array<
        (req: IncomingMessage, res: ServerResponse) => void
      >;
      httpServer.removeAllListeners("request");
      httpServer.on("request", (req: IncomingMessage, res: ServerResponse) => {
        const url = req.url ?? "/";
        const query = url.indexOf("?");
        if (req.method === "GET" && (query === -1 ? url : url.slice(0, query)) === path) {
          handler(req, res);
          return;
        }
        for (const listener of previous) listener.call(httpServer, req, res);
      });
      return this;
    },
    close() {
      for (const [name, fn] of subscribers) diagnostics.unsubscribe(name, fn);
      if (engineServer?._trafficCounter === trafficCounter)
        engineServer._trafficCounter = undefined;
      if (server._eventCounter === eventCounter) server._eventCounter = undefined;
      for (const metric of metrics) {
        registry.removeSingleMetric((metric as unknown as { name: string }).name);
      }
    },
  };
  return handle;
}
