/// <reference types="vite/client" />
import { describe, expect, test } from "vitest";
import * as activation from "./mutations/activation";
import * as history from "./mutations/history";
import * as syncModels from "./mutations/syncModels";
import * as aiModelsQueries from "./queries/aiModels";
import * as historyQueries from "./queries/history";

// convex-test does not enforce visibility, so check it on the definitions: every
// function is internal (callable only with an admin or deploy key) and declares
// validators for its arguments and its result.
const FUNCTIONS = {
  "mutations/syncModels:upsertModel": [syncModels.upsertModel, "isMutation"],
  "mutations/syncModels:upsertModels": [syncModels.upsertModels, "isMutation"],
  "mutations/activation:setActive": [activation.setActive, "isMutation"],
  "mutations/history:recordSync": [history.recordSync, "isMutation"],
  "queries/aiModels:list": [aiModelsQueries.list, "isQuery"],
  "queries/aiModels:listActive": [aiModelsQueries.listActive, "isQuery"],
  "queries/history:list": [historyQueries.list, "isQuery"],
} as const;

type Registered = {
  isInternal?: boolean;
  isPublic?: boolean;
  isQuery?: boolean;
  isMutation?: boolean;
  exportArgs(): string;
  exportReturns(): string;
};

describe.each(Object.entries(FUNCTIONS))("%s", (_path, [fn, kind]) => {
  const registered = fn as unknown as Registered;
  test("is an internal function of the right kind", () => {
    expect(registered.isInternal).toBe(true);
    expect(registered.isPublic).toBeFalsy();
    expect(registered[kind]).toBe(true);
  });
  test("validates its args and its result", () => {
    expect(JSON.parse(registered.exportArgs())).toMatchObject({ type: "object" });
    expect(JSON.parse(registered.exportReturns())).not.toBeNull();
  });
});

test("no module under convex/ registers a function not listed here", () => {
  const modules = import.meta.glob<Record<string, unknown>>(
    ["./**/*.ts", "!./**/*.test.ts", "!./_generated/**"],
    { eager: true },
  );
  const registered = Object.entries(modules).flatMap(([file, exports]) =>
    Object.entries(exports)
      .filter(([, value]) => {
        const fn = value as Registered & { isAction?: boolean };
        return typeof value === "function" && (fn.isQuery || fn.isMutation || fn.isAction);
      })
      .map(([name]) => `${file.slice(2, -3)}:${name}`),
  );
  expect(registered.sort()).toEqual(Object.keys(FUNCTIONS).sort());
});

test("upsertModel and upsertModels share one argument validator", () => {
  const single = JSON.parse((syncModels.upsertModel as unknown as Registered).exportArgs());
  const batch = JSON.parse((syncModels.upsertModels as unknown as Registered).exportArgs());
  expect(batch.value.models.fieldType).toEqual({ type: "array", value: single });
  expect(Object.keys(single.value).sort()).toEqual(
    [
      "apiIdentifier",
      "modelName",
      "provider",
      "slug",
      "contextWindow",
      "isFree",
      "inputCostPer1MTokens",
      "outputCostPer1MTokens",
      "maxCompletionTokens",
      "description",
      "openRouterCreatedAt",
    ].sort(),
  );
});
