import { defineConfig } from "tsup";

// ESM and CommonJS builds, each with its declarations, for Node ≥ 18, Deno, Bun and browsers.
export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
  platform: "neutral",
});
