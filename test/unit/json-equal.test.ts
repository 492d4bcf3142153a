import { describe, expect, it } from "vitest";
import { jsonEqual } from "../../src/triggers/definition-equality.js";

/** jsonEqual decides whether a re-sent trigger is "unchanged": it must agree with comparing stored JSON. */
describe("jsonEqual", () => {
  it("ignores key order and undefined properties, as stored JSON would", () => {
    expect(jsonEqual({ a: 1, b: { c: [1, "x"] } }, { b: { c: [1, "x"] }, a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1, gone: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual({ a: null }, { a: null })).toBe(true);
    expect(jsonEqual([undefined], [null])).toBe(true); // JSON writes undefined array items as null
  });
  it("tells apart every change a write can make", () => {
    expect(jsonEqual({ a: 1 }, { a: 2 })).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: "1" })).toBe(false);
    expect(jsonEqual({ a: null }, {})).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEqual({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1, c: 2 })).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual([1], [1, 1])).toBe(false);
    expect(jsonEqual({ 0: 1 }, [1])).toBe(false);
    expect(jsonEqual({ a: { b: [{ c: 1 }] } }, { a: { b: [{ c: 2 }] } })).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
  });
});
