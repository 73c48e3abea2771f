import * as path from "node:path";
import { defineConfig } from "vitest/config";

// The cluster tier runs on a cluster of its own (.x1/test-cluster/), never on
// the one `npm run cluster -- up` and the README's main job use: its tests
// install the platform as a throwaway stack, restart the control plane and
// destroy what they applied, which would collide with (and tear down) a
// platform already applied there. Set before the global set-up and the test
// workers start, so scripts/cluster.sh and the tests see the same folder.
process.env.X1_CLUSTER_DIR ??= path.join(import.meta.dirname, ".x1", "test-cluster");

// One project per test tier (DESIGN.md "Test tiers"). `npm test` runs them all;
// `vitest run --project <tier>` runs one. Engine and runtime tiers drive the
// real CLI and share one state backend per test file, so files run one at a
// time there; their timeouts are generous because a cold engine is slow on a
// 2-core machine (speed is measured by `npm run bench`, never asserted here).
export default defineConfig({
    test: {
        reporters: ["default"],
        projects: [
            // Unit and schema hooks render whole stacks under mocks (beforeAll), as much work as a test: same timeout.
            { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 30_000 } },
            { test: { name: "schema", include: ["test/schema/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 } },
            { test: { name: "policy", include: ["test/policy/**/*.test.ts"], testTimeout: 600_000, hookTimeout: 600_000, fileParallelism: false } },
            { test: { name: "engine", include: ["test/engine/**/*.test.ts"], testTimeout: 900_000, hookTimeout: 900_000, fileParallelism: false } },
            { test: { name: "runtime", include: ["test/runtime/**/*.test.ts"], testTimeout: 900_000, hookTimeout: 900_000, fileParallelism: false } },
            // Against the local cluster (scripts/cluster.sh); the global set-up starts one when none runs.
            {
                test: {
                    name: "cluster",
                    include: ["test/cluster/**/*.test.ts"],
                    globalSetup: ["test/cluster/global-setup.ts"],
                    // An up of the whole platform is ~2-5 min on this 2-core machine when quiet; a CI rehearsal at
                    // load 12-15 took 600.9 s for one. The timeout is for a hang, not for speed.
                    testTimeout: 1_200_000,
                    hookTimeout: 900_000,
                    fileParallelism: false,
                },
            },
        ],
    },
});
