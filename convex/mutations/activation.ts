import { v } from "convex/values";
import { internalMutation } from "../_generated/server";
import { findModelRows } from "../lib/aiModels";
import { fail, notFound } from "../lib/errors";
import { aiModelDoc } from "../lib/documents";

/**
 * Turns a model on or off for the app: `isActive` on every row it has (one, unless
 * an old deployment holds duplicates), nothing else. Returns the oldest row. Throws
 * a `ConvexError` (code NOT_FOUND) when no row has `apiIdentifier`.
 */
export const setActive = internalMutation({
  args: { apiIdentifier: v.string(), isActive: v.boolean() },
  returns: aiModelDoc,
  handler: async (ctx, { apiIdentifier, isActive }) => {
    const rows = await findModelRows(ctx.db, apiIdentifier);
    const [oldest] = rows;
    if (oldest === undefined) {
      return fail(notFound(apiIdentifier));
    }
    for (const row of rows) {
      await ctx.db.patch("aiModels", row._id, { isActive });
    }
    return (await ctx.db.get("aiModels", oldest._id))!;
  },
});
