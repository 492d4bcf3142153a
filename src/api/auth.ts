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
export function principalFor(tokens: ReadonlyMap<string, Principal>) {
  const known = [...tokens].map(([token, principal]) => ({ digest: digest(token), principal }));
  return (
    header: string | undefined,
    opts: { basic?: boolean } = {},
  ): Principal | { error: TicklerError } => {
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

/** Express middleware: sets `req.principal` from a bearer token, or fails with 401. */
export function authenticate(tokens: ReadonlyMap<string, Principal>) {
  const lookup = principalFor(tokens);
  return (req: Request, _res: Response, next: NextFunction): void => {
    const principal = lookup(req.get("authorization"));
    if ("error" in principal) return next(principal.error);
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
