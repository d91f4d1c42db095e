/** Reading an engine request without patching it: the query parameters the engine needs. */
import { forEachQueryParam } from "../util/query";

export interface EngineQuery {
  transport: string | undefined;
  sid: string | undefined;
  EIO: string | undefined;
  /** Revision 3: present (non-empty) when the client cannot take binary polling bodies. */
  b64: string | undefined;
  /** JSONP polling: the callback index. */
  j: string | undefined;
  /** The first of `transport`, `sid`, `EIO` that the query gives more than once (such a request is refused). */
  repeated?: "transport" | "sid" | "EIO";
}

/** `transport`, `sid`, `EIO`, `b64` and `j` from the request URL, read as src/util/query.ts reads any query. */
export function parseEngineQuery(url: string | undefined): EngineQuery {
  const query: EngineQuery = {
    transport: undefined,
    sid: undefined,
    EIO: undefined,
    b64: undefined,
    j: undefined,
  };
  forEachQueryParam(url, (key, value) => {
    if (key === "transport" || key === "sid" || key === "EIO" || key === "b64" || key === "j") {
      if (key !== "b64" && key !== "j" && query[key] !== undefined) query.repeated ??= key;
      query[key] = value;
    }
  });
  return query;
}
