/**
 * `--state-file PATH`: the tables as one JSON file, rewritten (atomically) after every
 * committed mutation and loaded at start, so a killed backend can be restarted with its data.
 * After an `npx convex deploy` it also holds the pushed modules, so the restart serves them.
 *
 * convex-test assigns `_id` and `_creationTime` itself on insert, so a reload keeps every
 * document's fields and their order but gives them new `_id`s and creation times.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { convexToJson, jsonToConvex, type JSONValue, type Value } from "convex/values";
import type { SavedPush, Tables } from "./types.js";

/** What the file holds: the tables, and the code last pushed with the Convex CLI (if any). */
export interface SavedState {
  tables: Tables;
  push: SavedPush | null;
}

const FORMAT = "local-backend-state/1";

export class StateFile {
  constructor(readonly path: string) {}

  /** The saved state; no tables and no push when the file does not exist yet. */
  read(): SavedState {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { tables: {}, push: null };
      throw error;
    }
    const saved = JSON.parse(text) as { format?: unknown; tables?: Record<string, JSONValue[]>; push?: SavedPush };
    if (saved.format !== FORMAT || typeof saved.tables !== "object" || saved.tables === null) {
      throw new Error(`${this.path} is not a local backend state file (${FORMAT})`);
    }
    const tables: Tables = {};
    for (const [name, documents] of Object.entries(saved.tables)) {
      tables[name] = documents.map((document) => jsonToConvex(document) as Record<string, Value>);
    }
    return { tables, push: saved.push ?? null };
  }

  /** Replaces the file in one rename, so a kill leaves the old or the new state, never half. */
  write(tables: Tables, push: SavedPush | null): void {
    const json: Record<string, JSONValue[]> = {};
    for (const [name, documents] of Object.entries(tables)) {
      json[name] = documents.map((document) => convexToJson(document));
    }
    const temporary = `${this.path}.${process.pid}.tmp`;
    const state = push === null ? { format: FORMAT, tables: json } : { format: FORMAT, tables: json, push };
    writeFileSync(temporary, JSON.stringify(state));
    renameSync(temporary, this.path);
  }
}

/** A document without `_id` and `_creationTime`, ready to insert again. */
export function withoutSystemFields(document: Record<string, Value>): Record<string, Value> {
  const fields: Record<string, Value> = {};
  for (const [key, value] of Object.entries(document)) {
    if (!key.startsWith("_")) fields[key] = value;
  }
  return fields;
}
