// Whole documents as the functions return them, read off the schema the app deploys: an app
// whose `aiModels` table holds fields of its own (`sync-models init` keeps them) returns them
// too. A module of its own because schema.ts imports validators.ts (no import circle).
import { v } from "convex/values";
import schema from "../schema";

export const aiModelDoc = v.object({
  _id: v.id("aiModels"),
  _creationTime: v.number(),
  ...schema.tables.aiModels.validator.fields,
});

export const modelHistoryDoc = v.object({
  _id: v.id("modelHistory"),
  _creationTime: v.number(),
  ...schema.tables.modelHistory.validator.fields,
});
