/// <reference types="vite/client" />
import { convexTestWithLimits } from "../local_backend/src/limits";
import { ConvexError, type Value } from "convex/values";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { internal } from "./_generated/api";
import type { Doc, Id } from "./_generated/dataModel";
import schema from "./schema";
import type { UpsertModelArgs } from "./lib/validators";

const modules = import.meta.glob("./**/*.*s");
const upsertModel = internal.mutations.syncModels.upsertModel;
const upsertModels = internal.mutations.syncModels.upsertModels;

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);

/** Every argument set, as OpenRouter reports a priced model. */
function fullArgs(overrides: Partial<UpsertModelArgs> = {}): UpsertModelArgs {
  return {
    apiIdentifier: "anthropic/claude-sonnet-4.5",
    modelName: "Anthropic: Claude Sonnet 4.5",
    provider: "anthropic",
    slug: "anthropic/claude-4.5-sonnet-20250929",
    contextWindow: 1_000_000,
    isFree: false,
    inputCostPer1MTokens: 3,
    outputCostPer1MTokens: 15,
    maxCompletionTokens: 64_000,
    description: "Claude Sonnet 4.5 is Anthropic's most advanced Sonnet model.",
    openRouterCreatedAt: 1_759_161_676_000,
    ...overrides,
  };
}

/** Only the required arguments. */
function minimalArgs(apiIdentifier = "anthropic/claude-sonnet-4.5"): UpsertModelArgs {
  return {
    apiIdentifier,
    modelName: "Renamed model",
    provider: "anthropic-renamed",
    slug: "renamed/slug",
    isFree: true,
  };
}

function setup() {
  return convexTestWithLimits(schema, modules);
}
type Backend = ReturnType<typeof setup>;

async function rows(t: Backend): Promise<Doc<"aiModels">[]> {
  return await t.run(async (ctx) => await ctx.db.query("aiModels").collect());
}

async function row(t: Backend, id: Id<"aiModels">): Promise<Doc<"aiModels">> {
  const doc = await t.run(async (ctx) => await ctx.db.get("aiModels", id));
  expect(doc).not.toBeNull();
  return doc!;
}

/** A row as the app's own code would have created it, before any sync. */
async function insertManualRow(
  t: Backend,
  fields: Partial<Doc<"aiModels">> = {},
): Promise<Id<"aiModels">> {
  return await t.run(
    async (ctx) =>
      await ctx.db.insert("aiModels", {
        provider: "anthropic",
        modelName: "Claude (hand-made)",
        modelVersion: "2025-09",
        apiIdentifier: "anthropic/claude-sonnet-4.5",
        isActive: true,
        ...fields,
      }),
  );
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe("upsertModel: insert", () => {
  test("a new model is inserted inactive, synced, with every field", async () => {
    const t = setup();
    const result = await t.mutation(upsertModel, fullArgs());
    expect(result.action).toBe("inserted");
    const doc = await row(t, result.id);
    const { _id, _creationTime, ...fields } = doc;
    expect(fields).toEqual({
      ...fullArgs(),
      isActive: false,
      syncedFromOpenRouter: true,
      updatedAt: T0,
    });
    expect(await rows(t)).toHaveLength(1);
  });

  test("a new model with only the required fields stores no optional ones", async () => {
    const t = setup();
    const { id } = await t.mutation(upsertModel, minimalArgs());
    const { _id, _creationTime, ...fields } = await row(t, id);
    expect(fields).toEqual({
      ...minimalArgs(),
      isActive: false,
      syncedFromOpenRouter: true,
      updatedAt: T0,
    });
  });
});

describe("upsertModel: update", () => {
  test.each([true, false])("keeps isActive %s", async (isActive) => {
    const t = setup();
    const id = await insertManualRow(t, { isActive });
    const result = await t.mutation(upsertModel, fullArgs());
    expect(result).toEqual({ action: "updated", id });
    expect((await row(t, id)).isActive).toBe(isActive);
  });

  test("keeps isActive after activation through setActive", async () => {
    const t = setup();
    const { id } = await t.mutation(upsertModel, fullArgs());
    await t.mutation(internal.mutations.activation.setActive, {
      apiIdentifier: fullArgs().apiIdentifier,
      isActive: true,
    });
    await t.mutation(upsertModel, fullArgs({ inputCostPer1MTokens: 4 }));
    expect((await row(t, id)).isActive).toBe(true);
  });

  test("every metadata field takes the new value", async () => {
    const t = setup();
    const id = await insertManualRow(t, {
      slug: "old/slug",
      contextWindow: 8_000,
      isFree: true,
      inputCostPer1MTokens: 1,
      outputCostPer1MTokens: 2,
      maxCompletionTokens: 1_000,
      description: "old",
      openRouterCreatedAt: 1,
      syncedFromOpenRouter: false,
      updatedAt: 1,
    });
    await t.mutation(upsertModel, fullArgs());
    const { _id, _creationTime, ...fields } = await row(t, id);
    expect(fields).toEqual({
      ...fullArgs(),
      modelVersion: "2025-09", // not synced: the app's own field is left alone
      isActive: true,
      syncedFromOpenRouter: true,
      updatedAt: T0,
    });
  });

  test("a field the caller omits is cleared", async () => {
    const t = setup();
    const { id } = await t.mutation(upsertModel, fullArgs());
    await t.mutation(upsertModel, minimalArgs());
    const doc = await row(t, id);
    for (const field of [
      "contextWindow",
      "inputCostPer1MTokens",
      "outputCostPer1MTokens",
      "maxCompletionTokens",
      "description",
      "openRouterCreatedAt",
    ] as const) {
      expect(doc[field], field).toBeUndefined();
    }
    expect(doc).toMatchObject({ ...minimalArgs(), isActive: false, syncedFromOpenRouter: true });
  });

  test("updatedAt advances", async () => {
    const t = setup();
    const { id } = await t.mutation(upsertModel, fullArgs());
    vi.setSystemTime(T0 + 60_000);
    await t.mutation(upsertModel, fullArgs());
    expect((await row(t, id)).updatedAt).toBe(T0 + 60_000);
  });

  test("replaying the same call changes nothing but updatedAt", async () => {
    const t = setup();
    const first = await t.mutation(upsertModel, fullArgs());
    const before = await rows(t);
    vi.setSystemTime(T0 + 5_000);
    const replay = await t.mutation(upsertModel, fullArgs());
    expect(replay).toEqual({ action: "updated", id: first.id });
    const after = await rows(t);
    expect(after).toEqual(before.map((doc) => ({ ...doc, updatedAt: T0 + 5_000 })));
  });
});

describe("upsertModel: several rows for one apiIdentifier", () => {
  test("updates every row's metadata, each keeping its isActive and modelVersion", async () => {
    const t = setup();
    const oldest = await insertManualRow(t, {
      modelName: "first",
      isActive: true,
      inputCostPer1MTokens: -1_000_000,
      maxCompletionTokens: 5,
    });
    vi.setSystemTime(T0 + 1);
    const newer = await insertManualRow(t, { modelName: "second", isActive: false, modelVersion: "v2" });
    vi.setSystemTime(T0 + 2);
    const newest = await insertManualRow(t, { modelName: "third", isActive: true, description: "old" });
    const before = await rows(t);
    vi.setSystemTime(T0 + 1_000);

    const args = fullArgs({ maxCompletionTokens: undefined });
    const result = await t.mutation(upsertModel, args);
    expect(result).toEqual({ action: "updated", id: oldest });
    const { apiIdentifier, ...metadata } = args;
    for (const id of [oldest, newer, newest]) {
      const { _id, _creationTime, isActive, modelVersion } = before.find((doc) => doc._id === id)!;
      expect(await row(t, id)).toEqual({
        _id,
        _creationTime,
        apiIdentifier,
        isActive,
        modelVersion,
        ...withoutUndefined(metadata),
        syncedFromOpenRouter: true,
        updatedAt: T0 + 1_000,
      });
    }
    expect(await rows(t)).toHaveLength(3);
  });

  test("names the oldest row on every call", async () => {
    const t = setup();
    const oldest = await insertManualRow(t);
    await insertManualRow(t);
    for (let i = 0; i < 3; i++) {
      expect((await t.mutation(upsertModel, fullArgs())).id).toBe(oldest);
    }
  });
});

function withoutUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const REJECTED: [keyof UpsertModelArgs, number][] = [
  ["inputCostPer1MTokens", -1_000_000],
  ["inputCostPer1MTokens", -0.01],
  ["inputCostPer1MTokens", Number.NaN],
  ["inputCostPer1MTokens", Number.POSITIVE_INFINITY],
  ["outputCostPer1MTokens", -1],
  ["outputCostPer1MTokens", Number.NaN],
  ["outputCostPer1MTokens", Number.NEGATIVE_INFINITY],
  ["contextWindow", 0],
  ["contextWindow", -4096],
  ["contextWindow", 1.5],
  ["contextWindow", Number.NaN],
  ["contextWindow", Number.POSITIVE_INFINITY],
  ["maxCompletionTokens", 0],
  ["maxCompletionTokens", -1],
  ["maxCompletionTokens", Number.NaN],
  ["maxCompletionTokens", Number.POSITIVE_INFINITY],
  ["openRouterCreatedAt", Number.NaN],
  ["openRouterCreatedAt", Number.POSITIVE_INFINITY],
];

async function expectRejected(promise: Promise<unknown>, field: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConvexError);
  expect((error as ConvexError<Value>).data).toMatchObject({
    code: "INVALID_ARGUMENT",
    field,
  });
}

describe("upsertModel: rejected input", () => {
  test.each(REJECTED)("%s = %s is rejected, naming the field, and nothing is written", async (field, value) => {
    const t = setup();
    await expectRejected(t.mutation(upsertModel, fullArgs({ [field]: value })), field);
    expect(await rows(t)).toEqual([]);
  });

  test.each(REJECTED)("%s = %s leaves an existing row as it was", async (field, value) => {
    const t = setup();
    const { id } = await t.mutation(upsertModel, fullArgs());
    const before = await row(t, id);
    vi.setSystemTime(T0 + 1_000);
    await expectRejected(t.mutation(upsertModel, fullArgs({ [field]: value })), field);
    expect(await row(t, id)).toEqual(before);
  });

  test("an empty apiIdentifier is rejected", async () => {
    const t = setup();
    await expectRejected(t.mutation(upsertModel, fullArgs({ apiIdentifier: " " })), "apiIdentifier");
    expect(await rows(t)).toEqual([]);
  });

  test.each([
    ["inputCostPer1MTokens", 0],
    ["outputCostPer1MTokens", 0],
    ["inputCostPer1MTokens", 0.075],
    ["contextWindow", 1],
    ["maxCompletionTokens", 1],
    ["openRouterCreatedAt", 0],
  ] as const)("%s = %s is accepted", async (field, value) => {
    const t = setup();
    const { id } = await t.mutation(upsertModel, fullArgs({ [field]: value }));
    expect((await row(t, id))[field]).toBe(value);
  });

  test("arguments outside the contract are refused by the validator", async () => {
    const t = setup();
    await expect(
      t.mutation(upsertModel, { ...fullArgs(), isActive: true } as UpsertModelArgs),
    ).rejects.toThrow();
    expect(await rows(t)).toEqual([]);
  });
});

describe("upsertModels (batched)", () => {
  const catalog: UpsertModelArgs[] = [
    fullArgs(),
    fullArgs({ apiIdentifier: "openai/gpt-oss-120b:free", isFree: true, inputCostPer1MTokens: 0, outputCostPer1MTokens: 0 }),
    minimalArgs("qwen/qwen3-coder:free"),
    fullArgs({ apiIdentifier: "x-ai/grok-4.1-fast", description: undefined, maxCompletionTokens: undefined }),
  ];

  /** A deployment that already holds an active hand-made row and a duplicate. */
  async function seeded(): Promise<Backend> {
    const t = setup();
    await insertManualRow(t, { apiIdentifier: "x-ai/grok-4.1-fast", description: "stale", maxCompletionTokens: 5 });
    vi.setSystemTime(T0 + 1);
    await insertManualRow(t, { apiIdentifier: "x-ai/grok-4.1-fast", isActive: false });
    vi.setSystemTime(T0 + 2);
    await t.mutation(upsertModel, fullArgs({ inputCostPer1MTokens: 99 }));
    vi.setSystemTime(T0 + 10_000);
    return t;
  }

  /** Rows without what differs between two databases: ids and each transaction's clock. */
  function comparable(docs: Doc<"aiModels">[]) {
    return docs.map(({ _id, _creationTime, updatedAt, ...fields }) => fields);
  }

  test("gives the same rows and actions as one upsertModel per model", async () => {
    const single = await seeded();
    const singleResults = [];
    for (const model of catalog) {
      singleResults.push(await single.mutation(upsertModel, model));
    }
    const batched = await seeded();
    const { results: batchResults } = await batched.mutation(upsertModels, { models: catalog });

    expect(batchResults.map((r) => r.ok && r.action)).toEqual(singleResults.map((r) => r.action));
    expect(batchResults.map((r) => r.apiIdentifier)).toEqual(catalog.map((m) => m.apiIdentifier));
    expect(comparable(await rows(batched))).toEqual(comparable(await rows(single)));
    const batchedRows = await rows(batched);
    expect(batchedRows).toHaveLength(5); // both duplicates stay, both updated
    const synced = batchedRows.filter((doc) => doc.syncedFromOpenRouter === true);
    expect(synced.map((doc) => doc.apiIdentifier).sort()).toEqual(
      [...catalog.map((m) => m.apiIdentifier), "x-ai/grok-4.1-fast"].sort(),
    );
    for (const doc of synced) {
      expect(doc.updatedAt).toBeGreaterThanOrEqual(T0 + 10_000);
    }
  });

  test("each result names the row it wrote", async () => {
    const t = setup();
    const { results } = await t.mutation(upsertModels, { models: catalog });
    for (const [i, result] of results.entries()) {
      expect(result.ok).toBe(true);
      if (!result.ok) continue;
      expect(result.action).toBe("inserted");
      expect((await row(t, result.id)).apiIdentifier).toBe(catalog[i].apiIdentifier);
    }
  });

  test("a bad item is reported and writes nothing; the rest of the batch lands", async () => {
    const t = await seeded();
    const before = await rows(t);
    const existing = before.find((doc) => doc.apiIdentifier === fullArgs().apiIdentifier)!;
    const { results } = await t.mutation(upsertModels, {
      models: [
        minimalArgs("qwen/qwen3-coder:free"),
        fullArgs({ outputCostPer1MTokens: -1_000_000 }), // would update an existing row
        fullArgs({ apiIdentifier: "new/bad", contextWindow: 0 }), // would insert
        fullArgs({ apiIdentifier: "new/good" }),
      ],
    });
    expect(results).toEqual([
      { ok: true, apiIdentifier: "qwen/qwen3-coder:free", action: "inserted", id: expect.any(String) },
      {
        ok: false,
        apiIdentifier: fullArgs().apiIdentifier,
        error: expect.objectContaining({ code: "INVALID_ARGUMENT", field: "outputCostPer1MTokens" }),
      },
      {
        ok: false,
        apiIdentifier: "new/bad",
        error: expect.objectContaining({ code: "INVALID_ARGUMENT", field: "contextWindow" }),
      },
      { ok: true, apiIdentifier: "new/good", action: "inserted", id: expect.any(String) },
    ]);
    expect(await row(t, existing._id)).toEqual(existing);
    const ids = (await rows(t)).map((doc) => doc.apiIdentifier);
    expect(ids).toContain("qwen/qwen3-coder:free");
    expect(ids).toContain("new/good");
    expect(ids).not.toContain("new/bad");
  });

  test("the same model twice in one batch is inserted, then updated", async () => {
    const t = setup();
    const { results } = await t.mutation(upsertModels, {
      models: [fullArgs(), fullArgs({ inputCostPer1MTokens: 2 })],
    });
    expect(results.map((r) => r.ok && r.action)).toEqual(["inserted", "updated"]);
    const all = await rows(t);
    expect(all).toHaveLength(1);
    expect(all[0].inputCostPer1MTokens).toBe(2);
  });

  test("an empty batch does nothing", async () => {
    const t = setup();
    expect(await t.mutation(upsertModels, { models: [] })).toEqual({ results: [] });
  });
});
