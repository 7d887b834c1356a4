/**
 * Code pushed by the Convex CLI (`npx convex deploy` / `dev`): the bundles it sent, written
 * to a folder of their own and imported from there, and what Convex reports about them
 * (function analysis, schema, indexes).
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { SchemaDefinition } from "convex/server";
import { EMPTY_ROOT_MARKER, type IndexConfig, type ModuleMap, type PushedModule, type SchemaJson } from "./types.js";

/** The sha256 the CLI compares with `get_config_hashes` to skip unchanged modules. */
export function moduleHash(module: PushedModule): string {
  return createHash("sha256")
    .update(module.source)
    .update(module.sourceMap ?? "")
    .digest("hex");
}

/** Modules the CLI sends that the local backend cannot run, with the reason; null if none. */
export function unsupportedModule(module: PushedModule): string | null {
  if (module.environment === "node") {
    return `${module.path} is a "use node" module: Node.js actions are not supported by the local backend`;
  }
  const base = module.path.replace(/\.[a-z]+$/, "");
  if (base === "auth.config") return `${module.path}: auth config (user authentication) is not supported by the local backend`;
  if (base === "http") return `${module.path}: HTTP actions are not supported by the local backend`;
  if (base === "crons") return `${module.path}: cron jobs are not supported by the local backend`;
  return null;
}

/**
 * A push's modules on disk, importable by path. Each push gets a fresh folder: Node caches
 * an ES module by URL for the life of the process, so new code needs new URLs.
 */
export class PushedCode {
  readonly dir: string;

  constructor(readonly modules: PushedModule[]) {
    this.dir = mkdtempSync(join(tmpdir(), "local-backend-push-"));
    // The bundles are ES modules with `.js` names.
    writeFileSync(join(this.dir, "package.json"), '{"type":"module"}\n');
    for (const module of modules) {
      const file = join(this.dir, module.path);
      if (!file.startsWith(this.dir + "/")) throw new Error(`module path ${module.path} leaves the push folder`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, module.source);
    }
  }

  /**
   * The `modules` map convex-test wants. It locates the functions root by a `_generated`
   * key; a push has no `_generated/` (the CLI bundles it into each module), so one empty
   * entry marks the root.
   */
  moduleMap(): ModuleMap {
    const map: ModuleMap = { [EMPTY_ROOT_MARKER]: async () => ({}) };
    for (const module of this.modules) {
      if (module.path.startsWith("_deps/")) continue;
      const url = pathToFileURL(join(this.dir, module.path)).href;
      let loaded: Promise<Record<string, unknown>> | undefined;
      map[`./${module.path}`] = () => (loaded ??= import(url) as Promise<Record<string, unknown>>);
    }
    return map;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The database indexes a schema declares, as `table.index` configs. */
export function schemaIndexes(schema: SchemaJson | null): IndexConfig[] {
  return (schema?.tables ?? []).flatMap((table) =>
    table.indexes.map((index) => ({
      name: `${table.tableName}.${index.indexDescriptor}`,
      type: "database" as const,
      fields: index.fields,
    })),
  );
}

/** Indexes added and removed going from one schema to the next (a changed index is both). */
export function indexDiff(
  previous: SchemaJson | null,
  next: SchemaJson | null,
): { added_indexes: IndexConfig[]; removed_indexes: IndexConfig[] } {
  const key = (index: IndexConfig): string => `${index.name}(${index.fields.join(",")})`;
  const before = schemaIndexes(previous);
  const after = schemaIndexes(next);
  const beforeKeys = new Set(before.map(key));
  const afterKeys = new Set(after.map(key));
  return {
    added_indexes: after.filter((index) => !beforeKeys.has(key(index))),
    removed_indexes: before.filter((index) => !afterKeys.has(key(index))),
  };
}

/** `SchemaDefinition#export()` parsed; null without a schema. */
export function schemaJsonOf(schema: SchemaDefinition<any, boolean> | undefined): SchemaJson | null {
  if (schema === undefined) return null;
  const exported = (schema as unknown as { export?: () => string }).export;
  if (typeof exported !== "function") throw new Error("the schema module's default export is not a schema (defineSchema)");
  return JSON.parse(exported.call(schema)) as SchemaJson;
}
