/** Reading an engine request without patching it: the query parameters the engine needs. */
import { forEachQueryParam } from "../util/query";

export interface EngineQuery {
  transport: string | undefined;
  sid: string | undefined;
  EIO: string | undefined;
  /** The first of `transport`, `sid`, `EIO` that the query gives more than once (such a request is refused). */
  repeated?: "transport" | "sid" | "EIO";
}

/** `transport`, `sid` and `EIO` from the request URL, read as src/util/query.ts reads any query. */
export function parseEngineQuery(url: string | undefined): EngineQuery {
  const query: EngineQuery = { transport: undefined, sid: undefined, EIO: undefined };
  forEachQueryParam(url, (key, value) => {
    if (key === "transport" || key === "sid" || key === "EIO") {
      if (query[key] !== undefined) query.repeated ??= key;
      query[key] = value;
    }
  });
  return query;
}
