/**
 * The types the backend's modules share (and the one constant that goes with `ModuleMap`).
 * This module imports none of the others, so each of them can import it without a circle.
 */
import type { SchemaDefinition } from "convex/server";
import type { Value } from "convex/values";

export type UdfType = "query" | "mutation" | "action";

/** What a call produced: a value, or the error Convex would report. */
export type Outcome =
  | { ok: true; value: Value }
  | { ok: false; message: string; errorData?: Value };

/** convex-test's `modules` map: `./dir/file.ts` → lazy import. */
export type ModuleMap = Record<string, () => Promise<Record<string, unknown>>>;

/** What a runner serves: its modules and (optional) schema, from a folder or from a push. */
export interface Code {
  modules: ModuleMap;
  schema: SchemaDefinition<any, boolean> | undefined;
}

/** convex-test finds the functions root by a `_generated` key; code without one gets this. */
export const EMPTY_ROOT_MARKER = "./_generated/server.js";

/** Table name → its documents (system fields included), oldest first. */
export type Tables = Record<string, Array<Record<string, Value>>>;

/** One module as the CLI sends it (`moduleConfig` in the CLI's deployApi). */
export interface PushedModule {
  path: string;
  source: string;
  sourceMap?: string;
  environment: "isolate" | "node";
}

/** The exported schema (`SchemaDefinition#export()`), as Convex stores and reports it. */
export interface SchemaJson {
  tables: TableJson[];
  schemaValidation: boolean;
}

export interface TableJson {
  tableName: string;
  indexes: Array<{ indexDescriptor: string; fields: string[] }>;
  searchIndexes?: Array<{ indexDescriptor: string; searchField: string; filterFields: string[] }>;
  vectorIndexes?: Array<{ indexDescriptor: string; vectorField: string; dimensions?: number; filterFields: string[] }>;
  documentType: ValidatorJson;
}

export type ValidatorJson = { type: string; [key: string]: unknown };

/** An index as the CLI prints it (`developerIndexConfig`). */
export interface IndexConfig {
  name: string;
  type: "database";
  fields: string[];
}

/** One function as Convex's analysis reports it (`analyzedFunction`). */
export interface AnalyzedFunction {
  name: string;
  pos: null;
  udfType: "Query" | "Mutation" | "Action";
  visibility: { kind: "public" | "internal" };
  args: string | null;
  returns: string | null;
}

/** What `--state-file` keeps of the last push, so a restarted backend serves it again. */
export interface SavedPush {
  functions: string;
  udfServerVersion: string;
  modules: PushedModule[];
}
