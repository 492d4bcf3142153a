import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import type { Principal } from "../config/index.js";
import { TicklerError } from "../triggers/index.js";

const digest = (token: string): Buffer => createHash("sha256").update(token).digest();

/**
 * Maps an `Authorization` header to a principal: `Bearer <token>`, or (where `basic` is allowed, for pages
 * a browser opens) HTTP Basic with any user name and the token as password. Tokens are compared as SHA-256
 * digests with timingSafeEqual against every configured token, so the time taken says nothing about how
 * close a guess was. With no tokens configured every caller is admin: the server then binds loopback only.
 */
export function principalFor(tokens: ReadonlyMap<string, Principal>): Lookup {
  // One lookup per token map (config's is frozen): a route that asks per request digests no token again.
  let lookup = lookups.get(tokens);
  if (!lookup) {
    lookup = lookupOf(tokens);
    lookups.set(tokens, lookup);
  }
  return lookup;
}

/** A principal lookup of {@link principalFor}. */
type Lookup = (header: string | undefined, opts?: { basic?: boolean }) => Principal | { error: TicklerError };

const lookups = new WeakMap<ReadonlyMap<string, Principal>, Lookup>();

function lookupOf(tokens: ReadonlyMap<string, Principal>): Lookup {
  const known = [...tokens].map(([token, principal]) => ({ digest: digest(token), principal }));
  return (header, opts = {}) => {
    if (known.length === 0) return { role: "admin" };
    const text = header ?? "";
    let token: string | undefined = /^Bearer\s+(\S+)\s*$/i.exec(text)?.[1];
    if (token === undefined && opts.basic) {
      const encoded = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(text)?.[1];
      const decoded = encoded === undefined ? "" : Buffer.from(encoded, "base64").toString("utf8");
      token = decoded.includes(":") ? decoded.slice(decoded.indexOf(":") + 1) : undefined;
    }
    if (token === undefined || token === "") {
      const message =
        text === ""
          ? "missing Authorization: Bearer <token> header"
          : "malformed Authorization header; expected Bearer <token>";
      return { error: new TicklerError("unauthorized", message) };
    }
    const candidate = digest(token);
    let found: Principal | undefined;
    for (const entry of known) if (timingSafeEqual(entry.digest, candidate)) found = entry.principal;
    return found ?? { error: new TicklerError("unauthorized", "unknown token") };
  };
}

/**
 * Express middleware: sets `req.principal` from the token, or fails with 401. HTTP Basic is accepted too,
 * so the console page (opened in a browser, logged in with Basic) can call the API it is built on.
 */
export function authenticate(tokens: ReadonlyMap<string, Principal>) {
  const lookup = principalFor(tokens);
  return (req: Request, _res: Response, next: NextFunction): void => {
    const header = req.get("authorization");
    const principal = lookup(header, { basic: true });
    if ("error" in principal) return next(principal.error);
    // A browser sends cached Basic credentials with cross-site form posts too: a write authenticated by
    // Basic must carry a header no cross-site form can set (CSRF).
    if (
      /^Basic\s/i.test(header ?? "") &&
      req.method !== "GET" &&
      req.method !== "HEAD" &&
      req.get("x-requested-with") !== CONSOLE_HEADER
    ) {
      return next(
        new TicklerError(
          "forbidden",
          `writes with HTTP Basic need the header X-Requested-With: ${CONSOLE_HEADER}; API clients should send Authorization: Bearer`,
        ),
      );
    }
    req.principal = principal;
    next();
  };
}

/** The header the console sends with its writes (see {@link authenticate}). */
export const CONSOLE_HEADER = "tickler-console";

/**
 * Middleware for admin pages a browser opens (Bull Board, the console): Bearer, or HTTP Basic with any user
 * name and an admin token as the password. A 401 carries `WWW-Authenticate: Basic` so the browser prompts.
 */
export function adminPages(tokens: ReadonlyMap<string, Principal>) {
  const lookup = principalFor(tokens);
  return (req: Request, res: Response, next: NextFunction): void => {
    const principal = lookup(req.get("authorization"), { basic: true });
    if ("error" in principal) {
      res.set("WWW-Authenticate", 'Basic realm="tickler admin", charset="UTF-8"');
      return next(principal.error);
    }
    if (principal.role !== "admin")
      return next(new TicklerError("forbidden", "this page needs an admin token"));
    req.principal = principal;
    next();
  };
}

/** Throws 403 unless the principal is admin or the user itself. */
export function assertMayActOn(principal: Principal | undefined, userId: string): void {
  if (!principal) throw new TicklerError("unauthorized", "not authenticated");
  if (principal.role === "admin" || principal.userId === userId) return;
  throw new TicklerError(
    "forbidden",
    `this token belongs to user "${principal.userId}" and may not act on user "${userId}"`,
  );
}

/** Throws 403 unless the principal is admin. */
export function assertAdmin(principal: Principal | undefined): void {
  if (!principal) throw new TicklerError("unauthorized", "not authenticated");
  if (principal.role !== "admin") throw new TicklerError("forbidden", "this route needs an admin token");
}

declare module "express-serve-static-core" {
  interface Request {
    principal?: Principal;
    requestId?: string;
  }
}
