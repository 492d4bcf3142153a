import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { runImport } from "../../src/import/run-import.js";
import { NATS_URL, useStream } from "../helpers/nats.js";
import { runTickler } from "../helpers/processes.js";
import { useTickler } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

const FIXTURES = new URL("../fixtures/import/", import.meta.url).pathname;

describe("tickler import", () => {
  // Loom's subjects are fixed: this file's own stream listens on them (no other test may).
  const stream = useStream("loom", ["loom.goals.incoming", "loom.tasks.incoming"]);
  const fx = useTickler("import", {
    // The list a Loom entry's expand_from names, served where --expand-url points; every other path is an agent.
    sink: (request) =>
      request.path.endsWith("/lists/feeds.list")
        ? {
            body: JSON.stringify([
              { key: "hn", feed: "https://hn" },
              { key: "rs", feed: "https://lobste.rs" },
            ]),
          }
        : {},
    file: () => ({ allow_target_urls: true, agents: { default: { url: fx.sink.url } } }),
  });
  /** Runs the import in this process against the fixture tickler: exit code and what it printed. */
  const importing = async (...args: string[]) => {
    const out: string[] = [];
    const code = await runImport(
      args,
      (line) => out.push(line),
      (line) => out.push(line),
      () => fx.t.config,
    );
    return { code, out: out.join("\n") };
  };
  const producer = () => fx.t.tickler.producer;

  it("maps Loom's documented scheduler example, shows it on --dry-run first, and the entries publish to Loom's subjects", async () => {
    const file = join(FIXTURES, "loom-scheduler.yaml");
    const dry = await importing(file, "--url", NATS_URL, "--dry-run");
    expect(dry.out).toMatch(/would create\s+default_scheduler\/hourly_summarize/);
    expect(dry.out).toMatch(/would create\s+default_scheduler\/every_5m_healthcheck/);
    expect(dry.out).toMatch(/could not map.*per_feed_refresh.*expand_from/);
    expect(dry.out).toMatch(/dry run, nothing stored/);
    expect(dry.code).toBe(1); // one entry could not be mapped
    expect((await producer().list("default_scheduler")).items).toHaveLength(0);

    const done = await importing(file, "--url", NATS_URL);
    expect(done.out).toMatch(/created\s+default_scheduler\/hourly_summarize/);
    expect(done.out).toMatch(/loom .*: 3 entries, 1 could not map, 2 created/);
    const again = await importing(file, "--url", NATS_URL);
    expect(again.out).toMatch(/2 unchanged/);

    const goal = await producer().get("default_scheduler", "hourly_summarize");
    expect(goal.spec.schedule.written).toMatchObject({ form: "cron", cron: "0 * * * *" });
    const task = await producer().get("default_scheduler", "every_5m_healthcheck");
    expect(task.spec.schedule.written).toMatchObject({ form: "every" });

    await producer().runNow("default_scheduler", "hourly_summarize");
    await producer().runNow("default_scheduler", "every_5m_healthcheck");
    const messages = await waitFor(async () => {
      const all = await stream.messages();
      return all.length >= 2 ? all : null;
    }, "the goal and the task on Loom's subjects");
    const bySubject = Object.fromEntries(messages.map((m) => [m.subject, m.body]));
    expect(bySubject["loom.goals.incoming"]).toMatchObject({
      instruction: "Summarize all new documents from the last hour",
      context: { source: "incoming_docs" },
      priority: "normal",
    });
    expect(bySubject["loom.tasks.incoming"]).toMatchObject({
      worker_type: "health_checker",
      payload: { check: "system_status" },
      model_tier: "local",
      priority: "low",
    });

    // With --expand-url, the fan-out entry maps too: each fire fetches the list and publishes a task per feed.
    const expanded = await importing(file, "--url", NATS_URL, "--expand-url", `${fx.sink.url}/lists`);
    expect(expanded.out).toMatch(/created\s+default_scheduler\/per_feed_refresh/);
    expect(expanded.code).toBe(0);
    await producer().runNow("default_scheduler", "per_feed_refresh");
    const feeds = await waitFor(async () => {
      const tasks = (await stream.messages()).filter((m) => m.body.worker_type === "feed_refresher");
      return tasks.length >= 2 ? tasks : null;
    }, "a feed_refresher task per feed");
    expect(feeds.map((m) => m.body.payload)).toEqual(
      expect.arrayContaining([
        { key: "hn", feed: "https://hn" },
        { key: "rs", feed: "https://lobste.rs" },
      ]),
    );
  });

  it("maps Agno schedule rows to AgentOS runs (format: agentos), and a row's run reaches its endpoint", async () => {
    const file = join(FIXTURES, "agno-schedules.json");
    const { code, out } = await importing(
      file,
      "--url",
      fx.sink.url,
      "--header",
      "Authorization: Bearer os-key",
    );
    expect(out).toMatch(/created\s+ops\/weekday-report/);
    expect(out).toMatch(/created\s+agno\/Daily-echo.*named Daily-echo \(from "Daily echo"\)/);
    expect(out).toMatch(/could not map.*no-message.*payload has no message/);
    expect(code).toBe(1);
    const report = await producer().get("ops", "weekday-report");
    expect(report.spec).toMatchObject({ threadKey: "team-standup", enabled: true });
    expect(report.schedule).toMatchObject({
      kind: "cron",
      cron: "0 9 * * 1-5",
      timezone: "America/New_York",
    });
    expect(report.spec.retry).toMatchObject({ attempts: 3, delayMs: 30_000, backoff: "fixed" });
    expect((await producer().get("agno", "Daily-echo")).spec.enabled).toBe(false);

    await producer().runNow("ops", "weekday-report");
    const [run] = await waitFor(
      () => fx.sink.received.filter((r) => r.path.endsWith("/agents/reporter/runs")),
      "the AgentOS run request",
    );
    expect(run!.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(run!.headers.authorization).toBe("Bearer os-key");
    expect(Object.fromEntries(new URLSearchParams(run!.raw))).toEqual({
      message: "Generate morning report",
      stream: "false",
      user_id: "ops",
      session_id: "team-standup",
    });
  });

  it("maps protoPen's jobs table; a fire missed less than 24 h ago fires at once, an older one is not imported", async () => {
    const db = join(mkdtempSync(join(tmpdir(), "tickler-protopen-")), "jobs.db");
    const now = Date.now();
    const times: Record<string, string> = {
      now: new Date(now).toISOString(),
      tomorrow8: new Date(now + 86_400_000).toISOString(),
      in1h: new Date(now + 3_600_000).toISOString(),
      ago2h: new Date(now - 7_200_000).toISOString(),
      ago3d: new Date(now - 3 * 86_400_000).toISOString(),
    };
    const sql = readFileSync(join(FIXTURES, "protopen-jobs.sql"), "utf8").replace(
      /\{\{(\w+)\}\}/g,
      (_, key: string) => times[key]!,
    );
    const sqlite = new Database(db);
    sqlite.exec(sql);
    sqlite.close();

    expect((await importing(db)).out).toMatch(/give --url http:\/\/<agent host:port>/);
    const { code, out } = await importing(db, "--url", fx.sink.url);
    expect(out).toMatch(/created\s+gina-work\/morning-brief/);
    expect(out).toMatch(/created\s+gina-work\/a1b2c3d4e5f6/);
    expect(out).toMatch(/created\s+gina-work\/missed-while-down.*fires once now/);
    expect(out).toMatch(/could not map.*long-gone.*more than 24 h ago/);
    expect(code).toBe(1);

    const [missed] = await waitFor(
      () =>
        fx.sink.received.filter((r) => r.path.endsWith("/a2a") && JSON.stringify(r.body).includes("missed")),
      "the missed one-shot's A2A SendMessage",
    );
    expect(missed!.body).toMatchObject({ jsonrpc: "2.0", method: "SendMessage" });
    expect(JSON.stringify(missed!.body)).toContain("You missed this while the server was down");
    const brief = await producer().get("gina-work", "morning-brief");
    expect(brief.spec.schedule.written).toMatchObject({ form: "cron", cron: "0 8 * * *" });
    expect(brief.spec.missedPolicy).toBe("run_once");
  });

  it("refuses bad arguments and unreadable files with a line saying how to fix them", async () => {
    expect(await importing()).toMatchObject({ code: 2, out: expect.stringMatching(/give exactly one file/) });
    expect(await importing("x.txt")).toMatchObject({ code: 2, out: expect.stringMatching(/add --from/) });
    expect(await importing("x.yaml", "--from", "cronitor")).toMatchObject({
      code: 2,
      out: expect.stringMatching(/use one of loom, agno, protopen/),
    });
    expect(await importing("x.yaml", "--if-exists", "merge")).toMatchObject({ code: 2 });
    expect(await importing("x.json", "--header", "no colon")).toMatchObject({
      code: 2,
      out: expect.stringMatching(/write it as "Name: value"/),
    });
    expect(await importing("x.yaml", "--agent", "a", "--url", "http://x")).toMatchObject({ code: 2 });
    expect(await importing("/nonexistent/loom.yaml")).toMatchObject({
      code: 1,
      out: expect.stringMatching(/cannot read it/),
    });
    expect(await importing(join(FIXTURES, "agno-schedules.json"), "--from", "loom")).toMatchObject({
      code: 1,
      out: expect.stringMatching(/not a Loom scheduler config/),
    });
    const help = await runTickler(["import", "--help"], {});
    expect(help.code).toBe(0);
    expect(help.output).toMatch(/tickler import <file>/);
  });
});
