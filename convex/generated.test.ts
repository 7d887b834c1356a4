// @vitest-environment node
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

// A fast first check of `_generated/` (the exact one, `npx convex codegen` against the local
// backend, is in tests/test_convex_deploy.py). It must list exactly the
// modules `npx convex deploy` bundles, by the CLI's rules (convex/src/bundler `entryPoints`):
// JS/TS files outside `_generated/`, except schema, dotfiles, names with several dots
// (`*.test.ts`) and paths with spaces.
const here = dirname(fileURLToPath(import.meta.url));

function deployedModules(dir: string): string[] {
  const modules: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    const path = relative(here, full).split("\\").join("/");
    if (entry.isDirectory()) {
      if (path !== "_generated") modules.push(...deployedModules(full));
      continue;
    }
    const base = entry.name;
    const isCode = /\.(js|mjs|cjs|ts|tsx|mts|cts|jsx)$/.test(base);
    const skipped =
      base.startsWith(".") ||
      base.startsWith("#") ||
      /^schema\.(ts|js)$/.test(base) ||
      (base.match(/\./g) ?? []).length > 1 ||
      path.includes(" ");
    if (isCode && !skipped) modules.push(path.replace(/\.[^.]+$/, ""));
  }
  return modules;
}

test("_generated/api.d.ts lists exactly the modules Convex deploys", () => {
  const api = readFileSync(join(here, "_generated", "api.d.ts"), "utf8");
  const listed = [...api.matchAll(/^\s+"([^"]+)": typeof \w+;$/gm)].map((m) => m[1]);
  const imported = [...api.matchAll(/^import type \* as \w+ from "\.\.\/(.+)\.js";$/gm)].map((m) => m[1]);
  const expected = deployedModules(here).sort();
  expect(listed.sort()).toEqual(expected);
  expect(imported.sort()).toEqual(expected);
});

test("nothing Convex deploys imports a Node-only module", () => {
  for (const module of deployedModules(here)) {
    const source = readFileSync(join(here, `${module}.ts`), "utf8");
    expect(source, module).not.toMatch(/from "node:|require\(|^"use node"/m);
  }
});
