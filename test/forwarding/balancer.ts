/**
 * Debian's haproxy in front of test nodes: round-robin per request, no affinity, TCP health checks every
 * 500 ms (a generated config).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../support/net";

export const HAPROXY = process.env.HAPROXY ?? "/usr/sbin/haproxy";

export interface Balancer {
  port: number;
  url: string;
  close(): Promise<void>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Starts haproxy balancing `backends` (ports on 127.0.0.1) round-robin, every request on its own. */
export async function startBalancer(backends: readonly number[]): Promise<Balancer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "switchyard-haproxy-"));
  const config = [
    "global",
    "  maxconn 512",
    "defaults",
    "  mode http",
    "  timeout connect 5s",
    "  timeout client 90s",
    "  timeout server 90s",
    "  timeout tunnel 90s",
    // the server side closes after each response: the next request of a client is balanced anew
    "  option http-server-close",
    // a dead node: connections to it are retried on another (redispatch), and the health check takes it out
    "  retries 3",
    "  option redispatch 1",
    "frontend front",
    `  bind 127.0.0.1:${port}`,
    "  default_backend nodes",
    "backend nodes",
    "  balance roundrobin",
    ...backends.map((p, i) => `  server n${i} 127.0.0.1:${p} check inter 500 fall 2 rise 1`),
    "",
  ].join("\n");
  const file = join(dir, "haproxy.cfg");
  writeFileSync(file, config);
  const child: ChildProcess = spawn(HAPROXY, ["-db", "-f", file], { stdio: "ignore" });
  let exited = false;
  child.once("exit", () => (exited = true));
  const deadline = Date.now() + 15000;
  while (!(await accepts(port))) {
    if (exited) throw new Error("haproxy exited at start");
    if (Date.now() > deadline) throw new Error("haproxy did not start");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      if (!exited) {
        const done = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
