/** A raw Engine.IO v4 WebSocket peer, for sending what no official client would. */
import WebSocket from "ws";
import { next } from "./io";

export interface RawPeer {
  ws: WebSocket;
  received: Array<string | Buffer>;
  /** Sends the Socket.IO CONNECT for "/" and waits for the server's answer. */
  connectMain(): Promise<string>;
  closed: Promise<number>;
}

/** Opens a WebSocket session; pings are answered unless `answerPings` is false. */
export async function openRaw(port: number, answerPings = true): Promise<RawPeer> {
  const ws = new WebSocket(`ws://localhost:${port}/socket.io/?EIO=4&transport=websocket`);
  const received: Array<string | Buffer> = [];
  const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
  ws.on("error", () => {});
  ws.on("message", (data, isBinary) => {
    const message = isBinary ? (data as Buffer) : data.toString();
    if (message === "2" && answerPings) ws.send("3");
    received.push(message);
  });
  await next(ws, "open");
  const deadline = Date.now() + 15000;
  while (!received.some((m) => typeof m === "string" && m.startsWith("0{"))) {
    if (Date.now() > deadline) throw new Error("no open packet");
    await new Promise((r) => setTimeout(r, 5));
  }
  return {
    ws,
    received,
    closed,
    async connectMain() {
      ws.send("40");
      const until = Date.now() + 15000;
      for (;;) {
        const answer = received.find((m) => typeof m === "string" && m.startsWith("40"));
        if (answer) return answer as string;
        if (Date.now() > until) throw new Error("no CONNECT answer");
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}
