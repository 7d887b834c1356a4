/** Loads every module under the functions folder and runs them with convex-test. */
import { readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";
import type { convexTest } from "convex-test";
import { makeFunctionReference, type PaginationResult, type SchemaDefinition } from "convex/server";
import { getConvexSize, type Value } from "convex/values";
import { convexTestDatabases } from "./indexLookups.js";
import { checkArguments, convexTestWithLimits } from "./limits.js";
import { withoutSystemFields, type Tables } from "./persistence.js";

export type UdfType = "query" | "mutation" | "action";

/** What a call produced: a value, or the error Convex would report. */
export type Outcome =
  | { ok: true; value: Value }
  | { ok: false; message: string; errorData?: Value };

type ModuleMap = Record<string, () => Promise<Record<string, unknown>>>;

interface RegisteredFunction {
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isPublic?: boolean;
  isInternal?: boolean;
}

/** One entry of `_system/cli/modules:apiSpec`, as `npx convex run` reads it. */
export interface FunctionSpec {
  functionType: "Query" | "Mutation" | "Action";
  identifier: string;
  visibility: { kind: "public" | "internal" };
}

const MODULE_FILE = /\.(ts|js|mts|mjs|tsx|jsx)$/;
const SKIPPED_FILE = /(\.d\.ts|\.test\.[a-z]+|\.spec\.[a-z]+)$/;

/** The `modules` map convex-test wants: `./dir/file.ts` → lazy import, keys relative to the folder. */
export function discoverModules(functionsDir: string): ModuleMap {
  const modules: ModuleMap = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) {
        if (name !== "node_modules" && !name.startsWith(".")) walk(full);
      } else if (MODULE_FILE.test(name) && !SKIPPED_FILE.test(name)) {
        const key = "./" + relative(functionsDir, full).split(sep).join("/");
        let loaded: Promise<Record<string, unknown>> | undefined;
        modules[key] = () => (loaded ??= import(pathToFileURL(full).href));
      }
    }
  };
  walk(functionsDir);
  if (!Object.keys(modules).some((key) => key.startsWith("./_generated/"))) {
    throw new Error(`${functionsDir} has no _generated/ folder (convex-test needs one)`);
  }
  return modules;
}

/** `"queries/aiModels.js:list"` → `"queries/aiModels:list"`; a bare module means `default`. */
export function canonicalPath(udfPath: string): string {
  const [modulePath, exportName = "default"] = udfPath.split(":", 2);
  return `${modulePath.replace(/\.(js|ts)$/, "")}:${exportName}`;
}

class CallError extends Error {}

// The runner's own transactions (state-file dump and restore) stay within Convex's limits
// too: at most this many documents / about this many bytes each (a page may pass the byte
// budget by one document).
const HOUSEKEEPING_DOCUMENTS = 8000;
const HOUSEKEEPING_BYTES = 8 << 20;

export class FunctionRunner {
  private readonly modulesByPath: Map<string, () => Promise<Record<string, unknown>>>;
  private readonly schema: SchemaDefinition<any, boolean> | undefined;
  private test: ReturnType<typeof convexTest>;
  private queue: Promise<unknown> = Promise.resolve();
  /** convex-test's private database objects, found on first use (see dropFinishedQueries). */
  private databases: QueryResultsHolder[] | undefined;

  private constructor(
    private readonly modules: ModuleMap,
    schema: SchemaDefinition<any, boolean> | undefined,
  ) {
    this.modulesByPath = new Map(
      Object.entries(modules).map(([key, load]) => [key.slice(2).replace(MODULE_FILE, ""), load]),
    );
    this.schema = schema;
    this.test = this.freshDatabase();
  }

  static async load(functionsDir: string): Promise<FunctionRunner> {
    const modules = discoverModules(functionsDir);
    const schemaKey = Object.keys(modules).find((key) => /^\.\/schema\.[a-z]+$/.test(key));
    const schema = schemaKey ? ((await modules[schemaKey]())["default"] as SchemaDefinition<any, boolean>) : undefined;
    return new FunctionRunner(modules, schema);
  }

  private freshDatabase(): ReturnType<typeof convexTest> {
    return convexTestWithLimits(this.schema, this.modules);
  }

  /**
   * Every document of every schema table, oldest first (for `--state-file`). Read in pages,
   * one transaction each, so a table larger than one transaction may read still dumps.
   */
  dumpTables(): Promise<Tables> {
    return this.serially(async () => {
      const tables: Tables = {};
      for (const name of this.tableNames()) {
        const documents: Tables[string] = (tables[name] = []);
        let cursor: string | null = null;
        for (;;) {
          const options = { cursor, numItems: HOUSEKEEPING_DOCUMENTS, maximumBytesRead: HOUSEKEEPING_BYTES };
          const page: PaginationResult<Tables[string][number]> = await this.test.run(
            async (ctx) => await ctx.db.query(name).paginate(options),
          );
          documents.push(...page.page);
          if (page.isDone) break;
          cursor = page.continueCursor;
        }
      }
      return tables;
    });
  }

  /**
   * Inserts saved documents (new `_id`s: convex-test assigns them), in transactions
   * within the limits.
   */
  restoreTables(tables: Tables): Promise<void> {
    return this.serially(async () => {
      for (const [name, documents] of Object.entries(tables)) {
        let start = 0;
        while (start < documents.length) {
          let end = start;
          let bytes = 0;
          const full = () => end - start >= HOUSEKEEPING_DOCUMENTS || bytes >= HOUSEKEEPING_BYTES;
          while (end < documents.length && !full()) {
            bytes += getConvexSize(documents[end]);
            end += 1;
          }
          const batch = documents.slice(start, end);
          await this.test.run(async (ctx) => {
            for (const document of batch) await ctx.db.insert(name, withoutSystemFields(document));
          });
          start = end;
        }
      }
    });
  }

  private tableNames(): string[] {
    return Object.keys((this.schema as { tables?: Record<string, unknown> } | undefined)?.tables ?? {});
  }

  /** Drops every document: a new, empty convex-test database. */
  reset(): Promise<void> {
    return this.serially(async () => {
      this.test = this.freshDatabase();
      this.databases = undefined;
    });
  }

  /**
   * Runs one function call, one at a time across the whole backend (Convex serializes
   * conflicting mutations; here every call simply takes its turn).
   */
  call(
    udfPath: string,
    args: Record<string, Value>,
    options: { expected: UdfType | "any"; isAdmin: boolean; failWith?: string },
  ): Promise<Outcome & { type?: UdfType }> {
    return this.serially(async () => {
      const path = canonicalPath(udfPath);
      let type: UdfType | undefined;
      try {
        const fn = await this.resolve(path, options.isAdmin);
        type = fn.isQuery ? "query" : fn.isMutation ? "mutation" : "action";
        if (options.expected !== "any" && options.expected !== type) {
          throw new CallError(
            `Trying to execute ${path} as ${title(options.expected)}, but it is defined as ${title(type)}.`,
          );
        }
        if (options.failWith !== undefined) throw new Error(options.failWith);
        checkArguments(args);
        const run = this.test[type] as unknown as (reference: unknown, args: unknown) => Promise<Value>;
        const value = await run(makeFunctionReference<UdfType>(path), args);
        return { ok: true as const, value: value ?? null, type };
      } catch (error) {
        return { ...describeError(error), type };
      } finally {
        this.databases ??= convexTestDatabases(this.test) as QueryResultsHolder[];
        this.dropFinishedQueries(this.databases);
      }
    });
  }

  /** Every query, mutation and action under the folder, for `npx convex run`'s hint list. */
  async listFunctions(): Promise<FunctionSpec[]> {
    const specs: FunctionSpec[] = [];
    for (const [modulePath, load] of this.modulesByPath) {
      if (modulePath.startsWith("_generated/") || modulePath === "schema") continue;
      const exports = await load().catch(() => ({}) as Record<string, unknown>);
      for (const [name, value] of Object.entries(exports)) {
        const fn = value as RegisteredFunction | null;
        if (fn === null || (typeof fn !== "object" && typeof fn !== "function")) continue;
        const functionType = fn.isQuery ? "Query" : fn.isMutation ? "Mutation" : fn.isAction ? "Action" : null;
        if (functionType === null) continue;
        specs.push({
          functionType,
          identifier: `${modulePath}.js:${name}`,
          visibility: { kind: fn.isInternal ? "internal" : "public" },
        });
      }
    }
    return specs;
  }

  /**
   * convex-test keeps every query's result iterator for as long as its database lives
   * (`_queryResults` is never pruned: ~1.6 KB per upsert here). No query is open between
   * two calls, so the runner drops them after each call.
   */
  private dropFinishedQueries(databases: QueryResultsHolder[]): void {
    for (const database of databases) database._queryResults = {};
  }

  private async resolve(path: string, isAdmin: boolean): Promise<RegisteredFunction> {
    const [modulePath, exportName] = path.split(":");
    const load = this.modulesByPath.get(modulePath);
    const fn = load ? ((await load())[exportName] as RegisteredFunction | undefined) : undefined;
    const callable = fn && (fn.isQuery || fn.isMutation || fn.isAction);
    // Convex hides internal functions from everyone but the admin, with the same text.
    if (!callable || (!isAdmin && !fn.isPublic)) {
      const which = isAdmin ? "function" : "public function";
      throw new CallError(
        `Could not find ${which} for '${path}'. Did you forget to run \`npx convex dev\` or \`npx convex deploy\`?`,
      );
    }
    return fn;
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

interface QueryResultsHolder {
  _queryResults: Record<number, unknown>;
}

function title(type: UdfType): string {
  return type[0].toUpperCase() + type.slice(1);
}

function describeError(error: unknown): { ok: false; message: string; errorData?: Value } {
  if (error instanceof CallError) return { ok: false, message: error.message };
  if (typeof error === "object" && error !== null && Symbol.for("ConvexError") in error) {
    const convexError = error as Error & { data: Value };
    return { ok: false, message: `Uncaught ConvexError: ${convexError.message}`, errorData: convexError.data };
  }
  if (error instanceof Error) return { ok: false, message: `Uncaught ${error.name}: ${error.message}` };
  return { ok: false, message: `Uncaught ${String(error)}` };
}
