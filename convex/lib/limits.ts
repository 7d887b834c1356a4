// Convex's per-call limits and the largest batch each batched mutation accepts, derived from
// what one item costs at worst, so that a maximal batch stays under every limit.
// https://docs.convex.dev/production/state/limits
import { getConvexSize, type Value } from "convex/values";
import { fail } from "./errors";

const MiB = 1 << 20;

/** Convex's limits on one function call (one transaction). */
export const CONVEX_LIMITS = {
  indexRanges: 4096, // db.get and db.query calls
  documentsRead: 32_000,
  documentsWritten: 16_000,
  bytesRead: 16 * MiB,
  bytesWritten: 16 * MiB,
  arrayItems: 8192,
} as const;

/**
 * The share of each limit a maximal batch may use. The rest is margin for what counts cannot
 * bound: a mutation's 1 s of execution time, and rows larger than the items that update them.
 */
export const LIMIT_SHARE = 0.25;

/**
 * What one item of a batch costs at worst: index ranges, documents read and written, how many
 * times its document's bytes are read and written, and what that document holds beyond the
 * item itself (system fields, fields the function adds), in bytes.
 */
export interface ItemCost {
  indexRanges: number;
  documentsRead: number;
  documentsWritten: number;
  timesBytesRead: number;
  timesBytesWritten: number;
  extraDocumentBytes: number;
}

export interface BatchLimit {
  /** The most items one call takes. */
  maxItems: number;
  /** The most bytes (`getConvexSize`) those items may take. */
  maxBytes: number;
}

/** The largest batch whose worst case uses at most `LIMIT_SHARE` of every limit. */
export function batchLimit(cost: ItemCost): BatchLimit {
  const share = (limit: number, perItem: number) =>
    perItem === 0 ? Infinity : Math.floor((limit * LIMIT_SHARE) / perItem);
  const limit = {
    maxItems: Math.min(
      CONVEX_LIMITS.arrayItems,
      share(CONVEX_LIMITS.indexRanges, cost.indexRanges),
      share(CONVEX_LIMITS.documentsRead, cost.documentsRead),
      share(CONVEX_LIMITS.documentsWritten, cost.documentsWritten),
    ),
    maxBytes: Math.min(
      share(CONVEX_LIMITS.bytesRead, cost.timesBytesRead),
      share(CONVEX_LIMITS.bytesWritten, cost.timesBytesWritten),
    ),
  };
  // The documents' extra bytes come out of the same budget.
  limit.maxBytes -= limit.maxItems * cost.extraDocumentBytes;
  return limit;
}

/**
 * `upsertModels`, per item: one `by_api_identifier` lookup reading the row, then a patch that
 * reads it again and writes it (or an insert). The row read is the one the previous sync
 * wrote, about the size of this item's document. A model an old deployment holds twice costs
 * its second row's reads and write too (every row is updated): that comes out of the margin,
 * and a maximal batch with every model held twice still fits (convex/limits.test.ts).
 */
export const UPSERT_MODELS_LIMIT = batchLimit({
  indexRanges: 1,
  documentsRead: 2,
  documentsWritten: 1,
  timesBytesRead: 2,
  timesBytesWritten: 1,
  extraDocumentBytes: 256, // _id, _creationTime, isActive, syncedFromOpenRouter, updatedAt: ~120
});

/**
 * `recordSync`, per item: one lookup of the model's latest history row (`.first()`: one
 * document, about the size of this entry's) and at most one insert.
 */
export const RECORD_SYNC_LIMIT = batchLimit({
  indexRanges: 1,
  documentsRead: 1,
  documentsWritten: 1,
  timesBytesRead: 1,
  timesBytesWritten: 1,
  extraDocumentBytes: 1024, // system fields, recordedAt, kind, up to six changes: ~460
});

/** Refuses a batch over `limit` with `TOO_MANY_ITEMS`, before anything is written. */
export function checkBatch(items: Value[], limit: BatchLimit): void {
  if (items.length > limit.maxItems) {
    fail({
      code: "TOO_MANY_ITEMS",
      message: `${items.length} items; send at most ${limit.maxItems} per call`,
    });
  }
  const bytes = getConvexSize(items);
  if (bytes > limit.maxBytes) {
    fail({
      code: "TOO_MANY_ITEMS",
      message: `${bytes} bytes of items; send at most ${limit.maxBytes} bytes per call`,
    });
  }
}
