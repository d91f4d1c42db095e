/**
 * The one query-string reader of every layer. It reads a request URL's query exactly as engine.io 6 does
 * (`new URL(url, base).searchParams`, then `Object.fromEntries`): `+` is a space, escapes are decoded, a
 * fragment is not part of the query, and when a key repeats the LAST value wins. Socket.IO's
 * `handshake.query` is that same object in socket.io, so both layers read a query the same way.
 */

/** The search part of `url` (between "?" and "#"), or undefined when it has none. */
function searchOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const start = url.indexOf("?");
  if (start === -1) return undefined;
  const hash = url.indexOf("#", start + 1);
  return hash === -1 ? url.slice(start + 1) : url.slice(start + 1, hash);
}

/**
 * Calls `visit(key, value)` for each parameter of `url`'s query, in order. Plain queries (what clients send: no
 * escapes, no "+") are scanned without URLSearchParams; the result is the same (test/util/query.test.ts).
 */
export function forEachQueryParam(
  url: string | undefined,
  visit: (key: string, value: string) => void,
): void {
  const search = searchOf(url);
  if (search === undefined || search === "") return;
  if (search.includes("%") || search.includes("+")) {
    for (const [key, value] of new URLSearchParams(search)) visit(key, value);
    return;
  }
  let from = 0;
  while (from < search.length) {
    let end = search.indexOf("&", from);
    if (end === -1) end = search.length;
    if (end > from) {
      const eq = search.indexOf("=", from);
      if (eq === -1 || eq > end) visit(search.slice(from, end), "");
      else visit(search.slice(from, eq), search.slice(eq + 1, end));
    }
    from = end + 1;
  }
}

/** Every parameter of `url`'s query as an object (a repeated key: the last value). */
export function parseQuery(url: string | undefined): Record<string, string> {
  const query: Record<string, string> = {};
  forEachQueryParam(url, (key, value) => {
    // as Object.fromEntries does: "__proto__" becomes an own property, not the prototype
    if (key === "__proto__") {
      Object.defineProperty(query, key, {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    } else query[key] = value;
  });
  return query;
}
