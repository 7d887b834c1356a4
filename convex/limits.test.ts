/// <reference types="vite/client" />
import { ConvexError, getConvexSize, type Value } from "convex/values";
import { describe, expect, test } from "vitest";
import { convexTestWithLimits } from "../local_backend/src/limits";
import { internal } from "./_generated/api";
import type { Doc } from "./_generated/dataModel";
import { RECORD_SYNC_LIMIT, UPSERT_MODELS_LIMIT } from "./lib/limits";
import type { HistoryEntry, UpsertModelArgs } from "./lib/validators";
import schema from "./schema";

// Every test here runs under Convex's limits, as every test of this suite does
// (convexTestWithLimits): these check that the batched mutations fit in them.
const modules = import.meta.glob("./**/*.*s");
const upsertModel = internal.mutations.syncModels.upsertModel;
const upsertModels = internal.mutations.syncModels.upsertModels;
const recordSync = internal.mutations.history.recordSync;
// A maximal batch takes a few seconds here (over vitest's default 5 s on a busy machine).
const MAXIMAL_BATCH_TIMEOUT_MS = 60_000;

function setup() {
  return convexTestWithLimits(schema, modules);
}
type Backend = ReturnType<typeof setup>;

function model(i: number, description: string): UpsertModelArgs {
  return {
    apiIdentifier: `vendor-${i % 97}/model-${i}`,
    modelName: `Vendor: Model ${i}`,
    provider: `vendor-${i % 97}`,
    slug: `vendor-${i % 97}/model-${i}-20260101`,
    contextWindow: 131_072,
    isFree: false,
    inputCostPer1MTokens: 0.25,
    outputCostPer1MTokens: 1.5,
    maxCompletionTokens: 32_768,
    description,
    openRouterCreatedAt: 1_767_225_600_000,
  };
}

/** `count` models whose arguments together take `bytes` (convex size), give or take one item's rounding. */
function modelsOfSize(count: number, bytes: number, version: string): UpsertModelArgs[] {
  const bare = getConvexSize(Array.from({ length: count }, (_, i) => model(i, "")) as Value);
  const perItem = Math.floor((bytes - bare) / count);
  return Array.from({ length: count }, (_, i) => model(i, version.repeat(perItem)));
}

async function aiModelRows(t: Backend): Promise<Doc<"aiModels">[]> {
  return await t.run(async (ctx) => await ctx.db.query("aiModels").collect());
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(
    () => null,
    (error: unknown) => error,
  );
}

function tooManyItems(error: unknown): void {
  expect(error).toBeInstanceOf(ConvexError);
  expect((error as ConvexError<Value>).data).toMatchObject({ code: "TOO_MANY_ITEMS" });
}

describe("the batch limits", () => {
  test("are derived from Convex's limits with margin", () => {
    // A quarter of 4,096 index ranges; a quarter of 16 MiB read, each row read twice.
    expect(UPSERT_MODELS_LIMIT).toEqual({ maxItems: 1024, maxBytes: 2 * 2 ** 20 - 1024 * 256 });
    expect(RECORD_SYNC_LIMIT).toEqual({ maxItems: 1024, maxBytes: 4 * 2 ** 20 - 1024 * 1024 });
  });
});

describe("upsertModels under Convex's limits", () => {
  const { maxItems, maxBytes } = UPSERT_MODELS_LIMIT;

  test("a maximal batch, every item an update of an existing row, lands", async () => {
    const t = setup();
    const before = modelsOfSize(maxItems, maxBytes, "a");
    // The rows as a previous sync left them, as large as the update that follows.
    for (let start = 0; start < maxItems; start += maxItems / 2) {
      await t.mutation(upsertModels, { models: before.slice(start, start + maxItems / 2) });
    }
    const after = modelsOfSize(maxItems, maxBytes, "b");
    expect(getConvexSize(after as Value)).toBeLessThanOrEqual(maxBytes);
    expect(getConvexSize(after as Value)).toBeGreaterThan(maxBytes - maxItems);

    const { results } = await t.mutation(upsertModels, { models: after });

    expect(results.filter((r) => r.ok && r.action === "updated")).toHaveLength(maxItems);
    const rows = await aiModelRows(t);
    expect(rows).toHaveLength(maxItems);
    expect(rows.every((row) => row.description === after[0].description)).toBe(true);
  }, MAXIMAL_BATCH_TIMEOUT_MS);

  test("a maximal batch lands when an old deployment holds every model twice", async () => {
    // upsertModel updates every row of a model: duplicates come out of the margin.
    const t = setup();
    const before = modelsOfSize(maxItems, maxBytes, "a");
    for (let start = 0; start < maxItems; start += maxItems / 4) {
      await t.run(async (ctx) => {
        for (const row of before.slice(start, start + maxItems / 4)) {
          await ctx.db.insert("aiModels", { ...row, isActive: false });
          await ctx.db.insert("aiModels", { ...row, isActive: true });
        }
      });
    }
    const after = modelsOfSize(maxItems, maxBytes, "b");

    const { results } = await t.mutation(upsertModels, { models: after });

    expect(results.filter((r) => r.ok && r.action === "updated")).toHaveLength(maxItems);
    const rows = await aiModelRows(t);
    expect(rows).toHaveLength(2 * maxItems);
    expect(rows.every((row) => row.description === after[0].description)).toBe(true);
    expect(rows.filter((row) => row.isActive)).toHaveLength(maxItems);
  }, MAXIMAL_BATCH_TIMEOUT_MS);

  test("one item more is refused whole, before anything is written", async () => {
    const t = setup();
    const models = Array.from({ length: maxItems + 1 }, (_, i) => model(i, ""));
    tooManyItems(await errorOf(t.mutation(upsertModels, { models })));
    expect(await aiModelRows(t)).toEqual([]);
  });

  test("a batch over the byte budget is refused whole, before anything is written", async () => {
    const t = setup();
    const models = modelsOfSize(10, maxBytes + 100, "c");
    const error = await errorOf(t.mutation(upsertModels, { models }));
    tooManyItems(error);
    expect((error as ConvexError<{ message: string }>).data.message).toMatch(/bytes per call/);
    expect(await aiModelRows(t)).toEqual([]);
  });
});

describe("recordSync under Convex's limits", () => {
  const { maxItems } = RECORD_SYNC_LIMIT;

  function entries(count: number, rank: number): HistoryEntry[] {
    return Array.from({ length: count }, (_, i) => ({
      apiIdentifier: `vendor-${i % 97}/model-${i}`,
      inputCostPer1MTokens: 0.25 * rank,
      outputCostPer1MTokens: 1.5 * rank,
      contextWindow: 131_072 * rank,
      maxCompletionTokens: 32_768 * rank,
      rank,
      list: rank % 2 === 0 ? "paid" : "free",
    }));
  }

  test("a maximal batch, every entry a change of the model's latest row, lands", async () => {
    const t = setup();
    expect((await t.mutation(recordSync, { entries: entries(maxItems, 1) })).recorded).toBe(maxItems);
    const { recorded, results } = await t.mutation(recordSync, { entries: entries(maxItems, 2) });
    expect(recorded).toBe(maxItems);
    expect(results.every((r) => r.status === "changed")).toBe(true);
  }, MAXIMAL_BATCH_TIMEOUT_MS);

  test("one entry more is refused whole, before anything is written", async () => {
    const t = setup();
    tooManyItems(await errorOf(t.mutation(recordSync, { entries: entries(maxItems + 1, 1) })));
    expect(await t.run(async (ctx) => await ctx.db.query("modelHistory").collect())).toEqual([]);
  });
});

describe("Convex's limits, enforced for every function", () => {
  async function readNTimes(t: Backend, reads: number): Promise<void> {
    await t.run(async (ctx) => {
      await ctx.db.insert("aiModels", { ...model(0, ""), isActive: false });
      for (let i = 0; i < reads; i++) await ctx.db.query("aiModels").first();
    });
  }

  test("4,096 index reads pass; 4,097 fail naming the limit and write nothing", async () => {
    const t = setup();
    await readNTimes(t, 4096);
    const error = await errorOf(readNTimes(t, 4097));
    expect(String(error)).toMatch(/Too many index ranges read .*limit: 4096/);
    expect(await aiModelRows(t)).toHaveLength(1);
  });

  test("a document over 1 MiB fails naming the limit and writes nothing", async () => {
    const t = setup();
    const error = await errorOf(t.mutation(upsertModel, model(1, "x".repeat(2 ** 20))));
    expect(String(error)).toMatch(/Document is too large .*limit: 1048576 bytes/);
    expect(await aiModelRows(t)).toEqual([]);
    await t.mutation(upsertModel, model(1, "x".repeat(2 ** 20 - 1024)));
    expect(await aiModelRows(t)).toHaveLength(1);
  });
});
