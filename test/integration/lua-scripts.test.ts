import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keysFor } from "../../src/redis/keys.js";
import { runScript } from "../../src/redis/scripts.js";
import { REDIS_URL, removePrefix, testPrefix } from "../helpers/tickler.js";

describe("tickler's Lua scripts", () => {
  const prefix = testPrefix("lua");
  const keys = keysFor(prefix);
  let redis: Redis;
  const write = (expected: number, quota: number, name: string, version: number, lockToken = "") =>
    runScript<number>(
      redis,
      "writeTrigger",
      [
        keys.trigger(`u/${name}`),
        keys.userIndex("u"),
        keys.allIndex,
        keys.counts,
        keys.intents,
        keys.definition(`u/${name}`),
        keys.writeLock(`u/${name}`),
      ],
      [
        expected,
        quota,
        name,
        `u/${name}`,
        1,
        `{"v":${version}}`,
        lockToken,
        "version",
        version,
        "sv",
        version,
        "bucket",
        bucket,
      ],
    );
  let bucket = "once:active";
  const counts = async () => redis.hgetall(keys.counts);

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    redis.disconnect();
    await removePrefix(prefix);
  });

  describe("write-trigger.lua", () => {
    it("creates only when absent, updates only from the version read, and indexes the trigger", async () => {
      await redis.zadd(keys.intents, Date.now(), "u/a");
      expect(await write(0, 10, "a", 1)).toBe(1);
      expect(await redis.zscore(keys.intents, "u/a")).toBeNull(); // the write in flight has committed
      await redis.zadd(keys.intents, Date.now(), "u/a");
      expect(await write(0, 10, "a", 2)).toBe(0);
      expect(await redis.zscore(keys.intents, "u/a")).not.toBeNull(); // a refused write leaves the mark
      expect(await write(5, 10, "a", 6)).toBe(0);
      expect(await write(1, 10, "a", 2)).toBe(1);
      expect(await redis.hget(keys.trigger("u/a"), "version")).toBe("2");
      expect(await redis.get(keys.definition("u/a"))).toBe('{"v":2}'); // the definition, written with it
      expect(await redis.zrange(keys.userIndex("u"), 0, -1)).toEqual(["a"]);
      expect(await redis.zrange(keys.allIndex, 0, -1)).toEqual(["u/a"]);
      expect(await counts()).toEqual({ "once:active": "1" });
    });
    it("releases the writer's lock with the write, only if it still holds it, and keeps it on refusal", async () => {
      const lock = keys.writeLock("u/locked");
      await redis.set(lock, "mine");
      expect(await write(0, 10, "locked", 1, "theirs")).toBe(1);
      expect(await redis.get(lock)).toBe("mine"); // another writer's lock stays
      expect(await write(0, 10, "locked", 2, "mine")).toBe(0);
      expect(await redis.get(lock)).toBe("mine"); // a refused write leaves the lock to its finally
      expect(await write(1, 10, "locked", 2, "mine")).toBe(1);
      expect(await redis.exists(lock)).toBe(0);
      // Gone again, so the counts and the quota below see only "a".
      await redis.del(keys.trigger("u/locked"), keys.definition("u/locked"));
      await redis.zrem(keys.userIndex("u"), "locked");
      await redis.zrem(keys.allIndex, "u/locked");
      await redis.hincrby(keys.counts, bucket, -1);
    });
    it("moves the trigger between (kind, state) counts when its bucket changes", async () => {
      bucket = "cron:active";
      expect(await write(2, 10, "a", 3)).toBe(1);
      expect(await counts()).toEqual({ "once:active": "0", "cron:active": "1" });
      bucket = "once:active";
      expect(await write(3, 10, "a", 4)).toBe(1);
    });
    it("moves the definition of a trigger stored the older way (in its hash) out of the hash", async () => {
      await redis.hset(keys.trigger("u/old"), "version", 7, "spec", "{}", "schedule", "{}", "bucket", bucket);
      await redis.hincrby(keys.counts, bucket, 1);
      expect(await write(7, 10, "old", 8)).toBe(1);
      expect(await redis.hkeys(keys.trigger("u/old"))).toEqual(["version", "bucket", "sv"]);
      expect(await redis.get(keys.definition("u/old"))).toBe('{"v":8}');
      expect(await redis.object("ENCODING", keys.trigger("u/a"))).toBe("listpack"); // written the new way
    });
    it("refuses a create over the user's quota and changes nothing", async () => {
      expect(await write(0, 3, "b", 3)).toBe(1);
      expect(await write(0, 3, "c", 4)).toBe(-1);
      expect((await counts())["once:active"]).toBe("3");
      expect(await redis.exists(keys.trigger("u/c"), keys.definition("u/c"))).toBe(0);
      expect(await redis.zcard(keys.userIndex("u"))).toBe(3);
    });
  });

  describe("delete-trigger.lua", () => {
    it("deletes only at the version read, with its indexes, overlap marker and run index", async () => {
      await redis.set(keys.running("u/b"), "job");
      await redis.zadd(keys.runs("u/b"), 1, "run_x");
      const del = (version: number) =>
        runScript<number>(
          redis,
          "deleteTrigger",
          [
            keys.trigger("u/b"),
            keys.userIndex("u"),
            keys.allIndex,
            keys.running("u/b"),
            keys.runs("u/b"),
            keys.counts,
            keys.definition("u/b"),
          ],
          [version, "b", "u/b"],
        );
      expect(await del(9)).toBe(0);
      expect(await redis.exists(keys.trigger("u/b"))).toBe(1);
      expect(await del(3)).toBe(1);
      expect(
        await redis.exists(
          keys.trigger("u/b"),
          keys.definition("u/b"),
          keys.running("u/b"),
          keys.runs("u/b"),
        ),
      ).toBe(0);
      expect(await redis.zrange(keys.userIndex("u"), 0, -1)).toEqual(["a", "old"]);
      expect((await counts())["once:active"]).toBe("2");
    });
  });

  describe("record-fire.lua", () => {
    const record = (
      tid: string,
      sv: number,
      count: number,
      done: number,
      maxFires: number | "",
      status = "succeeded",
    ) =>
      runScript<[number, number, number]>(
        redis,
        "recordFire",
        [keys.trigger(tid), keys.counts],
        [sv, status, 1000, count, done, 2000, maxFires],
      );

    it("touches nothing for a trigger that is gone or rescheduled", async () => {
      expect(await record("u/none", 1, 1, 0, "")).toEqual([-1, 0, 0]);
      expect(await redis.exists(keys.trigger("u/none"))).toBe(0);
      expect(await record("u/a", 1, 1, 0, "")).toEqual([-1, 0, 0]);
      expect(await redis.hget(keys.trigger("u/a"), "fire_count")).toBeNull();
    });
    it("counts fires and completes the trigger at max_fires, once", async () => {
      expect(await record("u/a", 4, 1, 0, 2)).toEqual([1, 0, 0]);
      expect(await record("u/a", 4, 1, 0, 2)).toEqual([2, 1, 0]);
      expect(await counts()).toMatchObject({ "once:active": "1", "once:completed": "1" });
      expect(await redis.hmget(keys.trigger("u/a"), "completed_at", "last_status", "last_fire_at")).toEqual([
        "2000",
        "succeeded",
        "1000",
      ]);
      expect(await record("u/a", 4, 1, 0, 2)).toEqual([3, 0, 0]);
      expect(await redis.hget(keys.trigger("u/a"), "bucket")).toBe("once:completed");
    });
    it("counts failed runs in a row, and a success resets them", async () => {
      expect((await record("u/a", 4, 1, 0, "", "failed"))[2]).toBe(1);
      expect((await record("u/a", 4, 0, 0, "", "missed"))[2]).toBe(1); // not an attempt's outcome
      expect((await record("u/a", 4, 1, 0, "", "failed"))[2]).toBe(2);
      expect(await redis.hget(keys.trigger("u/a"), "failures")).toBe("2");
      expect((await record("u/a", 4, 1, 0, "", "succeeded"))[2]).toBe(0);
      expect(await redis.hget(keys.trigger("u/a"), "failures")).toBe("0");
    });
  });

  describe("release-lock.lua", () => {
    it("releases only the holder's own lock", async () => {
      await redis.set(`${prefix}:l`, "mine");
      expect(await runScript<number>(redis, "releaseLock", [`${prefix}:l`], ["theirs"])).toBe(0);
      expect(await runScript<number>(redis, "releaseLock", [`${prefix}:l`], ["mine"])).toBe(1);
      expect(await redis.exists(`${prefix}:l`)).toBe(0);
    });
  });

  describe("save-run.lua", () => {
    const save = (id: string, score: number, limit: number | "") =>
      runScript<string>(
        redis,
        "saveRun",
        [keys.run(id), keys.runs("u/x"), keys.events],
        [JSON.stringify({ runId: id }), 60_000, score, id, limit, 100, "u"],
      );

    it("writes the run with its expiry, indexes it capped, and appends an event", async () => {
      const eventId = await save("run_a", 1, 2);
      expect(eventId).toMatch(/^\d+-\d+$/);
      await save("run_b", 2, 2);
      await save("run_c", 3, 2);
      expect(await redis.zrange(keys.runs("u/x"), 0, -1)).toEqual(["run_b", "run_c"]);
      expect(await redis.pttl(keys.run("run_c"))).toBeGreaterThan(50_000);
      const events = await redis.xrange(keys.events, "-", "+");
      expect(events.map(([, fields]) => fields)).toContainEqual([
        "u",
        "u",
        "d",
        JSON.stringify({ runId: "run_c" }),
      ]);
    });
    it("keeps a run out of the index when asked", async () => {
      await save("run_stray", 4, "");
      expect(await redis.get(keys.run("run_stray"))).not.toBeNull();
      expect(await redis.zscore(keys.runs("u/x"), "run_stray")).toBeNull();
    });
  });

  describe("start-run.lua and finish-run.lua", () => {
    const marker = keys.running("u/s");
    const run = (id: string, status: string) => ({ runId: id, triggerId: "u/s", status });
    const start = (id: string, jobId: string) =>
      runScript<string>(
        redis,
        "startRun",
        [marker, keys.run(id), keys.runs("u/s"), keys.events],
        [jobId, 60_000, JSON.stringify(run(id, "running")), 60_000, 1, id, 10, 100, "u"],
      );
    const finish = (id: string, jobId: string, sv: number) =>
      runScript<[number, number]>(
        redis,
        "finishRun",
        [keys.run(id), keys.runs("u/s"), keys.events, keys.trigger("u/s"), keys.counts, marker],
        [
          JSON.stringify(run(id, "succeeded")),
          60_000,
          1,
          id,
          10,
          100,
          "u",
          sv,
          "succeeded",
          1000,
          1,
          0,
          2000,
          "",
          jobId,
          "",
          10_000,
        ],
      );

    it("takes the marker and writes the running run, or writes nothing and names the holder", async () => {
      expect(await start("run_s1", "job1")).toBe("");
      expect(await redis.get(marker)).toBe("job1");
      expect(JSON.parse((await redis.get(keys.run("run_s1")))!)).toMatchObject({ status: "running" });
      expect(await start("run_s1", "job1")).toBe(""); // a retry of the same job finds the marker its own
      expect(await start("run_s2", "job2")).toBe("job1");
      expect(await redis.exists(keys.run("run_s2"))).toBe(0);
      expect(await redis.zrange(keys.runs("u/s"), 0, -1)).toEqual(["run_s1"]);
    });
    it("without a job id takes no marker (overlap: allow)", async () => {
      expect(await start("run_s3", "")).toBe("");
      expect(await redis.get(marker)).toBe("job1");
    });
    it("writes the outcome, counts the fire and releases only its own marker", async () => {
      bucket = "once:active";
      await write(0, 100, "s", 1);
      expect(await finish("run_s2", "job2", 1)).toEqual([1, 0, 0]);
      expect(await redis.get(marker)).toBe("job1");
      expect(await finish("run_s1", "job1", 1)).toEqual([2, 0, 0]);
      expect(await redis.get(marker)).toBeNull();
      expect(JSON.parse((await redis.get(keys.run("run_s1")))!)).toMatchObject({ status: "succeeded" });
      expect(await redis.hmget(keys.trigger("u/s"), "fire_count", "last_status")).toEqual(["2", "succeeded"]);
    });
    it("leaves a rescheduled trigger's bookkeeping alone but still records the run", async () => {
      expect(await finish("run_s4", "", 7)).toEqual([-1, 0, 0]);
      expect(await redis.hget(keys.trigger("u/s"), "fire_count")).toBe("2");
      expect(await redis.exists(keys.run("run_s4"))).toBe(1);
    });
  });
});
