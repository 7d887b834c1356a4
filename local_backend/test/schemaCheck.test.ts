// @vitest-environment node
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { describe, expect, test } from "vitest";
import { indexDiff, schemaJsonOf } from "../src/push.js";
import { documentProblem, findSchemaMismatch } from "../src/schemaCheck.js";

const schema = schemaJsonOf(
  defineSchema({
    models: defineTable({
      name: v.string(),
      price: v.optional(v.number()),
      tags: v.array(v.union(v.literal("a"), v.literal("b"))),
      meta: v.optional(v.object({ count: v.int64(), extra: v.record(v.string(), v.boolean()) })),
      owner: v.optional(v.id("users")),
      blob: v.optional(v.bytes()),
      anything: v.optional(v.any()),
      nothing: v.optional(v.null()),
    }).index("by_name", ["name"]),
  }),
)!;
const documentType = schema.tables[0].documentType;
const system = { _id: "10000models", _creationTime: 1 };

describe("documentProblem", () => {
  test("a document that fits has no problem, system fields included", () => {
    const fits = {
      ...system,
      name: "x",
      price: 1.5,
      tags: ["a", "b"],
      meta: { count: 3n, extra: { k: true } },
      owner: "10000users",
      blob: new ArrayBuffer(2),
      anything: [1, "two"],
      nothing: null,
    };
    expect(documentProblem(documentType, fits)).toBeNull();
    expect(documentProblem(documentType, { ...system, name: "x", tags: [] })).toBeNull();
  });

  test("a missing required field is named, with Convex's hint", () => {
    expect(documentProblem(documentType, { ...system, tags: [] })).toBe(
      "Object is missing the required field `name`. " +
        "Consider wrapping the field validator in `v.optional(...)` if this is expected.",
    );
  });

  test("an extra field is named", () => {
    expect(documentProblem(documentType, { ...system, name: "x", tags: [], color: "red" })).toBe(
      "Object contains extra field `color` that is not in the validator.",
    );
  });

  test("a wrong type deep inside names its path, value and validator", () => {
    const problem = documentProblem(documentType, { name: "x", tags: ["a", "c"] });
    expect(problem).toBe(
      'Value does not match validator.\nPath: .tags[1]\nValue: "c"\nValidator: v.union(v.literal("a"), v.literal("b"))',
    );
    expect(documentProblem(documentType, { name: "x", tags: [], meta: { count: 3, extra: {} } })).toContain(
      "Path: .meta.count\nValue: 3\nValidator: v.int64()",
    );
    expect(documentProblem(documentType, { name: "x", tags: [], meta: { count: 3n, extra: { k: 1 } } })).toContain(
      "Path: .meta.extra.k",
    );
    expect(documentProblem(documentType, { name: 1, tags: [] })).toContain("Validator: v.string()");
    expect(documentProblem(documentType, { name: "x", tags: [], price: "1" })).toContain("Validator: v.float64()");
  });
});

describe("findSchemaMismatch", () => {
  test("the first rejected document fails, naming table, id and the object", () => {
    const tables = new Map([
      ["models", [{ ...system, name: "ok", tags: [] }, { _id: "10001models", _creationTime: 2, tags: [] }]],
    ]);
    const mismatch = findSchemaMismatch(schema, tables);
    expect(mismatch?.tableName).toBe("models");
    expect(mismatch?.message).toMatch(
      /^Document with ID "10001models" in table "models" does not match the schema: Object is missing the required field `name`/,
    );
    expect(mismatch?.message).toContain('Object: {"_creationTime":2,"_id":"10001models","tags":[]}');
  });

  test("no schema, schemaValidation off, or tables outside the schema are not checked", () => {
    const bad = new Map([["models", [{ ...system }]], ["other", [{ ...system, whatever: 1 }]]]);
    expect(findSchemaMismatch(null, bad)).toBeNull();
    expect(findSchemaMismatch({ ...schema, schemaValidation: false }, bad)).toBeNull();
    expect(findSchemaMismatch(schema, new Map([["other", [{ ...system, whatever: 1 }]]]))).toBeNull();
  });
});

describe("indexDiff", () => {
  test("added, removed, and a changed index as both", () => {
    const next = schemaJsonOf(
      defineSchema({
        models: defineTable({ name: v.string(), price: v.number() })
          .index("by_name", ["name", "price"])
          .index("by_price", ["price"]),
      }),
    );
    expect(indexDiff(schema, next)).toEqual({
      added_indexes: [
        { name: "models.by_name", type: "database", fields: ["name", "price"] },
        { name: "models.by_price", type: "database", fields: ["price"] },
      ],
      removed_indexes: [{ name: "models.by_name", type: "database", fields: ["name"] }],
    });
    expect(indexDiff(null, null)).toEqual({ added_indexes: [], removed_indexes: [] });
  });
});
