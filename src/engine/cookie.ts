/** The `cookie` option: a Set-Cookie header carrying the session id on the handshake response. */

export interface CookieOptions {
  /** Cookie name; default "io". */
  name?: string;
  /** Default "/"; false for no Path attribute. */
  path?: string | false;
  /** Default true (unless `path` is false, as in engine.io). */
  httpOnly?: boolean;
  /** Default "lax". */
  sameSite?: boolean | "lax" | "strict" | "none";
  domain?: string;
  maxAge?: number;
  expires?: Date;
  secure?: boolean;
  partitioned?: boolean;
  priority?: "low" | "medium" | "high";
  encode?: (value: string) => string;
}

export interface ResolvedCookieOptions extends CookieOptions {
  name: string;
}

export function resolveCookieOptions(
  option: boolean | CookieOptions | undefined,
): ResolvedCookieOptions | false {
  if (!option) return false;
  const given = option === true ? {} : option;
  return {
    name: "io",
    path: "/",
    httpOnly: given.path !== false,
    sameSite: "lax",
    ...given,
  };
}

const SAME_SITE: Record<string, string> = { lax: "Lax", strict: "Strict", none: "None" };
const PRIORITY: Record<string, string> = { low: "Low", medium: "Medium", high: "High" };

/** Serializes one Set-Cookie value (the `cookie` package's attribute order). */
export function serializeCookie(value: string, opts: ResolvedCookieOptions): string {
  const encode = opts.encode ?? encodeURIComponent;
  let out = `${opts.name}=${encode(value)}`;
  if (opts.maxAge !== undefined) out += `; Max-Age=${Math.floor(opts.maxAge)}`;
  if (opts.domain) out += `; Domain=${opts.domain}`;
  if (opts.path) out += `; Path=${opts.path}`;
  if (opts.expires) out += `; Expires=${opts.expires.toUTCString()}`;
  if (opts.httpOnly) out += "; HttpOnly";
  if (opts.secure) out += "; Secure";
  if (opts.partitioned) out += "; Partitioned";
  if (opts.priority) out += `; Priority=${PRIORITY[opts.priority] ?? opts.priority}`;
  if (opts.sameSite) {
    out += `; SameSite=${opts.sameSite === true ? "Strict" : (SAME_SITE[opts.sameSite] ?? opts.sameSite)}`;
  }
  return out;
}
