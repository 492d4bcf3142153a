import { afterAll, describe, expect, it } from "vitest";
import { repartition } from "../../src/producer/repartition.js";
import { runTickler } from "../helpers/processes.js";
import { startSink, type Sink } from "../helpers/sink.js";
import { removePrefix, startTestTickler, testConfig, testPrefix } from "../helpers/tickler.js";
import { waitFor } from "../helpers/wait.js";

/**
 * `tickler repartition` moves a stopped deployment's triggers between partition counts: 1 (untagged, as
 * data from before partitions is) → 4 → 2, each trigger with its definition, bookkeeping and pending fire.
 */
describe.skipIf(process.env.TICKLER_TEST_CLUSTER)("tickler repartition", () => {
  const prefix = testPrefix("repart");
  let sink: Sink | undefined;
  afterAll(async () => {
    await sink?.close();
    await removePrefix(prefix);
  });
  const users = Array.from({ length: 12 }, (_, i) => `user${i}`);
  const file = () => ({ agents: { default: { url: sink!.url } } });

  it("moves every trigger with its definition, fire count and pending fire, and they fire in their new partitions", async () => {
    sink = await startSink();
    const before = await startTestTickler(prefix, file(), "all", { TICKLER_PARTITIONS: "1" });
    for (const user of users) {
      await before.tickler.producer.upsert(user, "later", { prompt: `later ${user}`, delay: "1h" });
      await before.tickler.producer.upsert(user, "beat", { prompt: `beat ${user}`, every: "1s" });
    }
    await waitFor(
      () => users.every((u) => sink!.received.some((r) => r.body.prompt === `beat ${u}`)),
      "the first beats",
    );
    const records = new Map(
      await Promise.all(users.map(async (u) => [u, await before.tickler.producer.get(u, "beat")] as const)),
    );
    await before.close();

    // A process still configured otherwise is refused while the data is in the old layout.
    await expect(startTestTickler(prefix, file(), "api", { TICKLER_PARTITIONS: "4" })).rejects.toThrow(
      /tickler repartition --to 4/,
    );
    const config = testConfig(prefix, file(), { TICKLER_PARTITIONS: "4" });
    expect(await repartition(config, 4, { dryRun: true })).toMatchObject({
      moved: 24,
      from: "1",
      to: "4 tagged",
    });
    expect(await repartition(config, 4)).toMatchObject({ moved: 24, stayed: 0 });

    sink.received.length = 0;
    const after = await startTestTickler(prefix, file(), "all", { TICKLER_PARTITIONS: "4" });
    try {
      for (const user of users) {
        const moved = await after.tickler.producer.get(user, "beat");
        const was = records.get(user)!;
        expect(moved.spec).toEqual(was.spec);
        expect(moved.schedule).toEqual(was.schedule); // the heartbeat's phase
        expect(moved.fireCount).toBeGreaterThanOrEqual(was.fireCount);
        expect((await after.tickler.producer.get(user, "later")).spec.prompt).toBe(`later ${user}`);
      }
      const listed = await after.api("GET", "/v1/triggers?limit=100");
      expect(listed.body.items).toHaveLength(24);
      await waitFor(
        () => users.every((u) => sink!.received.some((r) => r.body.prompt === `beat ${u}`)),
        "beats from the new partitions",
      );
      const queue = await after.api("GET", "/v1/queue");
      expect(queue.body).toMatchObject({ partitions: 4, schedulers: 12 });
    } finally {
      await after.close();
    }

    // And back down to two, through the command.
    const { code, output } = await runTickler(["repartition", "--to", "2"], {
      TICKLER_PREFIX: prefix,
      TICKLER_PARTITIONS: "2",
    });
    expect(code, output).toBe(0);
    expect(output).toMatch(/moved \d+ trigger\(s\) from 4 tagged to 2 tagged/);
    const two = await startTestTickler(prefix, file(), "api", { TICKLER_PARTITIONS: "2" });
    try {
      expect((await two.api("GET", "/v1/triggers?limit=100")).body.items).toHaveLength(24);
    } finally {
      await two.close();
    }
  });

  it("refuses a bad --to and explains itself with --help", async () => {
    const bad = await runTickler(["repartition", "--to", "0"], { TICKLER_PREFIX: prefix });
    expect(bad.code).toBe(2);
    expect(bad.output).toMatch(/--to <N> is required, a whole number from 1 to 1024/);
    const help = await runTickler(["repartition", "--help"], { TICKLER_PREFIX: prefix });
    expect(help.code).toBe(0);
    expect(help.output).toMatch(/Stop every tickler process/);
  });
});
