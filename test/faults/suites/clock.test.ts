import { DateTime } from "luxon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nextFires } from "../../../src/triggers/index.js";
import { removePrefix, startTestTickler, testPrefix, type TestTickler } from "../../helpers/tickler.js";

/** Local wall-clock times of UTC instants in a zone, for reading assertions. */
const local = (ms: number[], zone: string) =>
  ms.map((m) => DateTime.fromMillis(m, { zone }).toFormat("yyyy-LL-dd HH:mm ZZZZ"));

describe("triggers across DST changes fire at the right local times (computed, not waited for)", () => {
  const prefix = testPrefix("clock");
  let t: TestTickler;
  beforeAll(async () => {
    t = await startTestTickler(prefix, { agents: { default: { url: "http://127.0.0.1:9/" } } }, "api");
  });
  afterAll(async () => {
    await t?.close();
    await removePrefix(prefix);
  });

  it("keeps a New York 09:00 weekday cron at 09:00 local across the November fall-back", async () => {
    await t.tickler.producer.upsert("c", "standup", {
      prompt: "x",
      cron: "0 9 * * 1-5",
      timezone: "America/New_York",
    });
    const { schedule } = await t.tickler.producer.get("c", "standup");
    const fires = nextFires(schedule, Date.parse("2027-11-04T00:00:00Z"), 3);
    expect(local(fires, "America/New_York")).toEqual([
      "2027-11-04 09:00 EDT",
      "2027-11-05 09:00 EDT",
      "2027-11-08 09:00 EST",
    ]);
    expect(new Date(fires[0]!).toISOString()).toBe("2027-11-04T13:00:00.000Z");
    expect(new Date(fires[2]!).toISOString()).toBe("2027-11-08T14:00:00.000Z");
  });

  it("runs a Berlin 02:30 cron once on both DST days: shifted to 03:30 in the spring gap, once in the autumn repeat", async () => {
    await t.tickler.producer.upsert("c", "nightly", {
      prompt: "x",
      cron: "30 2 * * *",
      timezone: "Europe/Berlin",
    });
    const { schedule } = await t.tickler.producer.get("c", "nightly");
    expect(local(nextFires(schedule, Date.parse("2027-03-27T12:00:00Z"), 2), "Europe/Berlin")).toEqual([
      "2027-03-28 03:30 GMT+2",
      "2027-03-29 02:30 GMT+2",
    ]);
    expect(local(nextFires(schedule, Date.parse("2027-10-30T12:00:00Z"), 2), "Europe/Berlin")).toEqual([
      "2027-10-31 02:30 GMT+2",
      "2027-11-01 02:30 GMT+1",
    ]);
  });

  it("reads a local `at` inside the spring-forward gap as the shifted time, and in the autumn repeat as the first", async () => {
    const gap = await t.tickler.producer.upsert("c", "gap", {
      prompt: "x",
      at: "2027-03-14T02:30:00",
      timezone: "America/New_York",
    });
    expect(gap.record.schedule).toEqual({ kind: "once", atMs: Date.parse("2027-03-14T07:30:00Z") });
    const repeat = await t.tickler.producer.upsert("c", "repeat", {
      prompt: "x",
      at: "2027-11-07T01:30:00",
      timezone: "America/New_York",
    });
    expect(repeat.record.schedule).toEqual({ kind: "once", atMs: Date.parse("2027-11-07T05:30:00Z") });
  });

  it("keeps a heartbeat's period exact in UTC across a change (so its local time moves by the hour)", async () => {
    await t.tickler.producer.upsert("c", "daily-beat", {
      prompt: "x",
      every: "24h",
      start_at: "2027-11-06T13:00:00Z",
    });
    const { schedule } = await t.tickler.producer.get("c", "daily-beat");
    const fires = nextFires(schedule, Date.parse("2027-11-06T00:00:00Z"), 2);
    expect(fires[1]! - fires[0]!).toBe(24 * 3600 * 1000);
    expect(local(fires, "America/New_York")).toEqual(["2027-11-06 09:00 EDT", "2027-11-07 08:00 EST"]);
  });
});
