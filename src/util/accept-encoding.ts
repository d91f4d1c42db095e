/**
 * The one `Accept-Encoding` negotiation of every layer (engine `httpCompression`, the served client bundles).
 * It follows `accepts(req).encodings(offered)`, which engine.io and socket.io both use (negotiator 0.6):
 * - a coding is "name" or "name;params"; the first `q=` parameter is its weight, read with parseFloat (so an
 *   unreadable weight is not a positive number and refuses the coding); no `q` means 1;
 * - names compare case-insensitively; an exact name beats `*` whatever their weights; `x-gzip` is not `gzip`;
 * - among the offered codings with a weight above 0, the highest weight wins, then the one listed first in the
 *   header, then the one offered first;
 * - no header, or nothing acceptable: undefined (send the identity).
 */

interface AcceptedCoding {
  readonly name: string;
  readonly q: number;
  /** Position in the header. */
  readonly index: number;
}

const CODING = /^\s*([^\s;]+)\s*(?:;(.*))?$/;

function parseAccepted(header: string): AcceptedCoding[] {
  const accepted: AcceptedCoding[] = [];
  const parts = header.split(",");
  for (let index = 0; index < parts.length; index++) {
    const match = CODING.exec((parts[index] as string).trim());
    if (match === null) continue;
    let q = 1;
    const params = match[2];
    if (params !== undefined && params !== "") {
      for (const param of params.split(";")) {
        const [key, value] = param.trim().split("=");
        if (key === "q") {
          q = Number.parseFloat(value ?? "");
          break;
        }
      }
    }
    accepted.push({ name: (match[1] as string).toLowerCase(), q, index });
  }
  return accepted;
}

interface Priority {
  /** 1 for an exact name, 0 for "*". */
  readonly s: number;
  readonly q: number;
  /** Position in the header of the entry that gave the weight. */
  readonly o: number;
  /** Position in `offered`. */
  readonly i: number;
}

/**
 * The entry that rules `name`: the most specific, then the heaviest, then the latest. The comparisons chain with
 * `||` on purpose: an unreadable weight (NaN) ties, as in negotiator.
 */
function priorityOf(name: string, accepted: readonly AcceptedCoding[], i: number): Priority {
  let best: Priority = { s: 0, q: 0, o: -1, i };
  for (const entry of accepted) {
    let s: number;
    if (entry.name === name) s = 1;
    else if (entry.name === "*") s = 0;
    else continue;
    if ((best.s - s || best.q - entry.q || best.o - entry.index) < 0) {
      best = { s, q: entry.q, o: entry.index, i };
    }
  }
  return best;
}

/** Negative when `a` is preferred to `b`. */
function compare(a: Priority, b: Priority): number {
  return b.q - a.q || b.s - a.s || a.o - b.o || a.i - b.i;
}

/** The coding of `offered` (identity excepted) to respond with, or undefined for none. */
export function negotiateEncoding<T extends string>(
  header: string | undefined,
  offered: readonly T[],
): T | undefined {
  if (header === undefined || header === "") return undefined;
  const accepted = parseAccepted(header);
  let best: Priority | undefined;
  for (let i = 0; i < offered.length; i++) {
    const priority = priorityOf((offered[i] as string).toLowerCase(), accepted, i);
    if (!(priority.q > 0)) continue;
    if (best === undefined || compare(priority, best) < 0) best = priority;
  }
  return best === undefined ? undefined : offered[best.i];
}
