import { describe, expect, it } from "vitest";
import { hashSlot, layoutFor, partitionTag } from "../../src/redis/keys.js";

describe("the partitioned key layout", () => {
  it("computes Redis Cluster's hash slot (CRC16 XMODEM mod 16384)", () => {
    // Values CLUSTER KEYSLOT answers (Redis's documentation and a cluster node).
    expect(hashSlot("somekey")).toBe(11058);
    expect(hashSlot("foo")).toBe(12182);
    expect(hashSlot("bar")).toBe(5061);
  });

  it("spaces the partitions' hash tags evenly over the slots, so a cluster's masters get equal shares", () => {
    for (const partitions of [3, 6, 12, 16, 100]) {
      const slots = Array.from({ length: partitions }, (_, p) =>
        hashSlot(partitionTag("tickler", p, partitions)),
      );
      slots.forEach((slot, p) => {
        expect(slot).toBeGreaterThanOrEqual(Math.floor((p * 16384) / partitions));
        expect(slot).toBeLessThan(Math.floor(((p + 1) * 16384) / partitions));
      });
      // Three masters holding a third of the slots each hold a third of the partitions (±1).
      const perMaster = [0, 1, 2].map(
        (m) => slots.filter((slot) => Math.floor(slot / (16384 / 3)) === m).length,
      );
      expect(Math.max(...perMaster) - Math.min(...perMaster)).toBeLessThanOrEqual(1);
    }
  });

  it("keeps every key of a partition under its tag, and untagged keys for one partition on one Redis", () => {
    const tagged = layoutFor("tickler", 4);
    for (const keys of tagged.keys) {
      expect(keys.base).toMatch(/^\{tickler:\d+(\.\d+)?\}$/);
      expect(keys.trigger("u/n").startsWith(keys.base)).toBe(true);
      expect(keys.runId("u/n", 1)).toMatch(new RegExp(`^run_${keys.partition}\\.`));
    }
    const single = layoutFor("tickler", 1);
    expect(single.keys[0]!.trigger("u/n")).toBe("tickler:t:u/n");
    expect(single.keys[0]!.runId("u/n", 1)).toMatch(/^run_[A-Za-z0-9_-]{22}$/);
    expect(layoutFor("tickler", 1, true).keys[0]!.base).toBe(`{${partitionTag("tickler", 0, 1)}}`);
  });
});
