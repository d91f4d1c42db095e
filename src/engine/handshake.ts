/**
 * The handshake of a new session, after the synchronous checks (checks.ts) passed: `allowRequest` (code 4), the
 * protocol revision (code 5), then the session id from `generateId`, which may return a Promise (a throw or a
 * rejection is code 3 ID_GENERATION_ERROR). Also the open packet the session sends first.
 */
import type { IncomingMessage } from "node:http";
import createDebug from "debug";
import { TOO_MANY_CONNECTIONS } from "./address-limit";
import { checkAllowed, checkProtocol, type Refusal } from "./checks";
import { ErrorCode } from "./errors";
import type { ResolvedOptions } from "./options";
import type { EngineProtocol } from "./protocol";
import type { EngineQuery } from "./request";

const debug = createDebug("switchyard:engine");

/** What the handshake needs from the server. */
export interface HandshakeHost {
  readonly opts: ResolvedOptions;
  /** `Server#generateId`, which users may override. */
  generateId(req: IncomingMessage): string | PromiseLike<string>;
  /**
   * Takes a place for a session from `req`'s address; false when it has `maxConnectionsPerAddress` sessions
   * (or handshakes that took a place) already.
   */
  reserveAddress?(req: IncomingMessage): boolean;
}

export type HandshakeResult =
  | { readonly id: string; readonly protocol: EngineProtocol; readonly refusal?: undefined }
  | { readonly refusal: Refusal };

export async function handshake(
  host: HandshakeHost,
  req: IncomingMessage,
  query: EngineQuery,
): Promise<HandshakeResult> {
  const forbidden = await checkAllowed(host.opts.allowRequest, req);
  if (forbidden !== undefined) return { refusal: forbidden };

  const protocol = checkProtocol(query, host.opts.allowEIO3 === true);
  if ("code" in protocol) return { refusal: protocol };
  try {
    const id = await host.generateId(req);
    // counted last, when nothing else can refuse the handshake: a place taken here is the session's, or given
    // back by the caller if the session does not open after all (server closed, upgrade aborted)
    if (host.reserveAddress?.(req) === false) {
      return { refusal: { code: ErrorCode.FORBIDDEN, context: { message: TOO_MANY_CONNECTIONS } } };
    }
    return { id: String(id), protocol };
  } catch (error) {
    debug("error while generating an id");
    return {
      refusal: { code: ErrorCode.BAD_REQUEST, context: { name: "ID_GENERATION_ERROR", error } },
    };
  }
}

/**
 * The open packets' JSON after the sid, one per transport a session may start on (the options are fixed, so it
 * is built once per server).
 */
export function openPacketSuffixes(
  opts: ResolvedOptions,
  upgradesFrom: (transport: string) => string[],
): Readonly<Record<string, string>> {
  const suffix = (name: string): string =>
    `,"upgrades":${JSON.stringify(upgradesFrom(name))},"pingInterval":${opts.pingInterval},` +
    `"pingTimeout":${opts.pingTimeout},"maxPayload":${opts.maxHttpBufferSize}}`;
  return { polling: suffix("polling"), websocket: suffix("websocket") };
}

/** The open packet's JSON for session `id` on `transport`. */
export function openPacket(
  suffixes: Readonly<Record<string, string>>,
  id: string,
  transport: string,
): string {
  return `{"sid":${JSON.stringify(id)}${suffixes[transport] ?? ""}`;
}
