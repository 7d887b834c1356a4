/// <reference types="vite/client" />
import { convexTestWithLimits } from "../local_backend/src/limits";
import { describe, expect, test } from "vitest";
import { internal } from "./_generated/api";
import schema from "./schema";

const modules = import.meta.glob("./**/*.*s");
const list = internal.queries.aiModels.list;

async function seeded() {
  const t = convexTestWithLimits(schema, modules);
  await t.run(async (ctx) => {
    // Rows the app made by hand: never synced, or explicitly not.
    await ctx.db.insert("aiModels", {
      provider: "openai",
      modelName: "GPT (manual)",
      apiIdentifier: "openai/manual",
      isActive: true,
    });
    await ctx.db.insert("aiModels", {
      provider: "openai",
      modelName: "GPT (manual, flagged)",
      apiIdentifier: "openai/manual-flagged",
      isActive: false,
      syncedFromOpenRouter: false,
    });
  });
  for (const apiIdentifier of ["a/synced-1", "b/synced-2"]) {
    await t.mutation(internal.mutations.syncModels.upsertModel, {
      apiIdentifier,
      modelName: apiIdentifier,
      provider: apiIdentifier.split("/")[0],
      slug: apiIdentifier,
      isFree: false,
    });
  }
  return t;
}

describe("queries/aiModels:list", () => {
  test("returns every row, oldest first, without syncedOnly", async () => {
    const t = await seeded();
    const rows = await t.query(list, {});
    expect(rows.map((row) => row.apiIdentifier)).toEqual([
      "openai/manual",
      "openai/manual-flagged",
      "a/synced-1",
      "b/synced-2",
    ]);
    expect(await t.query(list, { syncedOnly: false })).toEqual(rows);
  });

  test("returns only rows synced from OpenRouter with syncedOnly", async () => {
    const t = await seeded();
    const rows = await t.query(list, { syncedOnly: true });
    expect(rows.map((row) => row.apiIdentifier)).toEqual(["a/synced-1", "b/synced-2"]);
    expect(rows.every((row) => row.syncedFromOpenRouter === true)).toBe(true);
  });

  test("returns whole documents", async () => {
    const t = await seeded();
    const [row] = await t.query(list, { syncedOnly: true });
    expect(row).toMatchObject({
      _id: expect.any(String),
      _creationTime: expect.any(Number),
      apiIdentifier: "a/synced-1",
      isActive: false,
      syncedFromOpenRouter: true,
      updatedAt: expect.any(Number),
    });
  });

  test("an empty table is an empty list", async () => {
    const t = convexTestWithLimits(schema, modules);
    expect(await t.query(list, {})).toEqual([]);
    expect(await t.query(list, { syncedOnly: true })).toEqual([]);
  });
});

describe("queries/aiModels:listActive", () => {
  const listActive = internal.queries.aiModels.listActive;

  test("returns the active rows only, synced or not, oldest first", async () => {
    const t = await seeded();
    await t.mutation(internal.mutations.activation.setActive, {
      apiIdentifier: "b/synced-2",
      isActive: true,
    });
    const rows = await t.query(listActive, {});
    expect(rows.map((row) => row.apiIdentifier)).toEqual(["openai/manual", "b/synced-2"]);
    expect(rows.every((row) => row.isActive)).toBe(true);
  });

  test("an empty table is an empty list", async () => {
    const t = convexTestWithLimits(schema, modules);
    expect(await t.query(listActive, {})).toEqual([]);
  });
});
