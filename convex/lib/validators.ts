// Validators shared by the schema and the functions: each shape is defined once here.
import { v, type Infer } from "convex/values";

/** Fields of an `aiModels` document (system fields excluded). */
export const aiModelFields = {
  provider: v.string(),
  modelName: v.string(),
  modelVersion: v.optional(v.string()),
  apiIdentifier: v.string(),
  slug: v.optional(v.string()),
  contextWindow: v.optional(v.number()),
  isActive: v.boolean(),
  updatedAt: v.optional(v.number()),
  syncedFromOpenRouter: v.optional(v.boolean()),
  isFree: v.optional(v.boolean()),
  openRouterCreatedAt: v.optional(v.number()),
  inputCostPer1MTokens: v.optional(v.number()),
  outputCostPer1MTokens: v.optional(v.number()),
  maxCompletionTokens: v.optional(v.number()),
  description: v.optional(v.string()),
};

/**
 * `upsertModel`'s arguments: the contract the Python client sends. The batched
 * `upsertModels` takes an array of exactly this object.
 */
export const upsertModelArgs = v.object({
  apiIdentifier: v.string(),
  modelName: v.string(),
  provider: v.string(),
  slug: v.string(),
  contextWindow: v.optional(v.number()),
  isFree: v.boolean(),
  inputCostPer1MTokens: v.optional(v.number()),
  outputCostPer1MTokens: v.optional(v.number()),
  maxCompletionTokens: v.optional(v.number()),
  description: v.optional(v.string()),
  /** Milliseconds since the epoch. */
  openRouterCreatedAt: v.optional(v.number()),
});
export type UpsertModelArgs = Infer<typeof upsertModelArgs>;

export const upsertModelResult = v.object({
  action: v.union(v.literal("inserted"), v.literal("updated")),
  id: v.id("aiModels"),
});
export type UpsertModelResult = Infer<typeof upsertModelResult>;

/** The `data` of every `ConvexError` these functions throw. */
export const errorData = v.object({
  code: v.union(
    v.literal("INVALID_ARGUMENT"),
    v.literal("NOT_FOUND"),
    v.literal("TOO_MANY_ITEMS"),
  ),
  message: v.string(),
  /** The offending argument, for INVALID_ARGUMENT. */
  field: v.optional(v.string()),
  apiIdentifier: v.optional(v.string()),
});
export type ErrorData = Infer<typeof errorData>;

/** One item of `upsertModels`' result, in the order of the input. */
export const upsertModelsItemResult = v.union(
  v.object({
    ok: v.literal(true),
    apiIdentifier: v.string(),
    action: v.union(v.literal("inserted"), v.literal("updated")),
    id: v.id("aiModels"),
  }),
  v.object({
    ok: v.literal(false),
    apiIdentifier: v.string(),
    error: errorData,
  }),
);
export type UpsertModelsItemResult = Infer<typeof upsertModelsItemResult>;

/** Which configured list a history entry was synced from. */
export const historyList = v.union(
  v.literal("paid"),
  v.literal("free"),
  v.literal("catalog"),
);

/**
 * What the sync's guard saw for an active model (`price-increase`, `now-paid`,
 * `over-budget`, `expiring`), and `deactivated` when `--deactivate-over-budget`
 * turned it off.
 */
export const historyAlert = v.union(
  v.literal("price-increase"),
  v.literal("now-paid"),
  v.literal("over-budget"),
  v.literal("expiring"),
  v.literal("deactivated"),
);
export type HistoryAlert = Infer<typeof historyAlert>;

/** The values history tracks for a model, as of one sync. */
export const historyTrackedFields = {
  inputCostPer1MTokens: v.optional(v.number()),
  outputCostPer1MTokens: v.optional(v.number()),
  contextWindow: v.optional(v.number()),
  maxCompletionTokens: v.optional(v.number()),
  rank: v.optional(v.number()),
  list: v.optional(historyList),
};

export const historyEntry = v.object({
  apiIdentifier: v.string(),
  ...historyTrackedFields,
  alerts: v.optional(v.array(historyAlert)),
});
export type HistoryEntry = Infer<typeof historyEntry>;

const historyValue = v.union(v.number(), v.string());

export const historyChange = v.object({
  field: v.string(),
  from: v.optional(historyValue),
  to: v.optional(historyValue),
});
export type HistoryChange = Infer<typeof historyChange>;

/** Fields of a `modelHistory` document: the snapshot after the change, and the change. */
export const modelHistoryFields = {
  apiIdentifier: v.string(),
  /** Milliseconds since the epoch. */
  recordedAt: v.number(),
  kind: v.union(v.literal("first_seen"), v.literal("changed")),
  ...historyTrackedFields,
  changes: v.array(historyChange),
  /** The guard's alerts of that sync (absent on rows written before the guard). */
  alerts: v.optional(v.array(historyAlert)),
};

export const recordSyncItemResult = v.union(
  v.object({
    apiIdentifier: v.string(),
    status: v.union(v.literal("first_seen"), v.literal("changed")),
    id: v.id("modelHistory"),
  }),
  v.object({
    apiIdentifier: v.string(),
    status: v.literal("unchanged"),
  }),
  v.object({
    apiIdentifier: v.string(),
    status: v.literal("rejected"),
    error: errorData,
  }),
);
export type RecordSyncItemResult = Infer<typeof recordSyncItemResult>;
