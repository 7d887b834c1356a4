// The rules of `upsertModel`, shared by the single and the batched mutation.
import type { Doc } from "../_generated/dataModel";
import type { DatabaseReader, DatabaseWriter } from "../_generated/server";
import { checkApiIdentifier, checkCosts, checkCounts, fail, invalidArgument } from "./errors";
import type { ErrorData, UpsertModelArgs, UpsertModelResult } from "./validators";

export const COST_FIELDS = ["inputCostPer1MTokens", "outputCostPer1MTokens"] as const;
export const TOKEN_FIELDS = ["contextWindow", "maxCompletionTokens"] as const;

/**
 * Checks the values the validators cannot: a cost is finite and not negative,
 * a token count is a positive whole number, a timestamp is finite.
 * Returns the first problem, naming its field, or null.
 */
export function checkUpsertArgs(args: UpsertModelArgs): ErrorData | null {
  const created = args.openRouterCreatedAt;
  return (
    checkApiIdentifier(args.apiIdentifier) ??
    checkCosts(args, COST_FIELDS) ??
    checkCounts(args, TOKEN_FIELDS) ??
    (created !== undefined && !Number.isFinite(created)
      ? invalidArgument("openRouterCreatedAt", `must be finite, got ${created}`)
      : null)
  );
}

/** Orders rows oldest first: by `_creationTime`, then `_id`. */
export function compareOldestFirst(
  a: Pick<Doc<"aiModels">, "_creationTime" | "_id">,
  b: Pick<Doc<"aiModels">, "_creationTime" | "_id">,
): number {
  if (a._creationTime !== b._creationTime) {
    return a._creationTime - b._creationTime;
  }
  return a._id < b._id ? -1 : a._id > b._id ? 1 : 0;
}

/**
 * Every row for `apiIdentifier`, oldest first. There is one, unless an old deployment
 * inserted the model twice (the original sync could).
 */
export async function findModelRows(
  db: DatabaseReader,
  apiIdentifier: string,
): Promise<Doc<"aiModels">[]> {
  const rows = await db
    .query("aiModels")
    .withIndex("by_api_identifier", (q) => q.eq("apiIdentifier", apiIdentifier))
    .collect();
  return rows.sort(compareOldestFirst);
}

/**
 * Validates `args`, then inserts the model (inactive) or updates its metadata, on
 * every row the model has (each keeps its own `isActive`; the result names the
 * oldest). Throws a `ConvexError` naming the field before writing anything if a
 * value is rejected.
 */
export async function upsertModelRow(
  db: DatabaseWriter,
  args: UpsertModelArgs,
): Promise<UpsertModelResult> {
  const problem = checkUpsertArgs(args);
  if (problem !== null) {
    fail(problem);
  }
  // Every metadata field, present or not: patching a field with `undefined`
  // removes it, so what OpenRouter no longer reports is cleared.
  const metadata = {
    modelName: args.modelName,
    provider: args.provider,
    slug: args.slug,
    contextWindow: args.contextWindow,
    isFree: args.isFree,
    inputCostPer1MTokens: args.inputCostPer1MTokens,
    outputCostPer1MTokens: args.outputCostPer1MTokens,
    maxCompletionTokens: args.maxCompletionTokens,
    description: args.description,
    openRouterCreatedAt: args.openRouterCreatedAt,
    syncedFromOpenRouter: true,
    updatedAt: Date.now(),
  };
  // Duplicates get the same metadata, so none keeps a price the sync has corrected;
  // none is deleted (its isActive, or another table, may point at it).
  const existing = await findModelRows(db, args.apiIdentifier);
  const [oldest] = existing;
  if (oldest !== undefined) {
    for (const row of existing) {
      await db.patch("aiModels", row._id, metadata);
    }
    return { action: "updated", id: oldest._id };
  }
  const id = await db.insert("aiModels", {
    ...withoutUndefined(metadata),
    apiIdentifier: args.apiIdentifier,
    isActive: false,
  });
  return { action: "inserted", id };
}

/** `T` with each field that may be `undefined` made optional instead (an insert must omit it). */
type WithoutUndefined<T> = {
  [K in keyof T as undefined extends T[K] ? never : K]: T[K];
} & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

function withoutUndefined<T extends Record<string, unknown>>(value: T): WithoutUndefined<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined),
  ) as WithoutUndefined<T>;
}
