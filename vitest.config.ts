import { defineConfig } from "vitest/config";

// Unit specs are pure and fast; integration specs start real nats-server and service processes,
// so they get generous timeouts and run a few files at a time on this 2-core budget.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["**/*.unit.spec.ts"],
          exclude: ["node_modules/**"],
        },
      },
      {
        test: {
          name: "int",
          include: ["**/*.int.spec.ts"],
          // Finds or builds (with Go, once) the servers the specs run: test/support/global-setup.ts.
          globalSetup: ["test/support/global-setup.ts"],
          exclude: ["node_modules/**"],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
