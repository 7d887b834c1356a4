/**
 * Convex's limits, for every convex-test instance this project builds (the local backend's and
 * the vitest suite's): build instances with `convexTestWithLimits`, check call arguments with
 * `checkArguments`. See https://docs.convex.dev/production/state/limits.
 */
import { convexTest, type TestConvex } from "convex-test";
import { TransactionMetricsTracker } from "convex-test/dist/transactionMetrics.js";
import type { GenericSchema, SchemaDefinition } from "convex/server";
import { getConvexSize, type Value } from "convex/values";
import { installIndexLookups } from "./indexLookups.js";

const MiB = 1 << 20;
/** What one document may take, system fields included. */
export const MAX_DOCUMENT_BYTES = MiB;
/** What one call's arguments may take. */
export const MAX_ARGUMENTS_BYTES = 16 * MiB;
/** What one array may hold (arguments and documents alike). */
export const MAX_ARRAY_ITEMS = 8192;

const LIMITS_PAGE = "This is a Convex limit: https://docs.convex.dev/production/state/limits";

type Modules = Record<string, () => Promise<any>>;

/**
 * A convex-test instance that enforces Convex's transaction limits (convex-test's
 * `transactionLimits: true`: 16 MiB read and written, 32,000 documents scanned, 16,000 written,
 * 4,096 index ranges) and the 1 MiB per-document limit convex-test does not check. A function
 * over a limit throws an error naming it and its writes are rolled back, as on Convex. Its index
 * lookups skip the table scan (see indexLookups.ts), so it keeps up with larger tables.
 */
export function convexTestWithLimits<Schema extends GenericSchema>(
  schema: SchemaDefinition<Schema, boolean> | undefined,
  modules: Modules,
): TestConvex<SchemaDefinition<Schema, boolean>> {
  checkDocumentSizes();
  const test = convexTest({ schema, modules, transactionLimits: true });
  installIndexLookups(test);
  return test;
}

/** Throws what Convex answers for arguments over its size or array-length limits. */
export function checkArguments(args: Value): void {
  const size = getConvexSize(args);
  if (size > MAX_ARGUMENTS_BYTES) {
    throw new Error(
      `Arguments are too large (${size} bytes; limit: ${MAX_ARGUMENTS_BYTES} bytes). ${LIMITS_PAGE}`,
    );
  }
  const longest = longestArray(args);
  if (longest > MAX_ARRAY_ITEMS) {
    throw new Error(`Array has too many items (${longest}; limit: ${MAX_ARRAY_ITEMS}). ${LIMITS_PAGE}`);
  }
}

function longestArray(value: Value): number {
  if (Array.isArray(value)) {
    return value.reduce<number>((longest, item) => Math.max(longest, longestArray(item)), value.length);
  }
  if (value !== null && typeof value === "object" && !(value instanceof ArrayBuffer)) {
    let longest = 0;
    for (const item of Object.values(value)) {
      if (item !== undefined) longest = Math.max(longest, longestArray(item));
    }
    return longest;
  }
  return 0;
}

interface Tracker {
  trackWrite(docSizeBytes: number): void;
  _current(): { enforce: boolean } | undefined;
}

let documentSizesChecked = false;

/**
 * convex-test reports every written document's full size (`getConvexSize` of the document as
 * stored) to its metrics tracker, whose class it does not wrap, but checks only the transaction
 * totals. The tracker's `trackWrite` is wrapped, once per process, to refuse a document over
 * 1 MiB too, where limits are enforced. The tests that write a 1 MiB document catch a
 * convex-test release that changes this.
 */
function checkDocumentSizes(): void {
  if (documentSizesChecked) return;
  documentSizesChecked = true;
  const prototype = TransactionMetricsTracker.prototype as unknown as Tracker;
  const trackWrite = prototype.trackWrite;
  prototype.trackWrite = function (this: Tracker, docSizeBytes: number) {
    if (this._current()?.enforce === true && docSizeBytes > MAX_DOCUMENT_BYTES) {
      throw new Error(
        `Document is too large (${docSizeBytes} bytes; limit: ${MAX_DOCUMENT_BYTES} bytes per document). ` +
          LIMITS_PAGE,
      );
    }
    trackWrite.call(this, docSizeBytes);
  };
}
