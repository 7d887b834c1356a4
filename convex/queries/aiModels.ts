import { v } from "convex/values";
import { internalQuery } from "../_generated/server";
import { aiModelDoc } from "../lib/documents";

/** The `aiModels` rows, oldest first; only those synced from OpenRouter with `syncedOnly`. */
export const list = internalQuery({
  args: { syncedOnly: v.optional(v.boolean()) },
  returns: v.array(aiModelDoc),
  handler: async (ctx, { syncedOnly }) => {
    if (syncedOnly === true) {
      return await ctx.db
        .query("aiModels")
        .withIndex("by_synced_from_open_router", (q) =>
          q.eq("syncedFromOpenRouter", true),
        )
        .collect();
    }
    return await ctx.db.query("aiModels").collect();
  },
});

/**
 * The active `aiModels` rows, oldest first: what a sync reads before it writes, to
 * alert on an active model that got dearer, stopped being free or is over budget.
 */
export const listActive = internalQuery({
  args: {},
  returns: v.array(aiModelDoc),
  handler: async (ctx) =>
    await ctx.db
      .query("aiModels")
      .withIndex("by_is_active", (q) => q.eq("isActive", true))
      .collect(),
});
