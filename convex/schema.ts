import { defineSchema, defineTable } from "convex/server";
import { aiModelFields, modelHistoryFields } from "./lib/validators";

// Deployments of the app already hold `aiModels` documents: a new field must be
// optional (or live in a new table) so that they keep validating.
export default defineSchema({
  aiModels: defineTable(aiModelFields)
    .index("by_api_identifier", ["apiIdentifier"])
    .index("by_synced_from_open_router", ["syncedFromOpenRouter"])
    .index("by_is_active", ["isActive"]),

  // What changed for a model at each sync (prices, limits, rank, list).
  modelHistory: defineTable(modelHistoryFields)
    .index("by_api_identifier_and_recorded_at", ["apiIdentifier", "recordedAt"])
    .index("by_recorded_at", ["recordedAt"]),
});
