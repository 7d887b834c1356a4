import { ConvexError } from "convex/values";
import type { ErrorData } from "./validators";

export function invalidArgument(field: string, message: string): ErrorData {
  return { code: "INVALID_ARGUMENT", field, message: `${field}: ${message}` };
}

export function notFound(apiIdentifier: string): ErrorData {
  return {
    code: "NOT_FOUND",
    apiIdentifier,
    message: `No model with apiIdentifier "${apiIdentifier}"`,
  };
}

/** Throws the `ConvexError` that carries `data` to the caller. */
export function fail(data: ErrorData): never {
  throw new ConvexError(data);
}

/** Convex arrays hold at most 8,192 items. */
export const MAX_BATCH_ITEMS = 8192;

export function checkBatchSize(length: number): void {
  if (length > MAX_BATCH_ITEMS) {
    fail({
      code: "TOO_MANY_ITEMS",
      message: `${length} items; send at most ${MAX_BATCH_ITEMS} per call`,
    });
  }
}
