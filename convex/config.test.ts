import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { TOP_FREE_MODELS } from "./config/topFreeModels";
import { TOP_PAID_MODELS } from "./config/topPaidModels";

const PAID = [
  "anthropic/claude-sonnet-4.5",
  "google/gemini-3-flash-preview",
  "moonshotai/kimi-k2.5",
  "deepseek/deepseek-v3.2",
  "google/gemini-2.5-flash-preview-09-2025",
  "x-ai/grok-code-fast-1",
  "x-ai/grok-4.1-fast",
  "anthropic/claude-opus-4.5",
  "google/gemini-2.5-flash-lite",
  "minimax/minimax-m2.1",
];
const FREE = [
  "qwen/qwen3-next-80b-a3b-instruct:free",
  "qwen/qwen3-coder:free",
  "stepfun/step-3.5-flash:free",
  "nvidia/nemotron-3-nano-30b-a3b:free",
  "deepseek/deepseek-r1-0528:free",
  "arcee-ai/trinity-mini:free",
  "meta-llama/llama-3.3-70b-instruct:free",
  "google/gemma-3-27b-it:free",
  "mistralai/mistral-small-3.1-24b-instruct:free",
  "openai/gpt-oss-120b:free",
];

/**
 * The exact form the Python client reads and `sync-models rankings` rewrites:
 * `//` header lines (one of them the last-updated date), then the array, one entry a line.
 */
const FORM =
  /^((?:\/\/.*\n)+)export const (TOP_(?:PAID|FREE)_MODELS) = \[\n((?: {2}\{ apiId: "[^"\n]+", rank: \d+ \},\n)+)\] as const;\n$/;

describe.each([
  ["topPaidModels.ts", "TOP_PAID_MODELS", TOP_PAID_MODELS, PAID],
  ["topFreeModels.ts", "TOP_FREE_MODELS", TOP_FREE_MODELS, FREE],
] as const)("config/%s", (file, name, exported, expected) => {
  const text = readFileSync(new URL(`./config/${file}`, import.meta.url), "utf8");

  test("is in the exact form, with a header and its Last updated line", () => {
    const match = FORM.exec(text);
    expect(match, text).not.toBeNull();
    const [, header, constName] = match!;
    expect(constName).toBe(name);
    expect(header).toMatch(/^\/\/ Last updated: \d{4}-\d{2}-\d{2}$/m);
  });

  test("lists the models ranked 1 to 10 in order", () => {
    expect(exported.map((entry) => entry.apiId)).toEqual(expected);
    expect(exported.map((entry) => entry.rank)).toEqual(expected.map((_, i) => i + 1));
    const lines = text.split("\n").filter((line) => line.startsWith("  { apiId:"));
    expect(lines).toEqual(exported.map((e) => `  { apiId: "${e.apiId}", rank: ${e.rank} },`));
  });
});

test("the free list names only free variants and the paid list none", () => {
  expect(TOP_FREE_MODELS.every((entry) => entry.apiId.endsWith(":free"))).toBe(true);
  expect(TOP_PAID_MODELS.some((entry) => entry.apiId.endsWith(":free"))).toBe(false);
});
