import type { z } from "zod";
import { invalid } from "./errors.js";
import type { natsSchema, targetSchema } from "./trigger-input.js";
import type { LoomDispatch, NatsTarget, Target, TriggerRules } from "./trigger-spec.js";

/** The subjects Loom's orchestrators and router listen on, where a dispatch names no subject. */
export const LOOM_SUBJECTS: Record<LoomDispatch, string> = {
  goal: "loom.goals.incoming",
  task: "loom.tasks.incoming",
};

/** A subject to publish to: dot-separated tokens, no wildcards or spaces. */
const SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;

/**
 * Checks a NATS target: `nats://` (or `tls://`) server URLs, comma-separated, and a subject to publish to
 * (Loom's incoming subject by default for a dispatch).
 *
 * @throws TicklerError `invalid_field`
 */
export function checkNats(input: z.infer<typeof natsSchema>, field: string): NatsTarget {
  const servers = input.url
    .split(",")
    .map((server) => server.trim())
    .filter((server) => server !== "");
  if (servers.length === 0)
    throw invalid("invalid_field", `${field}.url`, "expected a NATS server URL, e.g. nats://127.0.0.1:4222");
  for (const server of servers) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw invalid(
        "invalid_field",
        `${field}.url`,
        `"${server}" is not a URL; expected e.g. nats://127.0.0.1:4222`,
      );
    }
    if (!["nats:", "tls:", "ws:", "wss:"].includes(url.protocol))
      throw invalid(
        "invalid_field",
        `${field}.url`,
        `a NATS server URL starts nats:// or tls://, got ${url.protocol}//`,
      );
  }
  const dispatch = input.dispatch ?? null;
  const subject = input.subject ?? (dispatch === null ? null : LOOM_SUBJECTS[dispatch]);
  if (subject === null)
    throw invalid(
      "invalid_field",
      `${field}.subject`,
      "a NATS target needs the subject to publish to, e.g. subject: agents.turns",
    );
  if (!SUBJECT.test(subject))
    throw invalid(
      "invalid_field",
      `${field}.subject`,
      `"${subject}" is not a subject to publish to: dot-separated tokens without spaces or the wildcards * and >`,
    );
  return { servers: servers.join(","), subject, jetstream: input.jetstream ?? false, dispatch };
}

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
  if ("nats" in target) {
    if (field === "notify")
      throw invalid(
        "target_not_allowed",
        "notify.nats",
        "notifications go to an HTTP URL or an agent; not to NATS",
      );
    if (!rules.allowTargetUrls)
      throw invalid(
        "target_not_allowed",
        `${field}.nats`,
        "explicit targets are off; name an agent from config with target: {agent}, or (admins) set allow_target_urls: true",
      );
    return { nats: checkNats(target.nats, `${field}.nats`) };
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
