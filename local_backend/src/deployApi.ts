/**
 * The deployment endpoints the Convex CLI uses to push code (`npx convex deploy`, `dev`,
 * `codegen`): `get_config_hashes` and `deploy2/*`. Request and response shapes follow the
 * CLI's zod schemas in `convex/src/cli/lib/deployApi/`.
 *
 * A push runs in three calls: `start_push` writes the bundles to a folder of their own and
 * analyzes them (nothing served changes), `wait_for_schema` checks the stored documents
 * against the new schema, and `finish_push` switches the runner to the new code and schema
 * in one turn (checking again, so no write in between can slip past).
 */
import { randomUUID } from "node:crypto";
import type { SchemaDefinition } from "convex/server";
import { analyzeModules, type FunctionRunner, loadCode, modulesByPath } from "./functions.js";
import {
  indexDiff,
  moduleHash,
  PushedCode,
  schemaIndexes,
  schemaJsonOf,
  unsupportedModule,
} from "./push.js";
import { findSchemaMismatch, type SchemaMismatch } from "./schemaCheck.js";
import type { PushedModule, SavedPush, SchemaJson } from "./types.js";

/** An endpoint's answer: HTTP status and JSON body. */
export type Reply = [number, unknown];

interface LivePush {
  code: PushedCode;
  saved: SavedPush;
}

interface PendingPush {
  id: string;
  code: PushedCode;
  saved: SavedPush;
  codeForRunner: { modules: ReturnType<PushedCode["moduleMap"]>; schema: SchemaDefinition<any, boolean> | undefined };
  schema: SchemaJson | null;
  previousSchema: SchemaJson | null;
  moduleDiff: { added: string[]; removed: string[] };
}

export const DEPLOY_ROUTES = new Set([
  "/api/get_config_hashes",
  "/api/deploy2/start_push",
  "/api/deploy2/evaluate_push",
  "/api/deploy2/evaluate_schema",
  "/api/deploy2/wait_for_schema",
  "/api/deploy2/finish_push",
  "/api/deploy2/report_push_completed",
]);

class PushError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Deployment {
  private live: LivePush | null = null;
  /** The latest started push; an older one that tries to finish is a race, as in Convex. */
  private pending: PendingPush | null = null;

  constructor(
    private readonly runner: FunctionRunner,
    /** Called after a push is served: persist (with the new code) and re-run subscriptions. */
    private readonly onPushed: () => Promise<void>,
  ) {}

  /** Serves a saved push again (a `--state-file` restart), before any document is restored. */
  async restore(saved: SavedPush): Promise<void> {
    const code = new PushedCode(saved.modules);
    await this.runner.replaceCode(await loadCode(code.moduleMap()), () => null);
    this.live = { code, saved };
  }

  /** The last push, for the state file; null while serving a functions folder. */
  get savedPush(): SavedPush | null {
    return this.live?.saved ?? null;
  }

  async handle(path: string, body: Record<string, unknown>): Promise<Reply> {
    try {
      switch (path) {
        case "/api/get_config_hashes":
          return [200, this.configHashes()];
        case "/api/deploy2/start_push":
          return [200, await this.startPush(body, true)];
        case "/api/deploy2/evaluate_push":
          return [200, { schemaChange: (await this.startPush(body, false)).schemaChange }];
        case "/api/deploy2/evaluate_schema":
          return [200, await this.evaluateSchema(body)];
        case "/api/deploy2/wait_for_schema":
          return [200, await this.waitForSchema(body)];
        case "/api/deploy2/finish_push":
          return [200, await this.finishPush(body)];
        case "/api/deploy2/report_push_completed":
          return [200, {}];
        default:
          return [404, { code: "NotFound", message: `No route for POST ${path}` }];
      }
    } catch (error) {
      if (error instanceof PushError) return [400, { code: error.code, message: error.message }];
      return [400, { code: "BadPush", message: error instanceof Error ? error.message : String(error) }];
    }
  }

  stop(): void {
    this.pending?.code.remove();
    this.live?.code.remove();
  }

  private configHashes(): unknown {
    const saved = this.live?.saved;
    return {
      config: { functions: saved?.functions ?? "convex/", authInfo: [] },
      moduleHashes: (saved?.modules ?? []).map((module) => ({
        path: module.path,
        environment: module.environment,
        sha256: moduleHash(module),
      })),
      nodeDependencies: [],
      udfServerVersion: saved?.udfServerVersion ?? null,
    };
  }

  /**
   * Writes and analyzes the pushed code; with `register` it becomes the pending push that
   * `wait_for_schema` and `finish_push` refer to (by the id in `schemaChange.schemaIds`).
   */
  private async startPush(body: Record<string, unknown>, register: boolean) {
    const app = body.appDefinition as Record<string, unknown> | undefined;
    if (app === undefined) throw new PushError("BadPush", "start_push needs an appDefinition");
    const components = (body.componentDefinitions as unknown[] | undefined) ?? [];
    // The CLI always sends an app definition (a default one without convex.config.ts);
    // components show up as its dependencies and as component definitions.
    if (components.length > 0 || ((app.dependencies as unknown[] | undefined) ?? []).length > 0) {
      throw new PushError(
        "UnsupportedFeature",
        "Components (convex.config.ts) are not supported by the local backend: push an app without them",
      );
    }
    if (((body.nodeDependencies as unknown[] | undefined) ?? []).length > 0) {
      throw new PushError(
        "UnsupportedFeature",
        "Node.js actions and their external packages are not supported by the local backend",
      );
    }
    const modules = this.pushedModules(app);
    const schemaModule = (app.schema ?? null) as PushedModule | null;
    if (schemaModule !== null) modules.push({ ...schemaModule, path: "schema.js" });

    const code = new PushedCode(modules);
    try {
      const runnerCode = await loadCode(code.moduleMap());
      const schema = schemaJsonOf(runnerCode.schema);
      const analysis = await analyzeModules(modulesByPath(runnerCode.modules));
      const previousSchema = this.runner.schemaJson();
      const previousPaths = new Set(this.live?.saved.modules.map((module) => module.path) ?? []);
      const nextPaths = new Set(modules.map((module) => module.path));
      const saved: SavedPush = {
        functions: typeof body.functions === "string" ? body.functions : "convex/",
        udfServerVersion: typeof app.udfServerVersion === "string" ? app.udfServerVersion : "",
        modules,
      };
      const id = randomUUID();
      const pending: PendingPush = {
        id,
        code,
        saved,
        codeForRunner: runnerCode,
        schema,
        previousSchema,
        moduleDiff: {
          added: [...nextPaths].filter((path) => !previousPaths.has(path)),
          removed: [...previousPaths].filter((path) => !nextPaths.has(path)),
        },
      };
      const functions: Record<string, unknown> = {};
      for (const [modulePath, analyzed] of analysis) {
        functions[`${modulePath}.js`] = { functions: analyzed, httpRoutes: null, cronSpecs: null, sourceMapped: null };
      }
      const response = {
        environmentVariables: {},
        externalDepsId: null,
        componentDefinitionPackages: {},
        appAuth: [],
        analysis: {
          "": {
            definition: {
              path: "",
              definitionType: { type: "app" },
              childComponents: [],
              httpMounts: {},
              exports: { type: "branch", branch: [] },
              envVars: [],
            },
            schema,
            functions,
            udfConfig: { serverVersion: saved.udfServerVersion, importPhaseRngSeed: null, importPhaseUnixTimestamp: null },
          },
        },
        app: {
          definitionPath: "",
          componentPath: "",
          args: {},
          childComponents: {},
          httpRoutes: { httpModuleRoutes: null, mounts: [] },
          exports: {},
        },
        schemaChange: {
          allocatedComponentIds: null,
          schemaIds: { "": id },
          indexDiffs: { "": indexDiff(previousSchema, schema) },
        },
      };
      if (register) {
        this.pending?.code.remove();
        this.pending = pending;
      } else {
        code.remove();
      }
      return response;
    } catch (error) {
      code.remove();
      throw error;
    }
  }

  /** The changed modules as sent, and the unchanged ones from the live push (by hash). */
  private pushedModules(app: Record<string, unknown>): PushedModule[] {
    const modules: PushedModule[] = [...((app.changedModules as PushedModule[] | undefined) ?? [])];
    const key = (path: string, sha256: string): string => `${path}:${sha256}`;
    const live = new Map((this.live?.saved.modules ?? []).map((module) => [key(module.path, moduleHash(module)), module]));
    for (const unchanged of (app.unchangedModuleHashes as Array<{ path: string; sha256: string }> | undefined) ?? []) {
      const module = live.get(key(unchanged.path, unchanged.sha256));
      if (module === undefined) {
        throw new PushError("BadPush", `Module ${unchanged.path} was sent as unchanged, but the deployment does not have it`);
      }
      modules.push(module);
    }
    for (const module of modules) {
      const reason = unsupportedModule(module);
      if (reason !== null) throw new PushError("UnsupportedFeature", reason);
    }
    return modules;
  }

  private async evaluateSchema(body: Record<string, unknown>): Promise<unknown> {
    const app = body.appDefinition as Record<string, unknown> | undefined;
    const schemaModule = (app?.schema ?? null) as PushedModule | null;
    let schema: SchemaJson | null = null;
    if (schemaModule !== null) {
      const code = new PushedCode([{ ...schemaModule, path: "schema.js" }]);
      try {
        schema = schemaJsonOf((await loadCode(code.moduleMap())).schema);
      } finally {
        code.remove();
      }
    }
    const previous = this.runner.schemaJson();
    const tables = await this.runner.storedDocuments();
    const count = (tableName: string): number => tables.get(tableName)?.length ?? 0;
    const size = (tableName: string): number => JSON.stringify(tables.get(tableName) ?? [], bigintText).length;
    const before = new Map(schemaIndexes(previous).map((index) => [index.name, index]));
    const after = new Map(schemaIndexes(schema).map((index) => [index.name, index]));
    const indexes = [];
    for (const [name, index] of after) {
      const old = before.get(name);
      const same = old !== undefined && old.fields.join(",") === index.fields.join(",");
      const table = name.split(".")[0];
      const numDocs = count(table);
      indexes.push({ ...index, change: same ? "identical" : "added", needsBackfill: !same && numDocs > 0, numDocs });
    }
    for (const [name, index] of before) {
      const next = after.get(name);
      if (next !== undefined && next.fields.join(",") === index.fields.join(",")) continue;
      const table = name.split(".")[0];
      indexes.push({ ...index, change: "dropped", needsBackfill: false, numDocs: count(table) });
    }
    return {
      componentSchemaEvaluations: {
        "": {
          definitionPath: "",
          schemaValidation: schema?.schemaValidation ?? false,
          tables: (schema?.tables ?? []).map((table) => ({
            name: table.tableName,
            outcome: schema?.schemaValidation ? "mustWalk" : "notValidated",
            numDocs: count(table.tableName),
            sizeBytes: size(table.tableName),
          })),
          indexes,
          discardedStagedValidators: [],
        },
      },
      newComponentDefinitions: [],
    };
  }

  private async waitForSchema(body: Record<string, unknown>): Promise<unknown> {
    const pending = this.pendingFor(body.schemaChange);
    if (pending === null) return { type: "raceDetected" };
    const mismatch = findSchemaMismatch(pending.schema, await this.runner.storedDocuments());
    if (mismatch !== null) return failed(mismatch);
    return { type: "complete" };
  }

  private async finishPush(body: Record<string, unknown>): Promise<unknown> {
    const startPush = body.startPush as { schemaChange?: unknown } | undefined;
    const pending = this.pendingFor(startPush?.schemaChange);
    if (pending === null) throw new PushError("RaceDetected", "Schema was overwritten by another push.");
    if (body.dryRun !== true) {
      const mismatch = await this.runner.replaceCode(pending.codeForRunner, (tables) =>
        findSchemaMismatch(pending.schema, tables),
      );
      if (mismatch !== null) throw new PushError("SchemaValidationFailed", `Schema validation failed: ${mismatch.message}`);
      const previous = this.live;
      this.live = { code: pending.code, saved: pending.saved };
      this.pending = null;
      previous?.code.remove();
      await this.onPushed();
    }
    const diff = indexDiff(pending.previousSchema, pending.schema);
    return {
      authDiff: { added: [], removed: [] },
      definitionDiffs: {},
      componentDiffs: {
        "": {
          diffType: { type: "modify" },
          moduleDiff: pending.moduleDiff,
          udfConfigDiff: null,
          cronDiff: { added: [], updated: [], deleted: [] },
          indexDiff: diff,
          schemaDiff: {
            previous_schema: pending.previousSchema === null ? null : JSON.stringify(pending.previousSchema),
            next_schema: pending.schema === null ? null : JSON.stringify(pending.schema),
          },
        },
      },
    };
  }

  private pendingFor(schemaChange: unknown): PendingPush | null {
    const ids = (schemaChange as { schemaIds?: Record<string, unknown> } | undefined)?.schemaIds;
    const id = ids?.[""];
    return this.pending !== null && this.pending.id === id ? this.pending : null;
  }
}

function failed(mismatch: SchemaMismatch): unknown {
  return { type: "failed", error: mismatch.message, componentPath: "", tableName: mismatch.tableName };
}

function bigintText(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
