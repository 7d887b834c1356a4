/** Loads every module under the functions folder and runs them with convex-test. */
import { readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";
import type { convexTest } from "convex-test";
import { makeFunctionReference, type PaginationResult, type SchemaDefinition } from "convex/server";
import { getConvexSize, type Value } from "convex/values";
import { convexTestDatabases } from "./indexLookups.js";
import { checkArguments, convexTestWithLimits } from "./limits.js";
import { withoutSystemFields } from "./persistence.js";
import { schemaJsonOf } from "./push.js";
import {
  type AnalyzedFunction,
  type Code,
  EMPTY_ROOT_MARKER,
  type ModuleMap,
  type Outcome,
  type SchemaJson,
  type Tables,
  type UdfType,
} from "./types.js";

/** A document as convex-test stores it, system fields included. */
type StoredDocument = Record<string, Value>;

interface RegisteredFunction {
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isPublic?: boolean;
  isInternal?: boolean;
  exportArgs?: () => string;
  exportReturns?: () => string;
}

/** One entry of `_system/cli/modules:apiSpec`, as `npx convex run` reads it. */
export interface FunctionSpec {
  functionType: "Query" | "Mutation" | "Action";
  identifier: string;
  visibility: { kind: "public" | "internal" };
  /** The args and returns validators as JSON (what `npx convex function-spec` prints). */
  args?: Value;
  returns?: Value;
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
  // An empty folder is an empty deployment, waiting for `npx convex deploy`.
  if (Object.keys(modules).length === 0) return { [EMPTY_ROOT_MARKER]: async () => ({}) };
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
  private modules: ModuleMap;
  private modulesByPath: Map<string, () => Promise<Record<string, unknown>>>;
  private schema: SchemaDefinition<any, boolean> | undefined;
  private test: ReturnType<typeof convexTest>;
  private queue: Promise<unknown> = Promise.resolve();
  /** convex-test's private database objects, found on first use (see dropFinishedQueries). */
  private databases: ConvexTestDatabase[] | undefined;

  constructor(code: Code) {
    this.modules = code.modules;
    this.modulesByPath = modulesByPath(code.modules);
    this.schema = code.schema;
    this.test = this.freshDatabase();
  }

  static async load(functionsDir: string): Promise<FunctionRunner> {
    return new FunctionRunner(await loadCode(discoverModules(functionsDir)));
  }

  /** The one place a convex-test instance is made, for a folder's code and a push's alike. */
  private freshDatabase(): ReturnType<typeof convexTest> {
    return convexTestWithLimits(this.schema, this.modules);
  }

  /**
   * Serves new code (a push) with the same documents, ids and creation times included.
   * `check` sees every stored document first, in the same turn as the switch (no write
   * can slip in between); if it returns a reason, nothing changes and the reason is returned.
   */
  replaceCode<T>(code: Code, check: (tables: Map<string, StoredDocument[]>) => T | null): Promise<T | null> {
    return this.serially(async () => {
      const previous = await rootDatabase(this.test);
      const rejected = check(documentsByTable(previous));
      if (rejected !== null) return rejected;
      this.modules = code.modules;
      this.modulesByPath = modulesByPath(code.modules);
      this.schema = code.schema;
      this.test = this.freshDatabase();
      this.databases = undefined;
      const next = await rootDatabase(this.test);
      // convex-test has no way to insert with given ids, so its storage moves over whole.
      next._documents = previous._documents;
      next._tableIds = previous._tableIds;
      next._nextDocId = previous._nextDocId;
      next._lastCreationTime = previous._lastCreationTime;
      return null;
    });
  }

  /** Every stored document by table (any table, in the schema or not). */
  storedDocuments(): Promise<Map<string, StoredDocument[]>> {
    return this.serially(async () => documentsByTable(await rootDatabase(this.test)));
  }

  /** The served schema as Convex exports it; null without one. */
  schemaJson(): SchemaJson | null {
    return schemaJsonOf(this.schema);
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
    return Object.keys(this.schema?.tables ?? {});
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
        this.databases ??= convexTestDatabases(this.test) as ConvexTestDatabase[];
        this.dropFinishedQueries(this.databases);
      }
    });
  }

  /** Every query, mutation and action served, for `npx convex run`'s hint list. */
  async listFunctions(): Promise<FunctionSpec[]> {
    const specs: FunctionSpec[] = [];
    // A module that fails to import only drops out of the hint list (a call to it reports the error).
    for (const [modulePath, functions] of await analyzeModules(this.modulesByPath, { skipBroken: true })) {
      for (const fn of functions) {
        specs.push({
          functionType: fn.udfType,
          identifier: `${modulePath}.js:${fn.name}`,
          visibility: fn.visibility,
          args: fn.args === null ? undefined : (JSON.parse(fn.args) as Value),
          returns: fn.returns === null ? undefined : (JSON.parse(fn.returns) as Value),
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
  private dropFinishedQueries(databases: ConvexTestDatabase[]): void {
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

/** The parts of convex-test's (unexported) database that the runner reaches into. */
interface ConvexTestDatabase {
  _queryResults: Record<number, unknown>;
  _documents: Record<string, StoredDocument>;
  _tableIds: Map<string, Set<string>>;
  _nextDocId: number;
  _lastCreationTime: number;
}

/** A module's code and schema: the schema is the default export of `schema.*`, if any. */
export async function loadCode(modules: ModuleMap): Promise<Code> {
  const schemaKey = Object.keys(modules).find((key) => /^\.\/schema\.[a-z]+$/.test(key));
  const schema = schemaKey ? ((await modules[schemaKey]())["default"] as SchemaDefinition<any, boolean>) : undefined;
  return { modules, schema };
}

/** `./dir/file.ts` keys → `dir/file`. */
export function modulesByPath(modules: ModuleMap): Map<string, () => Promise<Record<string, unknown>>> {
  return new Map(Object.entries(modules).map(([key, load]) => [key.slice(2).replace(MODULE_FILE, ""), load]));
}

/**
 * Convex's function analysis: every registered function of every module (not
 * `_generated/`, `_deps/` or the schema), with visibility and its args/returns validators
 * as JSON text. A module that fails to import throws, naming the module (or, with
 * `skipBroken`, is left out).
 */
export async function analyzeModules(
  byPath: Map<string, () => Promise<Record<string, unknown>>>,
  { skipBroken = false } = {},
): Promise<Map<string, AnalyzedFunction[]>> {
  const analysis = new Map<string, AnalyzedFunction[]>();
  for (const [modulePath, load] of byPath) {
    if (modulePath.startsWith("_generated/") || modulePath.startsWith("_deps/") || modulePath === "schema") continue;
    let exports: Record<string, unknown>;
    try {
      exports = await load();
    } catch (error) {
      if (skipBroken) continue;
      throw new Error(`Failed to analyze ${modulePath}.js: ${error instanceof Error ? error.message : String(error)}`);
    }
    const functions: AnalyzedFunction[] = [];
    for (const [name, value] of Object.entries(exports)) {
      const fn = value as RegisteredFunction | null;
      if (fn === null || (typeof fn !== "object" && typeof fn !== "function")) continue;
      const udfType = fn.isQuery ? "Query" : fn.isMutation ? "Mutation" : fn.isAction ? "Action" : null;
      if (udfType === null) continue;
      functions.push({
        name,
        pos: null,
        udfType,
        visibility: { kind: fn.isInternal ? "internal" : "public" },
        args: typeof fn.exportArgs === "function" ? fn.exportArgs() : null,
        returns: typeof fn.exportReturns === "function" ? fn.exportReturns() : null,
      });
    }
    analysis.set(modulePath, functions);
  }
  return analysis;
}

function documentsByTable(database: ConvexTestDatabase): Map<string, StoredDocument[]> {
  const tables = new Map<string, StoredDocument[]>();
  for (const [tableName, ids] of database._tableIds) {
    tables.set(tableName, [...ids].map((id) => database._documents[id]));
  }
  return tables;
}

async function rootDatabase(test: ReturnType<typeof convexTest>): Promise<ConvexTestDatabase> {
  const [database] = convexTestDatabases(test) as Partial<ConvexTestDatabase>[];
  if (database === undefined || !(database._tableIds instanceof Map) || typeof database._documents !== "object") {
    throw new Error("convex-test's database has an unexpected shape (was convex-test upgraded?)");
  }
  return database as ConvexTestDatabase;
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
