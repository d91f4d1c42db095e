// The soak's clients (bench/soak.mjs forks this): raw Engine.IO v4 WebSockets answering pings, driven over IPC so
// that their memory and CPU are not the server's. Commands: hold, cycles, readers, slow, echo, close; each
// answers { done: command, ... }.
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

const url = process.argv[2];
const held = [];

/** Opens a session and CONNECTs to "/"; `onEvent` sees the event packets. Resolves null on failure. */
function open(onEvent) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on("error", () => resolve(null));
    ws.on("message", (d) => {
      const m = d.toString();
      if (m === "2") ws.send("3");
      else if (m.startsWith("0{")) ws.send("40");
      else if (m.startsWith("40")) resolve(ws);
      else if (onEvent && m.startsWith("4")) onEvent(m);
    });
  });
}

async function openMany(n, onEvent) {
  const out = [];
  for (let i = 0; i < n; i += 200) {
    const batch = Math.min(200, n - i);
    out.push(...(await Promise.all(Array.from({ length: batch }, () => open(onEvent)))));
  }
  return out.filter(Boolean);
}

async function echoLatency(ws, count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await new Promise((resolve) => {
      const on = (d) => {
        if (d.toString().startsWith("43")) {
          ws.off("message", on);
          resolve();
        }
      };
      ws.on("message", on);
      ws.send(`420["echo",${i}]`);
    });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(count - 1, Math.floor(count * q))];
  return { p50: at(0.5), p99: at(0.99) };
}

let echo = null;
process.on("message", async (msg) => {
  switch (msg.cmd) {
    case "hold": {
      const opened = await openMany(msg.n);
      held.push(...opened);
      process.send({ done: "hold", opened: opened.length });
      break;
    }
    case "cycles": {
      let ok = 0;
      for (let i = 0; i < msg.n; i += 50) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(50, msg.n - i) }, () => open()),
        );
        for (const ws of batch) {
          if (ws === null) continue;
          ok++;
          ws.close();
        }
      }
      process.send({ done: "cycles", ok });
      break;
    }
    case "readers": {
      // clients that join the "feed" room and read everything
      const opened = await openMany(msg.n);
      for (const ws of opened) ws.send('42["feed"]');
      held.push(...opened);
      process.send({ done: "readers", opened: opened.length });
      break;
    }
    case "slow": {
      // clients that join the "feed" room, then stop reading
      const opened = await openMany(msg.n);
      for (const ws of opened) {
        ws.send('42["feed"]');
        ws._socket.pause();
      }
      held.push(...opened);
      process.send({ done: "slow", opened: opened.length });
      break;
    }
    case "echo": {
      echo ??= await open();
      if (msg.feed) echo.send('42["feed"]');
      process.send({ done: "echo", ...(await echoLatency(echo, msg.count)) });
      break;
    }
    case "close":
      for (const ws of held) ws.terminate();
      echo?.terminate();
      process.send({ done: "close" });
      break;
  }
});
process.send({ ready: true });
