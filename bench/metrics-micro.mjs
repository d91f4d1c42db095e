// The per-write cost of counting outgoing engine packets, without the rest of the server: a fan-out of one
// encoded message to TARGETS sessions, counted (a) not at all, (b) the previous way (a channel message per
// write to a subscriber that tallies), (c) through the engine's traffic counter the collector sets now.
// Run: npm run build && node bench/metrics-micro.mjs [iterations]   (mode "only:<name>" for callgrind)
import diagnostics from "node:diagnostics_channel";
import { createServer } from "node:http";
import { Server, ChannelName } from "../dist/index.js";
import { PreparedMessage } from "../dist/engine/index.js";
import { collectMetrics } from "../dist/metrics/index.js";

const TARGETS = 1000;
const iterations = Number(process.argv[2] ?? 2000);
const only = process.argv[3];
const io = new Server(createServer());
const metrics = collectMetrics(io);
const counter = io.engine._trafficCounter;
if (counter === undefined)
  throw new Error("the collector did not set the engine's traffic counter");
const data = "2" + JSON.stringify(["tick", { n: 1, text: "x".repeat(60) }]);
const sessions = Array.from({ length: TARGETS }, () => ({
  server: io.engine,
  transport: { name: "websocket" },
}));
// one prepared message for every target, as a broadcast's
const prepared = new PreparedMessage(data);
const packets = sessions.map(() => [{ type: "message", data, options: {}, prepared }]);
const channel = diagnostics.channel(ChannelName.ENGINE_PACKET_OUT);

const modes = {
  off() {
    for (let i = 0; i < TARGETS; i++)
      if (channel.hasSubscribers) channel.publish({ socket: sessions[i], packets: packets[i] });
  },
  channel() {
    for (let i = 0; i < TARGETS; i++)
      if (channel.hasSubscribers) channel.publish({ socket: sessions[i], packets: packets[i] });
  },
  counter() {
    for (let i = 0; i < TARGETS; i++) {
      const c = sessions[i].server._trafficCounter;
      if (c !== undefined) c.countOut(sessions[i].transport.name, packets[i]);
    }
  },
};
// The previous collector's subscriber, as it was: check the server, then tally.
const subscriber = (m) => {
  if (m.socket.server !== io.engine) return;
  counter.countOut(m.socket.transport.name, m.packets);
};

function run(name) {
  if (name === "channel") diagnostics.subscribe(ChannelName.ENGINE_PACKET_OUT, subscriber);
  const fn = modes[name];
  for (let i = 0; i < 200; i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const ns = Number(process.hrtime.bigint() - start) / (iterations * TARGETS);
  if (name === "channel") diagnostics.unsubscribe(ChannelName.ENGINE_PACKET_OUT, subscriber);
  return ns;
}

if (only) {
  run(only.replace("only:", ""));
} else {
  const results = { off: [], channel: [], counter: [] };
  for (let rep = 0; rep < 7; rep++)
    for (const name of Object.keys(results)) results[name].push(run(name));
  for (const [name, values] of Object.entries(results)) {
    values.sort((a, b) => a - b);
    console.log(
      `${name.padEnd(8)} median ${values[3].toFixed(1)} ns/target  (min ${values[0].toFixed(1)}, max ${values[6].toFixed(1)})`,
    );
  }
}
metrics.close();
io.close();
