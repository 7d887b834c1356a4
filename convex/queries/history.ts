import { v } from "convex/values";
import { internalQuery } from "../_generated/server";
import { fail, invalidArgument } from "../lib/errors";
import { modelHistoryDoc } from "../lib/documents";

const DEFAULT_HISTORY_LIMIT = 1000;

/** `modelHistory` rows, newest first: one model's with `apiIdentifier`, else all. */
export const list = internalQuery({
  args: { apiIdentifier: v.optional(v.string()), limit: v.optional(v.number()) },
  returns: v.array(modelHistoryDoc),
  handler: async (ctx, { apiIdentifier, limit = DEFAULT_HISTORY_LIMIT }) => {
    if (!(Number.isSafeInteger(limit) && limit > 0 && limit <= 8192)) {
      fail(invalidArgument("limit", `must be a whole number from 1 to 8192, got ${limit}`));
    }
    const query =
      apiIdentifier === undefined
        ? ctx.db.query("modelHistory").withIndex("by_recorded_at")
        : ctx.db
            .query("modelHistory")
            .withIndex("by_api_identifier_and_recorded_at", (q) =>
              q.eq("apiIdentifier", apiIdentifier),
            );
    return await query.order("desc").take(limit);
  },
});
