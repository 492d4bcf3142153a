import { TicklerError, checkName } from "../triggers/index.js";

/** Cursors are opaque to clients: base64url of the position. */
export const encodeCursor = (value: string | null): string | null =>
  value === null ? null : Buffer.from(value).toString("base64url");

/** A cursor from a previous page back to its position; anything else is a 400 on `query.cursor`. */
export function decodeCursor(value: string | undefined): string | null {
  if (value === undefined || value === "") return null;
  const decoded = Buffer.from(value, "base64url").toString("utf8");
  if (decoded === "" || Buffer.from(decoded).toString("base64url") !== value) {
    throw new TicklerError("invalid_field", "query.cursor: not a cursor from a previous page", {
      field: "query.cursor",
    });
  }
  return decoded;
}

/** The `user_id` and `name` path parameters, checked. */
export function triggerParams(params: Record<string, string>): { userId: string; name: string } {
  return {
    userId: checkName(params.user_id, "user_id"),
    name: params.name === undefined ? "" : checkName(params.name, "name"),
  };
}
