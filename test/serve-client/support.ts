// A raw HTTP request helper: no automatic decompression, so tests see the bytes on the wire.
import { request as rawRequest, type RawResponse } from "../support/http";

export type { RawResponse } from "../support/http";

/** GET (or `method`) with the given headers. */
export function request(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<RawResponse> {
  return rawRequest(port, path, { method, headers });
}
