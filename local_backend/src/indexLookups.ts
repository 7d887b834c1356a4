/**
 * Index lookups without a table scan. convex-test evaluates every index range by visiting each
 * document of the table, so an upsert (one `by_api_identifier` lookup) costs time in proportion
 * to the table. Here each convex-test database keeps, per table and field, a map from a string
 * value to the ids of the committed documents holding it; a range that starts with an equality
 * on a string visits only those documents and the transaction's own writes. convex-test still
 * filters, sorts and counts what is visited, so results and limits are unchanged.
 *
 * This wraps three methods of convex-test's private database class (`_resolveQuerySource`,
 * `_iterateDocs`, `commit`); the scale benchmark and the tests of lookups catch a release that
 * changes them.
 */
import { AsyncLocalStorage } from "node:async_hooks";

type Document = Record<string, unknown>;

interface Database {
  _documents: Record<string, Document>;
  _tableIds: Map<string, Set<string>>;
  _writes: Array<Record<string, Document | null>>;
  get(table: string, id: string): Document | null;
  commit(commitTs?: unknown): void;
  _resolveQuerySource(query: Query): unknown;
  _iterateDocs(table: string, callback: (document: Document) => void): void;
}

interface Query {
  source: {
    type: string;
    indexName?: string;
    range?: Array<{ type: string; fieldPath: string; value: unknown }>;
  };
}

/** table → field path → value → ids of committed documents. */
type Lookups = Map<string, Map<string, Map<string, Set<string>>>>;

const lookupsOf = new WeakMap<Database, Lookups>();
/** The ids the next `_iterateDocs` of this database may visit (set for one query). */
const narrowed = new WeakMap<Database, { table: string; ids: Set<string> }>();
const PATCHED = Symbol.for("sync-models.indexLookups");

/**
 * convex-test's databases behind a `convexTest` instance, which it does not export: each of its
 * methods enters `AsyncLocalStorage#run(store)` at once, where `store.components[path].db` is a
 * database. One call that does nothing here (`finishInProgressScheduledFunctions`: none are)
 * with `run` wrapped captures the store.
 */
export function convexTestDatabases(test: object): object[] {
  const stores: unknown[] = [];
  const prototype = AsyncLocalStorage.prototype as unknown as { run: (...args: unknown[]) => unknown };
  const run = prototype.run;
  prototype.run = function (this: unknown, ...args: unknown[]) {
    stores.push(args[0]);
    return run.apply(this, args);
  };
  try {
    const scheduler = test as { finishInProgressScheduledFunctions(): Promise<void> };
    void scheduler.finishInProgressScheduledFunctions().catch(() => undefined);
  } finally {
    prototype.run = run;
  }
  const databases: object[] = [];
  for (const store of stores) {
    const components = (store as { components?: Record<string, { db?: unknown }> } | null)?.components;
    for (const component of Object.values(components ?? {})) {
      const db = component.db;
      if (typeof db === "object" && db !== null && "_queryResults" in db && !databases.includes(db)) {
        databases.push(db);
      }
    }
  }
  return databases;
}

/** Gives every database of convex-test's class the lookups (once per process and module copy). */
export function installIndexLookups(test: object): void {
  for (const database of convexTestDatabases(test)) {
    const prototype = Object.getPrototypeOf(database) as Database & { [PATCHED]?: true };
    if (prototype[PATCHED] || !hasExpectedShape(prototype)) continue;
    prototype[PATCHED] = true;
    patch(prototype);
  }
}

/** Whether `test`'s databases have the lookups (false if a convex-test release changed shape). */
export function hasIndexLookups(test: object): boolean {
  const databases = convexTestDatabases(test);
  return (
    databases.length > 0 &&
    databases.every((db) => (Object.getPrototypeOf(db) as { [PATCHED]?: true })[PATCHED] === true)
  );
}

function hasExpectedShape(prototype: Database): boolean {
  return ["_resolveQuerySource", "_iterateDocs", "commit", "get"].every(
    (name) => typeof (prototype as unknown as Record<string, unknown>)[name] === "function",
  );
}

function patch(prototype: Database): void {
  const resolveQuerySource = prototype._resolveQuerySource;
  const iterateDocs = prototype._iterateDocs;
  const commit = prototype.commit;

  prototype._resolveQuerySource = function (this: Database, query: Query) {
    const { source } = query;
    const first = source.range?.[0];
    if (source.type !== "IndexRange" || first?.type !== "Eq" || typeof first.value !== "string") {
      return resolveQuerySource.call(this, query);
    }
    const table = (source.indexName ?? "").split(".")[0];
    narrowed.set(this, { table, ids: committedIds(this, table, first.fieldPath, first.value) });
    try {
      return resolveQuerySource.call(this, query);
    } finally {
      narrowed.delete(this);
    }
  };

  prototype._iterateDocs = function (this: Database, table: string, callback: (document: Document) => void) {
    const only = narrowed.get(this);
    if (only === undefined || only.table !== table) {
      iterateDocs.call(this, table, callback);
      return;
    }
    // As convex-test does, but over the matching committed ids instead of the whole table;
    // the transaction's own writes are visited whatever they hold.
    const ids = new Set(only.ids);
    for (const writes of this._writes) {
      for (const id of Object.keys(writes)) if (tableOf(id) === table) ids.add(id);
    }
    for (const id of ids) {
      const document = this.get(table, id);
      if (document !== null) callback(document);
    }
  };

  prototype.commit = function (this: Database, commitTs?: unknown) {
    const lookups = lookupsOf.get(this);
    const applied = this._writes.length === 1 ? this._writes[0] : undefined;
    if (lookups === undefined || applied === undefined) {
      commit.call(this, commitTs);
      return;
    }
    const before = new Map<string, Document | undefined>();
    for (const id of Object.keys(applied)) before.set(id, this._documents[id]);
    commit.call(this, commitTs);
    for (const [id, old] of before) {
      const fields = lookups.get(tableOf(id));
      if (fields === undefined) continue;
      const now = this._documents[id];
      for (const [fieldPath, byValue] of fields) {
        const oldValue = old === undefined ? undefined : fieldValue(old, fieldPath);
        const newValue = now === undefined ? undefined : fieldValue(now, fieldPath);
        if (oldValue === newValue) continue;
        if (oldValue !== undefined) byValue.get(oldValue)?.delete(id);
        if (newValue !== undefined) addId(byValue, newValue, id);
      }
    }
  };
}

/** The committed ids whose `fieldPath` is `value`, from a map built on first use. */
function committedIds(db: Database, table: string, fieldPath: string, value: string): Set<string> {
  let lookups = lookupsOf.get(db);
  if (lookups === undefined) lookupsOf.set(db, (lookups = new Map()));
  let fields = lookups.get(table);
  if (fields === undefined) lookups.set(table, (fields = new Map()));
  let byValue = fields.get(fieldPath);
  if (byValue === undefined) {
    byValue = new Map();
    for (const id of db._tableIds.get(table) ?? []) {
      const held = fieldValue(db._documents[id], fieldPath);
      if (held !== undefined) addId(byValue, held, id);
    }
    fields.set(fieldPath, byValue);
  }
  return byValue.get(value) ?? new Set();
}

function addId(byValue: Map<string, Set<string>>, value: string, id: string): void {
  let ids = byValue.get(value);
  if (ids === undefined) byValue.set(value, (ids = new Set()));
  ids.add(id);
}

/** A document's string at `fieldPath` (dotted), or undefined when it holds anything else. */
function fieldValue(document: Document | undefined, fieldPath: string): string | undefined {
  let value: unknown = document;
  for (const part of fieldPath.split(".")) {
    const isObject = typeof value === "object" && value !== null && !Array.isArray(value);
    value = isObject ? (value as Document)[part] : undefined;
  }
  return typeof value === "string" ? value : undefined;
}

/** convex-test's ids are a counter followed by the table name. */
function tableOf(id: string): string {
  return id.replace(/^[0-9]+/, "");
}
