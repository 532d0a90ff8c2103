import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // A `crosspost serve --sandbox` of the test run's own: every test talks to it over HTTP.
    globalSetup: ["./test/serve.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
