/// <reference types="vite/client" />
import { convexTestWithLimits } from "../local_backend/src/limits";
import { ConvexError, type Value } from "convex/values";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { internal } from "./_generated/api";
import schema from "./schema";
import type { HistoryEntry } from "./lib/validators";

const modules = import.meta.glob("./**/*.*s");
const recordSync = internal.mutations.history.recordSync;
const list = internal.queries.history.list;

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const DAY = 86_400_000;

const SONNET: HistoryEntry = {
  apiIdentifier: "anthropic/claude-sonnet-4.5",
  inputCostPer1MTokens: 3,
  outputCostPer1MTokens: 15,
  contextWindow: 1_000_000,
  maxCompletionTokens: 64_000,
  rank: 1,
  list: "paid",
};
const QWEN: HistoryEntry = {
  apiIdentifier: "qwen/qwen3-coder:free",
  inputCostPer1MTokens: 0,
  outputCostPer1MTokens: 0,
  contextWindow: 262_144,
  rank: 2,
  list: "free",
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

async function historyRows(t: ReturnType<typeof convexTestWithLimits<typeof schema.tables>>) {
  return await t.run(async (ctx) => await ctx.db.query("modelHistory").collect());
}

describe("mutations/history:recordSync", () => {
  test("the first sighting of a model records its values", async () => {
    const t = convexTestWithLimits(schema, modules);
    const { recorded, results } = await t.mutation(recordSync, { entries: [SONNET, QWEN] });
    expect(recorded).toBe(2);
    expect(results).toEqual([
      { apiIdentifier: SONNET.apiIdentifier, status: "first_seen", id: expect.any(String) },
      { apiIdentifier: QWEN.apiIdentifier, status: "first_seen", id: expect.any(String) },
    ]);
    const rows = await historyRows(t);
    expect(rows).toHaveLength(2);
    const { _id, _creationTime, ...first } = rows[0];
    expect(first).toEqual({
      ...SONNET,
      recordedAt: T0,
      kind: "first_seen",
      changes: [
        { field: "inputCostPer1MTokens", to: 3 },
        { field: "outputCostPer1MTokens", to: 15 },
        { field: "contextWindow", to: 1_000_000 },
        { field: "maxCompletionTokens", to: 64_000 },
        { field: "rank", to: 1 },
        { field: "list", to: "paid" },
      ],
    });
    expect(rows[1]).not.toHaveProperty("maxCompletionTokens");
  });

  test("nothing is recorded when nothing changed (a replay is harmless)", async () => {
    const t = convexTestWithLimits(schema, modules);
    await t.mutation(recordSync, { entries: [SONNET, QWEN] });
    vi.setSystemTime(T0 + DAY);
    const { recorded, results } = await t.mutation(recordSync, { entries: [SONNET, QWEN] });
    expect(recorded).toBe(0);
    expect(results).toEqual([
      { apiIdentifier: SONNET.apiIdentifier, status: "unchanged" },
      { apiIdentifier: QWEN.apiIdentifier, status: "unchanged" },
    ]);
    expect(await historyRows(t)).toHaveLength(2);
  });

  test("a change records the new values and what changed from what", async () => {
    const t = convexTestWithLimits(schema, modules);
    await t.mutation(recordSync, { entries: [SONNET, QWEN] });
    vi.setSystemTime(T0 + DAY);
    const changed = { ...SONNET, inputCostPer1MTokens: 2.5, rank: 3 };
    const { recorded, results } = await t.mutation(recordSync, { entries: [changed, QWEN] });
    expect(results.map((r) => r.status)).toEqual(["changed", "unchanged"]);
    expect(recorded).toBe(1);

    const rows = await t.query(list, { apiIdentifier: SONNET.apiIdentifier });
    expect(rows).toHaveLength(2);
    const { _id, _creationTime, ...latest } = rows[0];
    expect(latest).toEqual({
      ...changed,
      recordedAt: T0 + DAY,
      kind: "changed",
      changes: [
        { field: "inputCostPer1MTokens", from: 3, to: 2.5 },
        { field: "rank", from: 1, to: 3 },
      ],
    });
  });

  test.each([
    ["outputCostPer1MTokens", 20],
    ["contextWindow", 200_000],
    ["maxCompletionTokens", 32_000],
    ["rank", 2],
  ] as const)("a change of %s alone is recorded", async (field, value) => {
    const t = convexTestWithLimits(schema, modules);
    await t.mutation(recordSync, { entries: [SONNET] });
    const {
      results: [result],
    } = await t.mutation(recordSync, { entries: [{ ...SONNET, [field]: value }] });
    expect(result.status).toBe("changed");
    const [latest] = await t.query(list, { apiIdentifier: SONNET.apiIdentifier });
    expect(latest.changes).toEqual([{ field, from: SONNET[field], to: value }]);
  });

  test("switching lists or modes alone records nothing", async () => {
    const t = convexTestWithLimits(schema, modules);
    await t.mutation(recordSync, { entries: [SONNET] });
    const { rank: _rank, ...catalog } = { ...SONNET, list: "catalog" as const };
    for (const entry of [catalog, SONNET, { ...SONNET, list: "free" as const }, catalog]) {
      const { recorded } = await t.mutation(recordSync, { entries: [entry] });
      expect(recorded).toBe(0);
    }
    // A data change still is news, and the row says which list and rank saw it.
    const { recorded } = await t.mutation(recordSync, {
      entries: [{ ...catalog, inputCostPer1MTokens: 4 }],
    });
    expect(recorded).toBe(1);
    const [latest] = await t.query(list, { apiIdentifier: SONNET.apiIdentifier });
    expect(latest.list).toBe("catalog");
    expect(latest.changes).toContainEqual({ field: "inputCostPer1MTokens", from: 3, to: 4 });
  });

  test("an alert the latest row does not hold is recorded, and kept on the row", async () => {
    const t = convexTestWithLimits(schema, modules);
    await t.mutation(recordSync, { entries: [SONNET] });
    const expiring: HistoryEntry = { ...SONNET, alerts: ["expiring"] };
    expect((await t.mutation(recordSync, { entries: [expiring] })).recorded).toBe(1);
    // Still expiring the next day: nothing new.
    expect((await t.mutation(recordSync, { entries: [expiring] })).recorded).toBe(0);
    const dearer: HistoryEntry = {
      ...SONNET,
      outputCostPer1MTokens: 18,
      alerts: ["price-increase", "expiring", "deactivated"],
    };
    expect((await t.mutation(recordSync, { entries: [dearer] })).recorded).toBe(1);
    const [latest, before] = await t.query(list, { apiIdentifier: SONNET.apiIdentifier });
    expect(latest.alerts).toEqual(["price-increase", "expiring", "deactivated"]);
    expect(latest.changes).toEqual([{ field: "outputCostPer1MTokens", from: 15, to: 18 }]);
    expect(before.alerts).toEqual(["expiring"]);
    expect(before.changes).toEqual([]);
    // No alert at all: an earlier row's alerts are not carried over.
    await t.mutation(recordSync, { entries: [{ ...SONNET, contextWindow: 2_000_000 }] });
    const [newest] = await t.query(list, { apiIdentifier: SONNET.apiIdentifier });
    expect(newest).not.toHaveProperty("alerts");
  });

  test("a value that disappears is a change to nothing", async () => {
    const t = convexTestWithLimits(schema, modules);
    await t.mutation(recordSync, { entries: [SONNET] });
    const { maxCompletionTokens, rank, list: _list, ...rest } = SONNET;
    const {
      results: [result],
    } = await t.mutation(recordSync, { entries: [rest] });
    expect(result.status).toBe("changed");
    const [latest] = await t.query(list, { apiIdentifier: SONNET.apiIdentifier });
    expect(latest.changes).toEqual([
      { field: "maxCompletionTokens", from: 64_000 },
      { field: "rank", from: 1 },
      { field: "list", from: "paid" },
    ]);
    expect(latest).not.toHaveProperty("rank");
    // ...and coming back is a change again.
    const {
      results: [again],
    } = await t.mutation(recordSync, { entries: [SONNET] });
    expect(again.status).toBe("changed");
  });

  test("changes are compared with the latest row, not the first", async () => {
    const t = convexTestWithLimits(schema, modules);
    await t.mutation(recordSync, { entries: [SONNET] });
    vi.setSystemTime(T0 + DAY);
    await t.mutation(recordSync, { entries: [{ ...SONNET, inputCostPer1MTokens: 2 }] });
    vi.setSystemTime(T0 + 2 * DAY);
    const {
      results: [back],
    } = await t.mutation(recordSync, { entries: [SONNET] });
    expect(back.status).toBe("changed");
    const {
      results: [unchanged],
    } = await t.mutation(recordSync, { entries: [SONNET] });
    expect(unchanged.status).toBe("unchanged");
    expect(await historyRows(t)).toHaveLength(3);
  });

  test.each([
    ["inputCostPer1MTokens", -1],
    ["outputCostPer1MTokens", Number.NaN],
    ["contextWindow", 0],
    ["maxCompletionTokens", 1.5],
    ["rank", 0],
    ["apiIdentifier", ""],
  ] as const)("an entry with %s = %s is rejected, naming the field; the others are recorded", async (field, value) => {
    const t = convexTestWithLimits(schema, modules);
    const { recorded, results } = await t.mutation(recordSync, {
      entries: [{ ...SONNET, [field]: value }, QWEN],
    });
    expect(recorded).toBe(1);
    expect(results[0]).toEqual({
      apiIdentifier: field === "apiIdentifier" ? value : SONNET.apiIdentifier,
      status: "rejected",
      error: expect.objectContaining({ code: "INVALID_ARGUMENT", field }),
    });
    expect(results[1].status).toBe("first_seen");
    expect((await historyRows(t)).map((row) => row.apiIdentifier)).toEqual([QWEN.apiIdentifier]);
  });

  test("an unknown list name is refused by the validator", async () => {
    const t = convexTestWithLimits(schema, modules);
    await expect(
      t.mutation(recordSync, { entries: [{ ...SONNET, list: "top" as "paid" }] }),
    ).rejects.toThrow();
    expect(await historyRows(t)).toEqual([]);
  });
});

describe("queries/history:list", () => {
  async function withHistory() {
    const t = convexTestWithLimits(schema, modules);
    await t.mutation(recordSync, { entries: [SONNET, QWEN] });
    vi.setSystemTime(T0 + DAY);
    await t.mutation(recordSync, { entries: [{ ...SONNET, rank: 2 }, { ...QWEN, rank: 1 }] });
    vi.setSystemTime(T0 + 2 * DAY);
    await t.mutation(recordSync, { entries: [{ ...SONNET, rank: 3 }] });
    return t;
  }

  test("one model's rows, newest first", async () => {
    const t = await withHistory();
    const rows = await t.query(list, { apiIdentifier: SONNET.apiIdentifier });
    expect(rows.map((row) => [row.recordedAt, row.rank])).toEqual([
      [T0 + 2 * DAY, 3],
      [T0 + DAY, 2],
      [T0, 1],
    ]);
    expect(rows.every((row) => row.apiIdentifier === SONNET.apiIdentifier)).toBe(true);
  });

  test("every model's rows, newest first, without apiIdentifier", async () => {
    const t = await withHistory();
    const rows = await t.query(list, {});
    expect(rows).toHaveLength(5);
    expect(rows.map((row) => row.recordedAt)).toEqual([T0 + 2 * DAY, T0 + DAY, T0 + DAY, T0, T0]);
  });

  test("limit keeps the newest rows", async () => {
    const t = await withHistory();
    const rows = await t.query(list, { apiIdentifier: SONNET.apiIdentifier, limit: 2 });
    expect(rows.map((row) => row.rank)).toEqual([3, 2]);
    expect(await t.query(list, { limit: 1 })).toHaveLength(1);
  });

  test("an unknown model has no history", async () => {
    const t = await withHistory();
    expect(await t.query(list, { apiIdentifier: "nobody/nothing" })).toEqual([]);
  });

  test.each([0, -1, 1.5, 8193])("limit %s is rejected", async (limit) => {
    const t = convexTestWithLimits(schema, modules);
    const error = await t.query(list, { limit }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConvexError);
    expect((error as ConvexError<Value>).data).toMatchObject({ field: "limit" });
  });
});
