/** Reading an engine request without patching it: the query parameters the engine needs. */
import { forEachQueryParam } from "../util/query";

export interface EngineQuery {
  transport: string | undefined;
  sid: string | undefined;
  EIO: string | undefined;
}

/** `transport`, `sid` and `EIO` from the request URL, read as src/util/query.ts reads any query. */
export function parseEngineQuery(url: string | undefined): EngineQuery {
  const query: EngineQuery = { transport: undefined, sid: undefined, EIO: undefined };
  forEachQueryParam(url, (key, value) => {
    if (key === "transport" || key === "sid" || key === "EIO") query[key] = value;
  });
  return query;
}
