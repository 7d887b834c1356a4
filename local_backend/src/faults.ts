/** Fault injection: latency, one dropped socket, HTTP error mode, failing functions. */

export interface FaultSettings {
  /** Added before the server answers each client message or HTTP request. */
  latencyMs: number;
  /** The next socket to receive this many messages is dropped instead of answering the last. */
  dropAfterMessages: number | null;
  /** Every HTTP API request and WebSocket upgrade gets this status instead. */
  httpErrorStatus: number | null;
  /** `"path:fn" → message`: the function throws a plain Error with that message. */
  failFunctions: Record<string, string>;
}

export function noFaults(): FaultSettings {
  return { latencyMs: 0, dropAfterMessages: null, httpErrorStatus: null, failFunctions: {} };
}

/** Merges a control-endpoint body into the current settings; unknown keys are an error. */
export function applyFaultPatch(current: FaultSettings, patch: unknown): FaultSettings {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) {
    throw new Error("faults must be a JSON object");
  }
  const next = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    switch (key) {
      case "latencyMs":
        next.latencyMs = nonNegative(key, value ?? 0);
        break;
      case "dropAfterMessages":
        next.dropAfterMessages = value === null ? null : nonNegative(key, value);
        break;
      case "httpErrorStatus":
        if (value !== null && (typeof value !== "number" || value < 400 || value > 599)) {
          throw new Error("httpErrorStatus must be null or a status 400-599");
        }
        next.httpErrorStatus = value as number | null;
        break;
      case "failFunctions":
        next.failFunctions = stringMap(value ?? {});
        break;
      default:
        throw new Error(`unknown fault '${key}'`);
    }
  }
  return next;
}

function nonNegative(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new Error(`${name} must be a number >= 0`);
  }
  return value;
}

function stringMap(value: unknown): Record<string, string> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error("failFunctions must be an object of 'path:fn' → message");
  }
  for (const message of Object.values(value)) {
    if (typeof message !== "string") throw new Error("failFunctions messages must be strings");
  }
  return { ...(value as Record<string, string>) };
}

export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
