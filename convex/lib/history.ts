// The rules of `recordSync`: one `modelHistory` row when a model is first seen,
// when one of its values changed since its latest row, or when the guard raised
// an alert that row does not hold; none otherwise. Which list or mode synced the
// model is not news on its own: switching between `--paid` and `--catalog` writes
// nothing.
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

/** The model's own values: a change of any of them is recorded. */
const DATA_FIELDS = [
  "inputCostPer1MTokens",
  "outputCostPer1MTokens",
  "contextWindow",
  "maxCompletionTokens",
] as const;

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

/**
 * Whether `after` is news since `before`: a data value changed, the rank moved
 * within one list (both sides ranked in the same list), or an alert appeared that
 * `before` does not hold. A list or a rank that only says which run synced the
 * model (`--catalog` has no rank) is not.
 */
export function isNews(
  before: Snapshot & Pick<HistoryEntry, "alerts">,
  after: Snapshot & Pick<HistoryEntry, "alerts">,
): boolean {
  if (DATA_FIELDS.some((field) => before[field] !== after[field])) return true;
  const ranked = before.rank !== undefined && after.rank !== undefined;
  if (ranked && before.list === after.list && before.rank !== after.rank) return true;
  const held = new Set(before.alerts ?? []);
  return (after.alerts ?? []).some((alert) => !held.has(alert));
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
  if (latest !== null && !isNews(latest, entry)) {
    return { apiIdentifier, status: "unchanged" };
  }
  const kind = latest === null ? "first_seen" : "changed";
  const snapshot: Snapshot = {};
  for (const field of TRACKED_FIELDS) {
    if (entry[field] !== undefined) {
      Object.assign(snapshot, { [field]: entry[field] });
    }
  }
  const alerts = entry.alerts ?? [];
  const id = await db.insert("modelHistory", {
    apiIdentifier,
    recordedAt,
    kind,
    ...snapshot,
    changes,
    ...(alerts.length > 0 ? { alerts } : {}),
  });
  return { apiIdentifier, status: kind, id };
}
