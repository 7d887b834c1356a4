/**
 * Checks stored documents against a pushed schema, as Convex does before it accepts a
 * push: the first document that does not match fails the push, naming table and problem.
 */
import { convexToJson, type Value } from "convex/values";
import type { SchemaJson, ValidatorJson } from "./types.js";

export interface SchemaMismatch {
  tableName: string;
  message: string;
}

type Document = Record<string, Value>;

/** The first document (in table order) the schema rejects, or null if every one matches. */
export function findSchemaMismatch(schema: SchemaJson | null, tables: Map<string, Document[]>): SchemaMismatch | null {
  if (schema === null || !schema.schemaValidation) return null;
  for (const table of schema.tables) {
    for (const document of tables.get(table.tableName) ?? []) {
      const problem = documentProblem(table.documentType, document);
      if (problem !== null) {
        return {
          tableName: table.tableName,
          message:
            `Document with ID "${String(document._id)}" in table "${table.tableName}" does not match the schema: ` +
            `${problem}\n\nObject: ${JSON.stringify(convexToJson(document))}`,
        };
      }
    }
  }
  return null;
}

/** Why `document` does not fit `validator` (system fields are always allowed), or null. */
export function documentProblem(validator: ValidatorJson, document: Document): string | null {
  const fields: Document = {};
  for (const [key, value] of Object.entries(document)) if (key !== "_id" && key !== "_creationTime") fields[key] = value;
  return problemAt(validator, fields, "");
}

function problemAt(validator: ValidatorJson, value: Value | undefined, path: string): string | null {
  const mismatch = (): string =>
    `Value does not match validator.\nPath: ${path || "(document)"}\nValue: ${describe(value)}\n` +
    `Validator: ${validatorText(validator)}`;
  switch (validator.type) {
    case "any":
      return null;
    case "null":
      return value === null ? null : mismatch();
    case "number":
      return typeof value === "number" ? null : mismatch();
    case "bigint":
      return typeof value === "bigint" ? null : mismatch();
    case "boolean":
      return typeof value === "boolean" ? null : mismatch();
    case "string":
      return typeof value === "string" ? null : mismatch();
    case "bytes":
      return value instanceof ArrayBuffer ? null : mismatch();
    case "id":
      return typeof value === "string" ? null : mismatch();
    case "literal":
      return value !== undefined && JSON.stringify(convexToJson(value)) === JSON.stringify(validator.value)
        ? null
        : mismatch();
    case "array": {
      if (!Array.isArray(value)) return mismatch();
      for (const [index, item] of value.entries()) {
        const problem = problemAt(validator.value as ValidatorJson, item, `${path}[${index}]`);
        if (problem !== null) return problem;
      }
      return null;
    }
    case "union":
      return (validator.value as ValidatorJson[]).some((member) => problemAt(member, value, path) === null)
        ? null
        : mismatch();
    case "record": {
      if (!isObject(value)) return mismatch();
      const values = (validator.values as { fieldType: ValidatorJson }).fieldType;
      for (const [key, item] of Object.entries(value)) {
        const problem = problemAt(values, item, `${path}.${key}`);
        if (problem !== null) return problem;
      }
      return null;
    }
    case "object": {
      if (!isObject(value)) return mismatch();
      const shape = validator.value as Record<string, { fieldType: ValidatorJson; optional: boolean }>;
      for (const [key, field] of Object.entries(shape)) {
        const item = value[key];
        if (item === undefined) {
          if (field.optional) continue;
          return (
            `Object is missing the required field \`${key}\`${path ? ` at ${path}` : ""}. ` +
            "Consider wrapping the field validator in `v.optional(...)` if this is expected."
          );
        }
        const problem = problemAt(field.fieldType, item, `${path}.${key}`);
        if (problem !== null) return problem;
      }
      for (const key of Object.keys(value)) {
        if (!(key in shape)) {
          return `Object contains extra field \`${key}\`${path ? ` at ${path}` : ""} that is not in the validator.`;
        }
      }
      return null;
    }
    default:
      return `Unknown validator type ${validator.type}`;
  }
}

function isObject(value: Value | undefined): value is Record<string, Value> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof ArrayBuffer);
}

function describe(value: Value | undefined): string {
  return value === undefined ? "undefined" : JSON.stringify(convexToJson(value));
}

/** `v.…` text for a validator, as Convex prints it in schema errors. */
function validatorText(validator: ValidatorJson): string {
  switch (validator.type) {
    case "literal":
      return `v.literal(${JSON.stringify(validator.value)})`;
    case "id":
      return `v.id("${String(validator.tableName)}")`;
    case "bigint":
      return "v.int64()";
    case "number":
      return "v.float64()";
    case "array":
      return `v.array(${validatorText(validator.value as ValidatorJson)})`;
    case "union":
      return `v.union(${(validator.value as ValidatorJson[]).map(validatorText).join(", ")})`;
    case "record": {
      const values = (validator.values as { fieldType: ValidatorJson }).fieldType;
      return `v.record(${validatorText(validator.keys as ValidatorJson)}, ${validatorText(values)})`;
    }
    case "object": {
      const shape = validator.value as Record<string, { fieldType: ValidatorJson; optional: boolean }>;
      const fields = Object.entries(shape).map(([key, field]) => {
        const text = validatorText(field.fieldType);
        return `${key}: ${field.optional ? `v.optional(${text})` : text}`;
      });
      return `v.object({${fields.join(", ")}})`;
    }
    default:
      return `v.${validator.type}()`;
  }
}
