// The demo page: plain browser JavaScript on top of the official client (`io`, loaded from the
// server's own /socket.io/socket.io.js). No build step.
"use strict";

const params = new window.URLSearchParams(window.location.search);
const forcedTransports = params.get("transports");
const $ = (id) => document.getElementById(id);

let socket;
let myRooms = [];

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function time(at) {
  return new Date(at).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

function logEvent(text, kind = "info") {
  const item = el("li", { className: kind }, [el("time", { textContent: time(Date.now()) }), text]);
  $("events").prepend(item);
  while ($("events").children.length > 50) $("events").lastChild.remove();
}

function setStatus(state, text) {
  $("status").dataset.state = state;
  $("status").textContent = text;
}

function setTransport(name) {
  $("transport").textContent = name;
  $("transport").dataset.transport = name;
}

function renderStats(stats) {
  $("node-name").textContent = stats.node;
  $("clients-count").textContent = String(stats.clientsCount);
  $("sockets-count").textContent = String(stats.socketsCount);
  $("adapter-name").textContent = stats.adapter;
}

function renderRooms(rooms) {
  const before = new Set(myRooms);
  const after = new Set(rooms);
  for (const room of rooms) if (!before.has(room)) logEvent(`now in room "${room}"`, "room");
  for (const room of myRooms) if (!after.has(room)) logEvent(`no longer in room "${room}"`, "room");
  myRooms = rooms;

  const list = $("my-rooms");
  list.replaceChildren(
    ...rooms.map((room) =>
      el("li", { dataset: { room, testid: "room" } }, [
        el("span", { textContent: room }),
        el("button", {
          type: "button",
          className: "link",
          textContent: "leave",
          title: `socket.leave("${room}")`,
          onclick: () => socket.emit("leave", room, renderRooms),
        }),
      ]),
    ),
  );
  $("no-rooms").hidden = rooms.length > 0;

  const select = $("message-room");
  const selected = select.value;
  select.replaceChildren(...rooms.map((room) => el("option", { value: room, textContent: room })));
  if (rooms.includes(selected)) select.value = selected;
  $("send").disabled = rooms.length === 0;
}

function addMessage({ from, room, text, at }, mine) {
  const status = el("span", { className: "status", dataset: { testid: "message-status" } });
  const item = el("li", { className: mine ? "mine" : "", dataset: { testid: "message", room } }, [
    el("div", { className: "meta" }, [
      el("strong", { textContent: from }),
      el("span", { className: "tag", textContent: `#${room}` }),
      el("time", { textContent: time(at) }),
    ]),
    el("p", { className: "text", textContent: text, dataset: { testid: "message-body" } }),
    status,
  ]);
  $("messages").append(item);
  $("messages").scrollTop = $("messages").scrollHeight;
  return status;
}

function renderSockets(sockets) {
  $("sockets-body").replaceChildren(
    ...sockets.map(({ id, data, rooms }) =>
      el(
        "tr",
        {
          title: "click to target this socket",
          dataset: { id, testid: "socket-row" },
          onclick: () => ($("admin-target").value = id),
        },
        [
          el("td", { textContent: data.username ?? "?" }),
          el("td", { className: "mono", textContent: id }),
          el("td", { textContent: rooms.join(", ") || "–" }),
          el("td", { textContent: data.node ?? "?" }),
          el("td", { textContent: data.transport ?? "?" }),
        ],
      ),
    ),
  );
}

function admin(action, { quiet = false } = {}) {
  const request = {
    action,
    target: $("admin-target").value,
    except: $("admin-except").value,
    room: $("admin-room").value,
  };
  socket.emit("admin", request, (response) => {
    if (!response.ok) {
      $("admin-result").textContent = `error: ${response.error}`;
      return;
    }
    if (action === "fetchSockets") {
      const { stats, sockets } = response.result;
      renderStats(stats);
      renderSockets(sockets);
      // a background refresh updates the table only, so it never hides the result of a later action
      if (!quiet) $("admin-result").textContent = `fetchSockets(): ${sockets.length} socket(s)`;
      return;
    }
    $("admin-result").textContent = response.result;
    // The utility methods do not wait for remote nodes; refresh the table a moment later.
    if (action !== "hello") {
      setTimeout(() => socket.connected && admin("fetchSockets", { quiet: true }), 250);
    }
  });
}

function connect(username) {
  if (socket) socket.disconnect();
  myRooms = [];
  const options = { auth: { username } };
  if (forcedTransports) options.transports = forcedTransports.split(",");
  socket = io(options);
  setStatus("connecting", "connecting…");
  // Events received while reconnecting: a recovered session gets what it missed before "connect".
  let missedWhileAway;
  socket.onAny(() => {
    if (missedWhileAway !== undefined) missedWhileAway++;
  });

  socket.on("connect", () => {
    const engine = socket.io.engine;
    setStatus("connected", `connected as ${username}`);
    setTransport(engine.transport.name);
    engine.once("upgrade", (transport) => {
      setTransport(transport.name);
      logEvent(`upgraded to ${transport.name}`);
    });
    $("socket-id").textContent = socket.id;
    if (missedWhileAway !== undefined) {
      logEvent(
        socket.recovered
          ? `reconnected: ${missedWhileAway} missed events delivered (same id, rooms and data)`
          : "reconnected: a new session (the previous one could not be recovered)",
      );
      missedWhileAway = undefined;
    }
    $("login").hidden = true;
    $("app").hidden = false;
  });

  socket.on("connect_error", (err) => {
    setStatus("error", `connect error: ${err.message}`);
    $("login").hidden = false;
  });

  socket.on("disconnect", (reason) => {
    setStatus("disconnected", `disconnected (${reason})`);
    logEvent(`disconnected: ${reason}`, "warn");
    missedWhileAway = 0;
    if (!socket.active) {
      $("connect").textContent = "Reconnect";
      $("login").hidden = false;
    }
  });

  socket.on("welcome", ({ stats, cluster, recovered }) => {
    renderStats(stats);
    if (recovered) return;
    renderRooms([]);
    for (const event of cluster) logEvent(event.text, "cluster");
    logEvent(`welcome, ${username}: ${stats.node} runs the ${stats.adapter} adapter`);
  });
  socket.on("stats", renderStats);
  socket.on("rooms", renderRooms);
  socket.on("cluster", (event) => logEvent(event.text, "cluster"));

  socket.on("message", (message, ack) => {
    addMessage(message, false);
    ack("received");
  });
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  connect($("username").value.trim());
});

$("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const room = $("room-input").value.trim();
  if (!room) return;
  socket.emit("join", room, (rooms) => {
    renderRooms(rooms);
    $("message-room").value = room;
  });
  $("room-input").value = "";
});

$("message-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const room = $("message-room").value;
  const text = $("message-text").value.trim();
  if (!room || !text) return;
  const status = addMessage({ from: "me", room, text, at: Date.now() }, true);
  status.textContent = "sending…";
  status.dataset.state = "pending";
  socket.timeout(10000).emit("message", { room, text }, (err, response) => {
    if (err || response.error) {
      status.textContent = err ? "no acknowledgement" : response.error;
      status.dataset.state = "failed";
      return;
    }
    const readers = response.delivered === 1 ? "1 reader" : `${response.delivered} readers`;
    status.textContent = `✓ delivered · ${readers}`;
    status.dataset.state = "delivered";
  });
  $("message-text").value = "";
});

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", () => admin(button.dataset.action));
}

const initialName = params.get("name");
if (initialName) {
  $("username").value = initialName;
  connect(initialName);
}

// The live chart: the numbers of /metrics (Prometheus text, the same a scraper gets), read every second.
// Connections: switchyard_sockets_connected summed; messages per second: the change of the events
// received and sent (a broadcast counts once) between two reads.
const CHART_POINTS = 60;
const chart = { connections: [], rates: [], lastMessages: undefined, lastAt: 0 };

function sumSamples(text, name) {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

function drawLine(id, values, max) {
  const step = 300 / (CHART_POINTS - 1);
  const offset = CHART_POINTS - values.length;
  const points = values.map(
    (v, i) => `${((offset + i) * step).toFixed(1)},${(78 - (v / max) * 74).toFixed(1)}`,
  );
  $(id).setAttribute("points", points.join(" "));
}

async function readMetrics() {
  const response = await window.fetch("/metrics", { cache: "no-store" });
  const text = await response.text();
  const now = Date.now();
  const connections = sumSamples(text, "switchyard_sockets_connected");
  const messages =
    sumSamples(text, "switchyard_events_received_total") +
    sumSamples(text, "switchyard_events_sent_total");
  if (chart.lastMessages !== undefined) {
    const rate = ((messages - chart.lastMessages) * 1000) / Math.max(1, now - chart.lastAt);
    chart.rates.push(rate);
    if (chart.rates.length > CHART_POINTS) chart.rates.shift();
    $("metric-rate").textContent = rate.toFixed(1);
  }
  chart.lastMessages = messages;
  chart.lastAt = now;
  chart.connections.push(connections);
  if (chart.connections.length > CHART_POINTS) chart.connections.shift();
  $("metric-connections").textContent = String(connections);
  drawLine("chart-connections", chart.connections, Math.max(1, ...chart.connections));
  drawLine("chart-messages", chart.rates, Math.max(1, ...chart.rates));
}

function pollMetrics() {
  readMetrics()
    .catch(() => {})
    .finally(() => setTimeout(pollMetrics, 1000));
}
pollMetrics();
