import { v } from "convex/values";
import { internalMutation } from "../_generated/server";
import { recordHistoryEntry } from "../lib/history";
import { checkBatch, RECORD_SYNC_LIMIT } from "../lib/limits";
import {
  historyEntry,
  recordSyncItemResult,
  type RecordSyncItemResult,
} from "../lib/validators";

/**
 * Records what a sync saw for each model: a `modelHistory` row when the model
 * is first seen or a tracked value differs from its latest row, none when
 * nothing changed (so a replay records nothing). A field left out counts as
 * absent. Invalid entries are reported in `results` and skipped. A batch over
 * `RECORD_SYNC_LIMIT` (items or bytes) is refused whole with `TOO_MANY_ITEMS`.
 */
export const recordSync = internalMutation({
  args: { entries: v.array(historyEntry) },
  returns: v.object({
    /** How many `modelHistory` rows were added. */
    recorded: v.number(),
    results: v.array(recordSyncItemResult),
  }),
  handler: async (ctx, { entries }) => {
    checkBatch(entries, RECORD_SYNC_LIMIT);
    const recordedAt = Date.now();
    const results: RecordSyncItemResult[] = [];
    for (const entry of entries) {
      results.push(await recordHistoryEntry(ctx.db, entry, recordedAt));
    }
    const recorded = results.filter(
      (r) => r.status === "first_seen" || r.status === "changed",
    ).length;
    return { recorded, results };
  },
});
