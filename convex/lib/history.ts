// The rules of `recordSync`: one `modelHistory` row when a model is first seen
// or when a tracked value changed since its latest row; none otherwise.
import type { Doc } from "../_generated/dataModel";
import type { DatabaseReader, DatabaseWriter } from "../_generated/server";
import { COST_FIELDS, TOKEN_FIELDS } from "./aiModels";
import { checkApiIdentifier, checkCosts, checkCounts } from "./errors";
import type {
  ErrorData,
  HistoryChange,
  HistoryEntry,
  RecordSyncItemResult,
} from "./validators";

/** The tracked values, in the order changes are listed. */
export const TRACKED_FIELDS = [
  "inputCostPer1MTokens",
  "outputCostPer1MTokens",
  "contextWindow",
  "maxCompletionTokens",
  "rank",
  "list",
] as const;
type TrackedField = (typeof TRACKED_FIELDS)[number];
type Snapshot = Pick<HistoryEntry, TrackedField>;

/** Checks the values the validators cannot, as `upsertModel` does, and a rank like a count. */
export function checkHistoryEntry(entry: HistoryEntry): ErrorData | null {
  return (
    checkApiIdentifier(entry.apiIdentifier) ??
    checkCosts(entry, COST_FIELDS) ??
    checkCounts(entry, [...TOKEN_FIELDS, "rank"])
  );
}

/** The tracked fields whose value differs between `before` and `after`. */
export function diffSnapshots(
  before: Snapshot | null,
  after: Snapshot,
): HistoryChange[] {
  const changes: HistoryChange[] = [];
  for (const field of TRACKED_FIELDS) {
    const from = before?.[field];
    const to = after[field];
    if (from !== to) {
      // An absent value is left out of the change (it is never stored as `undefined`).
      const change: HistoryChange = { field };
      if (from !== undefined) change.from = from;
      if (to !== undefined) change.to = to;
      changes.push(change);
    }
  }
  return changes;
}

export async function latestHistory(
  db: DatabaseReader,
  apiIdentifier: string,
): Promise<Doc<"modelHistory"> | null> {
  return await db
    .query("modelHistory")
    .withIndex("by_api_identifier_and_recorded_at", (q) =>
      q.eq("apiIdentifier", apiIdentifier),
    )
    .order("desc")
    .first();
}

/** Records `entry` if it is new or differs from the model's latest row. */
export async function recordHistoryEntry(
  db: DatabaseWriter,
  entry: HistoryEntry,
  recordedAt: number,
): Promise<RecordSyncItemResult> {
  const { apiIdentifier } = entry;
  const problem = checkHistoryEntry(entry);
  if (problem !== null) {
    return { apiIdentifier, status: "rejected", error: problem };
  }
  const latest = await latestHistory(db, apiIdentifier);
  const changes = diffSnapshots(latest, entry);
  if (latest !== null && changes.length === 0) {
    return { apiIdentifier, status: "unchanged" };
  }
  const kind = latest === null ? "first_seen" : "changed";
  const snapshot: Snapshot = {};
  for (const field of TRACKED_FIELDS) {
    if (entry[field] !== undefined) {
      Object.assign(snapshot, { [field]: entry[field] });
    }
  }
  const id = await db.insert("modelHistory", {
    apiIdentifier,
    recordedAt,
    kind,
    ...snapshot,
    changes,
  });
  return { apiIdentifier, status: kind, id };
}
