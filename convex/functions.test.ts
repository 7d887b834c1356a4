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

test("no module exports a function not listed here", () => {
  const modules = { activation, history, syncModels, aiModelsQueries, historyQueries };
  const exported = Object.values(modules).flatMap((m) =>
    Object.values(m).filter((value) => typeof value === "function"),
  );
  expect(exported).toHaveLength(Object.keys(FUNCTIONS).length);
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
