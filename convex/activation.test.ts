/// <reference types="vite/client" />
import { convexTestWithLimits } from "../local_backend/src/limits";
import { ConvexError, type Value } from "convex/values";
import { describe, expect, test } from "vitest";
import { internal } from "./_generated/api";
import schema from "./schema";

const modules = import.meta.glob("./**/*.*s");
const setActive = internal.mutations.activation.setActive;
const upsertModel = internal.mutations.syncModels.upsertModel;

const MODEL = {
  apiIdentifier: "x-ai/grok-4.1-fast",
  modelName: "xAI: Grok 4.1 Fast",
  provider: "x-ai",
  slug: "x-ai/grok-4.1-fast",
  isFree: false,
  inputCostPer1MTokens: 0.2,
  outputCostPer1MTokens: 0.5,
  contextWindow: 2_000_000,
};

describe("setActive", () => {
  test("activates and deactivates, returning the row's new state", async () => {
    const t = convexTestWithLimits(schema, modules);
    const { id } = await t.mutation(upsertModel, MODEL);
    const before = await t.run(async (ctx) => await ctx.db.get("aiModels", id));

    const on = await t.mutation(setActive, { apiIdentifier: MODEL.apiIdentifier, isActive: true });
    expect(on).toEqual({ ...before, isActive: true });
    expect(await t.run(async (ctx) => await ctx.db.get("aiModels", id))).toEqual(on);

    const off = await t.mutation(setActive, { apiIdentifier: MODEL.apiIdentifier, isActive: false });
    expect(off).toEqual({ ...before, isActive: false });
    expect(await t.run(async (ctx) => await ctx.db.get("aiModels", id))).toEqual(off);
  });

  test("setting the state it already has is harmless", async () => {
    const t = convexTestWithLimits(schema, modules);
    await t.mutation(upsertModel, MODEL);
    await t.mutation(setActive, { apiIdentifier: MODEL.apiIdentifier, isActive: true });
    const again = await t.mutation(setActive, { apiIdentifier: MODEL.apiIdentifier, isActive: true });
    expect(again.isActive).toBe(true);
  });

  test("an unknown model is a ConvexError naming it, and nothing is written", async () => {
    const t = convexTestWithLimits(schema, modules);
    await t.mutation(upsertModel, MODEL);
    const error = await t
      .mutation(setActive, { apiIdentifier: "nobody/nothing", isActive: true })
      .then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConvexError);
    expect((error as ConvexError<Value>).data).toMatchObject({
      code: "NOT_FOUND",
      apiIdentifier: "nobody/nothing",
    });
    const rows = await t.run(async (ctx) => await ctx.db.query("aiModels").collect());
    expect(rows.map((row) => [row.apiIdentifier, row.isActive])).toEqual([[MODEL.apiIdentifier, false]]);
  });

  test("with several rows for the model, sets each and returns the oldest", async () => {
    const t = convexTestWithLimits(schema, modules);
    const [oldest, newer] = await t.run(async (ctx) => {
      const row = { provider: "x-ai", modelName: "Grok", apiIdentifier: MODEL.apiIdentifier };
      return [
        await ctx.db.insert("aiModels", { ...row, isActive: false }),
        await ctx.db.insert("aiModels", { ...row, isActive: true, modelVersion: "v2" }),
      ];
    });
    const newerBefore = await t.run(async (ctx) => await ctx.db.get("aiModels", newer));
    const on = await t.mutation(setActive, { apiIdentifier: MODEL.apiIdentifier, isActive: true });
    expect(on._id).toBe(oldest);
    expect(on.isActive).toBe(true);
    await t.mutation(setActive, { apiIdentifier: MODEL.apiIdentifier, isActive: false });
    const rows = await t.run(async (ctx) => await ctx.db.query("aiModels").collect());
    expect(rows.map((row) => [row._id, row.isActive])).toEqual([
      [oldest, false],
      [newer, false],
    ]);
    expect(rows[1]).toEqual({ ...newerBefore, isActive: false });
    expect((await t.mutation(upsertModel, MODEL)).id).toBe(oldest);
  });
});
