import type { Socket } from "node:net";
import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { connectRedis, waitReady } from "../../src/redis/connection.js";
import { REDIS_URL } from "../helpers/tickler.js";

/** Counts the socket writes (system calls) a connection makes from now on. */
function countWrites(redis: Redis): () => number {
  type Write = (this: Socket, ...args: unknown[]) => void;
  const socket = (redis as unknown as { stream: Socket & { _write: Write; _writev: Write } }).stream;
  let writes = 0;
  for (const method of ["_write", "_writev"] as const) {
    const original = socket[method];
    socket[method] = function (this: Socket, ...args: unknown[]) {
      writes++;
      return original.apply(this, args);
    };
  }
  return () => writes;
}

describe("a tickler Redis connection", () => {
  let redis: Redis | undefined;
  afterEach(() => redis?.disconnect());

  it("sends the commands given in one tick in one write, and again after reconnecting", async () => {
    redis = connectRedis(REDIS_URL, "worker", "tickler-test-coalesce");
    await waitReady(redis);
    let writes = countWrites(redis);
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => redis!.echo(`m${i}`)));
    expect(replies).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(writes()).toBe(1);
    // Commands issued from several promise continuations of the same tick go together too.
    await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        await Promise.resolve();
        return redis!.echo(`n${i}`);
      }),
    );
    expect(writes()).toBe(2);

    redis.disconnect(true);
    await new Promise((resolve) => redis!.once("ready", resolve));
    writes = countWrites(redis);
    await Promise.all([redis.ping(), redis.ping(), redis.ping()]);
    expect(writes()).toBe(1);
  });
});
