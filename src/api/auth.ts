import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import type { Principal } from "../config/index.js";
import { TicklerError } from "../triggers/index.js";

const digest = (token: string): Buffer => createHash("sha256").update(token).digest();

/**
 * Maps `Authorization: Bearer <token>` to a principal. Tokens are compared as SHA-256 digests with
 * timingSafeEqual against every configured token, so the time taken says nothing about how close a guess
 * was. With no tokens configured every caller is admin: the server then listens on loopback only.
 */
export function authenticate(tokens: ReadonlyMap<string, Principal>) {
  const known = [...tokens].map(([token, principal]) => ({ digest: digest(token), principal }));
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (known.length === 0) {
      req.principal = { role: "admin" };
      return next();
    }
    const header = req.get("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      return next(
        new TicklerError(
          "unauthorized",
          header === ""
            ? "missing Authorization: Bearer <token> header"
            : "malformed Authorization header; expected Bearer <token>",
        ),
      );
    }
    const candidate = digest(match[1] as string);
    let found: Principal | undefined;
    for (const entry of known) if (timingSafeEqual(entry.digest, candidate)) found = entry.principal;
    if (!found) return next(new TicklerError("unauthorized", "unknown token"));
    req.principal = found;
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
