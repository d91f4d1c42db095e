/** A raw HTTP request: no agent, no automatic decompression, so tests see the bytes on the wire. */
import * as http from "node:http";
import type { Socket } from "node:net";

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RawRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export function request(
  port: number,
  path: string,
  options: RawRequestOptions = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: options.method ?? "GET",
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/**
 * An agent that opens a new connection per request and keeps track of the open ones: behind a balancer of
 * connections (node:cluster's round-robin), each request of a client is balanced anew.
 */
export class OneConnectionPerRequest extends http.Agent {
  readonly open = new Set<Socket>();
  /** Connections opened so far. */
  opened = 0;

  constructor() {
    super({ keepAlive: false });
  }

  override createConnection(...args: Parameters<http.Agent["createConnection"]>) {
    const socket = super.createConnection(...args) as Socket;
    this.opened++;
    this.open.add(socket);
    socket.once("close", () => this.open.delete(socket));
    return socket;
  }
}
