import type { z } from "zod";
import { invalid } from "./errors.js";
import type { targetSchema } from "./trigger-input.js";
import type { Target, TriggerRules } from "./trigger-spec.js";

/**
 * Checks a trigger's `target` against the rules: an agent named in config, or (admins, where allowed) an
 * http(s) URL without credentials whose host is not refused (link-local, metadata addresses).
 *
 * @throws TicklerError `target_not_allowed` or `invalid_field`
 */
export function checkTarget(
  target: z.infer<typeof targetSchema> | null,
  rules: TriggerRules,
  field = "target",
): Target | null {
  if (target === null) return null;
  if ("agent" in target) {
    if (!rules.agents.has(target.agent)) {
      const known = [...rules.agents].join(", ") || "none configured";
      throw invalid(
        "target_not_allowed",
        `${field}.agent`,
        `no agent "${target.agent}" in config (known: ${known})`,
      );
    }
    return { agent: target.agent };
  }
  if (!rules.allowTargetUrls) {
    throw invalid(
      "target_not_allowed",
      `${field}.url`,
      "explicit target URLs are off; name an agent from config with target: {agent}, or (admins) set allow_target_urls: true",
    );
  }
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    throw invalid("invalid_field", `${field}.url`, `"${target.url}" is not an absolute URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalid(
      "target_not_allowed",
      `${field}.url`,
      `only http and https URLs are allowed, got ${url.protocol}`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw invalid(
      "target_not_allowed",
      `${field}.url`,
      "credentials in the URL are not allowed; use target.headers (Authorization)",
    );
  }
  const blocked = rules.blockedHost?.(url.hostname);
  if (blocked) throw invalid("target_not_allowed", `${field}.url`, blocked);
  return {
    url: url.toString(),
    method: target.method ?? "POST",
    headers: target.headers ?? {},
    format: target.format ?? "json",
    a2aVersion: target.a2a_version ?? "1.0",
  };
}
