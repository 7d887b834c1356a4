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

/** An `apiIdentifier` must not be blank. */
export function checkApiIdentifier(apiIdentifier: string): ErrorData | null {
  return apiIdentifier.trim() === "" ? invalidArgument("apiIdentifier", "must not be empty") : null;
}

/** The first of `fields` that is set but is not a cost: a finite number >= 0. */
export function checkCosts<F extends string>(
  values: Partial<Record<F, number>>,
  fields: readonly F[],
): ErrorData | null {
  for (const field of fields) {
    const value = values[field];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      return invalidArgument(field, `must be a finite number >= 0, got ${value}`);
    }
  }
  return null;
}

/** The first of `fields` that is set but is not a count (tokens, a rank): a whole number > 0. */
export function checkCounts<F extends string>(
  values: Partial<Record<F, number>>,
  fields: readonly F[],
): ErrorData | null {
  for (const field of fields) {
    const value = values[field];
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      return invalidArgument(field, `must be a whole number > 0, got ${value}`);
    }
  }
  return null;
}

/** Throws the `ConvexError` that carries `data` to the caller. */
export function fail(data: ErrorData): never {
  throw new ConvexError(data);
}
