import { defineConfig } from "vitest/config";

// Preact's JSX through the bundler's own transform (no Babel plugin needed). Asset names carry a
// content hash, which lets the web function serve them as immutable.
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
  },
  test: {
    include: ["src/**/*.test.ts"],
  },
});
