import { defineConfig } from "vitest/config";

// Notebook tests execute whole notebooks through the headless runner, so they get long timeouts
// and run one file at a time (the machines have 2 cores; tfjs training saturates both).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    pool: "forks",
    reporters: ["default"],
  },
});
