import { v } from "convex/values";
import { internalMutation } from "../_generated/server";
import { findModel } from "../lib/aiModels";
import { fail, notFound } from "../lib/errors";
import { aiModelDoc } from "../lib/validators";

/**
 * Turns a model on or off for the app. Only `isActive` changes. Throws a
 * `ConvexError` (code NOT_FOUND) when no row has `apiIdentifier`.
 */
export const setActive = internalMutation({
  args: { apiIdentifier: v.string(), isActive: v.boolean() },
  returns: aiModelDoc,
  handler: async (ctx, { apiIdentifier, isActive }) => {
    const model = await findModel(ctx.db, apiIdentifier);
    if (model === null) {
      return fail(notFound(apiIdentifier));
    }
    await ctx.db.patch("aiModels", model._id, { isActive });
    return (await ctx.db.get("aiModels", model._id))!;
  },
});
