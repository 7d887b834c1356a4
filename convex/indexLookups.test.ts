/// <reference types="vite/client" />
// The test backend's index lookups without a table scan (local_backend/src/indexLookups.ts)
// must find exactly what convex-test's scan finds.
import { expect, test } from "vitest";
import schema from "./schema";
import { hasIndexLookups } from "../local_backend/src/indexLookups";
import { convexTestWithLimits } from "../local_backend/src/limits";

const modules = import.meta.glob("./**/*.*s");

function row(apiIdentifier: string) {
  return { apiIdentifier, modelName: apiIdentifier, provider: "p", isActive: false };
}

type Backend = ReturnType<typeof convexTestWithLimits<typeof schema.tables>>;

/** Per id, the index lookup's rows and a full scan's (filter, no index), as `_id` lists. */
async function lookups(t: Backend, ids: string[]) {
  return await t.run(async (ctx) => {
    const found: Record<string, { index: string[]; scan: string[] }> = {};
    for (const id of ids) {
      const index = await ctx.db
        .query("aiModels")
        .withIndex("by_api_identifier", (q) => q.eq("apiIdentifier", id))
        .collect();
      const scan = await ctx.db
        .query("aiModels")
        .filter((q) => q.eq(q.field("apiIdentifier"), id))
        .collect();
      found[id] = { index: index.map((d) => d._id), scan: scan.map((d) => d._id) };
    }
    return found;
  });
}

function expectAgreement(
  found: Record<string, { index: string[]; scan: string[] }>,
  counts: Record<string, number>,
) {
  for (const [id, { index, scan }] of Object.entries(found)) {
    expect(index, id).toEqual(scan);
    expect(index.length, id).toBe(counts[id] ?? 0);
  }
}

const IDS = ["a/1", "b/2", "c/3", "d/4"];

test("every instance built here has the lookups", () => {
  expect(hasIndexLookups(convexTestWithLimits(schema, modules))).toBe(true);
});

test("lookups follow inserts, patches of the indexed field, deletes and rollbacks", async () => {
  const t = convexTestWithLimits(schema, modules);
  const [a, b, c] = await t.run(async (ctx) => [
    await ctx.db.insert("aiModels", row("a/1")),
    await ctx.db.insert("aiModels", row("b/2")),
    await ctx.db.insert("aiModels", row("c/3")),
  ]);
  expectAgreement(await lookups(t, IDS), { "a/1": 1, "b/2": 1, "c/3": 1 });

  await t.run(async (ctx) => {
    await ctx.db.patch(b, { apiIdentifier: "a/1" }); // now two rows for a/1
    await ctx.db.delete(c);
    await ctx.db.insert("aiModels", row("d/4"));
  });
  expectAgreement(await lookups(t, IDS), { "a/1": 2, "d/4": 1 });

  // A transaction's own writes are found before it commits, and a rollback undoes them.
  const failed = t.run(async (ctx) => {
    await ctx.db.patch(a, { apiIdentifier: "c/3" });
    await ctx.db.insert("aiModels", row("b/2"));
    const seen = await ctx.db
      .query("aiModels")
      .withIndex("by_api_identifier", (q) => q.eq("apiIdentifier", "c/3"))
      .collect();
    expect(seen.map((d) => d._id)).toEqual([a]);
    const gone = await ctx.db
      .query("aiModels")
      .withIndex("by_api_identifier", (q) => q.eq("apiIdentifier", "a/1"))
      .collect();
    expect(gone.map((d) => d._id)).toEqual([b]);
    throw new Error("roll back");
  });
  await expect(failed).rejects.toThrow("roll back");
  expectAgreement(await lookups(t, IDS), { "a/1": 2, "d/4": 1 });
});

test("lookups still count toward the 4,096 index ranges", async () => {
  const t = convexTestWithLimits(schema, modules);
  await t.run(async (ctx) => {
    for (let i = 0; i < 50; i++) await ctx.db.insert("aiModels", row(`m/${i}`));
  });
  const lookUp = (count: number) =>
    t.run(async (ctx) => {
      for (let i = 0; i < count; i++) {
        const id = `m/${i % 50}`;
        await ctx.db
          .query("aiModels")
          .withIndex("by_api_identifier", (q) => q.eq("apiIdentifier", id))
          .first();
      }
    });
  // 4,096 lookups of one row each stay within the limits; the 4,097th index range does not.
  await lookUp(4096);
  const over = lookUp(4097);
  await expect(over).rejects.toThrow(/Too many index ranges read .*limit: 4096/);
});
