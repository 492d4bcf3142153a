import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, TicklerError } from "../../src/triggers/index.js";

describe("the error catalogue", () => {
  it("is documented in the README, code by code", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    for (const code of Object.keys(ERROR_CODES))
      expect(readme, `README lists ${code}`).toContain(`\`${code}\``);
  });
  it("serialises to the wire shape with status and retryable from the catalogue", () => {
    const error = new TicklerError("invalid_cron", "cron: bad", { field: "cron" });
    expect(error.toJSON()).toEqual({ code: "invalid_cron", message: "cron: bad", field: "cron" });
    expect(error.status).toBe(400);
    expect(new TicklerError("redis_unavailable", "x").retryable).toBe(true);
  });
});
