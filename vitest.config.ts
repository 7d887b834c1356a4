import { configDefaults, defineConfig } from "vitest/config";

// Default test discovery (any *.test.ts), minus the Python virtualenv.
// convex-test runs Convex functions in the edge runtime, like Convex does;
// a Node-only test file can opt out with a `// @vitest-environment node` comment.
export default defineConfig({
  test: {
    environment: "edge-runtime",
    server: { deps: { inline: ["convex-test"] } },
    exclude: [...configDefaults.exclude, ".venv/**"],
  },
});
