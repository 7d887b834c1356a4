import { describe, expect, test } from "vitest";
import type { Id } from "./_generated/dataModel";
import { checkUpsertArgs, compareOldestFirst } from "./lib/aiModels";
import { diffSnapshots } from "./lib/history";

const id = (s: string) => s as Id<"aiModels">;

describe("compareOldestFirst", () => {
  test("orders by _creationTime, then by _id, whatever the input order", () => {
    const rows = [
      { _id: id("k9"), _creationTime: 2 },
      { _id: id("k2"), _creationTime: 1 },
      { _id: id("k1"), _creationTime: 2 },
      { _id: id("k3"), _creationTime: 1 },
    ];
    const expected = ["k2", "k3", "k1", "k9"];
    expect([...rows].sort(compareOldestFirst).map((r) => r._id)).toEqual(expected);
    expect([...rows].reverse().sort(compareOldestFirst).map((r) => r._id)).toEqual(expected);
  });
});

describe("checkUpsertArgs", () => {
  const args = { apiIdentifier: "a/b", modelName: "A", provider: "a", slug: "a/b", isFree: false };
  test("accepts a model with no optional fields", () => {
    expect(checkUpsertArgs(args)).toBeNull();
  });
  test("reports the first bad field", () => {
    expect(checkUpsertArgs({ ...args, inputCostPer1MTokens: -1, contextWindow: 0 })).toMatchObject({
      code: "INVALID_ARGUMENT",
      field: "inputCostPer1MTokens",
    });
  });
});

describe("diffSnapshots", () => {
  test("lists each differing field, in a fixed order", () => {
    expect(
      diffSnapshots({ rank: 1, inputCostPer1MTokens: 3 }, { list: "paid", rank: 2, inputCostPer1MTokens: 3 }),
    ).toEqual([
      { field: "rank", from: 1, to: 2 },
      { field: "list", to: "paid" },
    ]);
  });
  test("is empty for equal snapshots", () => {
    expect(diffSnapshots({ rank: 1, list: "free" }, { list: "free", rank: 1 })).toEqual([]);
  });
});
