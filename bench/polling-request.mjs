// One Engine.IO v4 long-polling request over plain HTTP (the bench's clients speak the protocol themselves):
// resolves with the response body as text, rejects on a status other than 200.
import http from "node:http";

export function pollingRequest(agent, port, method, sid, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method,
        path: `/socket.io/?EIO=4&transport=polling${sid ? `&sid=${sid}` : ""}`,
        agent,
        headers: body ? { "content-type": "text/plain;charset=UTF-8" } : {},
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${text}`));
          else resolve(text);
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
