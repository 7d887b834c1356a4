import { v } from "convex/values";
import { internalMutation } from "../_generated/server";
import { checkUpsertArgs, upsertModelRow } from "../lib/aiModels";
import { checkBatch, UPSERT_MODELS_LIMIT } from "../lib/limits";
import {
  upsertModelArgs,
  upsertModelResult,
  upsertModelsItemResult,
  type UpsertModelsItemResult,
} from "../lib/validators";

/**
 * Inserts a model from OpenRouter (inactive) or updates its metadata, leaving
 * `isActive` alone. Omitted fields are cleared. Rejects bad costs and token
 * counts with a `ConvexError` naming the field.
 */
export const upsertModel = internalMutation({
  args: upsertModelArgs,
  returns: upsertModelResult,
  handler: async (ctx, args) => await upsertModelRow(ctx.db, args),
});

/**
 * `upsertModel` applied to each item, in order; `results[i]` is item i's outcome.
 * An item that breaks a rule is checked before anything of it is written, writes
 * nothing, and is reported in its result; the other items still land. A batch over
 * `UPSERT_MODELS_LIMIT` (items or bytes) is refused whole with `TOO_MANY_ITEMS`.
 */
export const upsertModels = internalMutation({
  args: { models: v.array(upsertModelArgs) },
  returns: v.object({ results: v.array(upsertModelsItemResult) }),
  handler: async (ctx, { models }) => {
    checkBatch(models, UPSERT_MODELS_LIMIT);
    const results: UpsertModelsItemResult[] = [];
    for (const model of models) {
      const { apiIdentifier } = model;
      const problem = checkUpsertArgs(model);
      if (problem !== null) {
        results.push({ ok: false, apiIdentifier, error: problem });
        continue;
      }
      const result = await upsertModelRow(ctx.db, model);
      results.push({ ok: true, apiIdentifier, ...result });
    }
    return { results };
  },
});
