/**
 * One program construction under Pulumi mocks, in its own process so peak
 * memory is this size's alone. Prints one JSON line (MocksSample) on stdout.
 *
 *   node --import tsx bench/mocks-child.ts <workspaces> [--dump <file>]
 *
 * --dump writes every registered custom resource (type, name, inputs) as
 * JSON, for the policy measurement.
 */
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import { benchConfigMap, benchStackName } from "./stack-config";

export interface MocksSample {
    workspaces: number;
    /** Loading the program's modules (components, schema, providers' SDKs). */
    importMs: number;
    /** validateStackConfig on the stack's raw config. */
    validateMs: number;
    /** From `new Platform` until every registration RPC has been answered. */
    constructMs: number;
    /** validateMs + constructMs: what grows with the stack. */
    wallMs: number;
    /** CPU time (user + system) of validation and construction: barely moved by other processes' load. */
    cpuMs: number;
    /** Every resource registered: custom resources and components. */
    resources: number;
    customResources: number;
    /** process.resourceUsage().maxRSS, in MiB. */
    peakRssMiB: number;
}

async function main(): Promise<void> {
    const n = Number(process.argv[2]);
    if (!Number.isInteger(n) || n < 0) throw new Error(`usage: mocks-child.ts <workspaces> [--dump <file>]; got '${process.argv[2] ?? ""}'`);
    const dumpAt = process.argv.indexOf("--dump");
    const dumpFile = dumpAt > 0 ? process.argv[dumpAt + 1] : undefined;
    const dump: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
    let resources = 0;
    let custom = 0;

    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                resources++;
                if (args.custom) {
                    custom++;
                    if (dumpFile) dump.push({ type: args.type, name: args.name, inputs: args.inputs });
                }
                return { id: `${args.name}-id`, state: { ...args.inputs } };
            },
            call: (args) => ({ ...args.inputs }),
        },
        "x1agent-platform",
        benchStackName(n),
        false,
    );

    let t = performance.now();
    // Loaded after setMocks, as a program loads them, and timed on their own.
    const k8s = require("@pulumi/kubernetes") as typeof import("@pulumi/kubernetes");
    const { Platform } = require("../components") as typeof import("../components");
    const { validateStackConfig } = require("../stacks/validate") as typeof import("../stacks/validate");
    const importMs = performance.now() - t;

    const raw = benchConfigMap(n);
    const cpu = process.cpuUsage();
    t = performance.now();
    const config = validateStackConfig(benchStackName(n), raw);
    const validateMs = performance.now() - t;

    t = performance.now();
    const kubernetes = new k8s.Provider("x1agent-k8s", { renderYamlToDirectory: "/nonexistent/bench-mocks", enableServerSideApply: true });
    new Platform("x1agent", { config }, { providers: { kubernetes } });
    // Waits until every registration (and every Output they chain) is done.
    await pulumi.runtime.disconnect();
    const constructMs = performance.now() - t;
    const used = process.cpuUsage(cpu);

    if (dumpFile) writeFileSync(dumpFile, JSON.stringify(dump));
    const sample: MocksSample = {
        workspaces: n,
        importMs,
        validateMs,
        constructMs,
        wallMs: validateMs + constructMs,
        cpuMs: (used.user + used.system) / 1000,
        resources,
        customResources: custom,
        peakRssMiB: process.resourceUsage().maxRSS / 1024,
    };
    process.stdout.write(`${JSON.stringify(sample)}\n`);
}

main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
});
