/**
 * (3) Policy pack evaluation time, two ways:
 *
 * - direct: every policy of policies/ called the way the analyzer calls it
 *   (props behind the policy SDK's unknown-checking proxy, stack tags, config
 *   with the schema defaults), over the custom resources a mocks run of the
 *   bench stack registered (their inputs stand in for props: resource
 *   policies see inputs in a preview too; stack policies see outputs, which
 *   under mocks equal the inputs). Resource policies run once per resource,
 *   stack policies once over all; ms per 1000 resources, and per policy.
 * - preview: a real preview of the bench stack with and without the pack
 *   (policies/run-pack, as the deployer and policy:check run it); the
 *   difference per 1000 resources.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import * as policySdk from "@pulumi/policy";
import type { PolicyResource, ReportViolation, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import type { X1Policy } from "../policies/lib/policy";
import { allPolicies } from "../policies/rules";
import { openStack } from "../runtime/engine/stack-runner";
import { policyPackPath } from "../scripts/policy-check";
import { mocksSample } from "./mocks";
import { engineScratch, timedPreview } from "./preview";
import { type Summary, summarize } from "./stats";
import { writeBenchStack } from "./stack-config";

const sdk = policySdk as unknown as { unknownCheckingProxy: <T>(v: T) => T };

interface Dumped {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
}

export interface PolicyDirect {
    workspaces: number;
    resources: number;
    /**
     * Violations per policy. Mocks' inputs are not a deployed stack: a
     * policy that reads outputs the engine would fill in may report here
     * what a real preview does not. Listed so the figure is not mistaken
     * for a clean run.
     */
    violations: Record<string, number>;
    totalMs: Summary;
    msPer1000: Summary;
    /** The policies that took longest (median run), ms. */
    slowest: { policy: string; kind: string; ms: number }[];
}

export interface PolicyPreviewRow {
    workspaces: number;
    resources: number;
    withoutMs: Summary;
    withMs: Summary;
    /** median with - median without: what the pack adds to this preview. */
    overheadMs: number;
}

export interface PolicyPreview {
    rows: PolicyPreviewRow[];
    /**
     * What the pack adds per 1000 more resources, between the smallest and
     * the largest size: the per-resource cost without the pack's fixed
     * start-up (its own process, loading the policies).
     */
    marginalMsPer1000?: number;
}

const urnOf = (r: Dumped) => `urn:pulumi:bench::x1agent-platform::${r.type}::${r.name}`;
const opts = () => ({
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
});

/** Default config of a policy, as the analyzer hands it over (schema defaults are applied by the pack's own code). */
const noConfig = <T extends object>() => ({}) as T;

function evaluate(policies: X1Policy[], resources: Dumped[], timing: Map<string, number>, violations: Map<string, number>): void {
    let current = "";
    const report: ReportViolation = () => {
        violations.set(current, (violations.get(current) ?? 0) + 1);
    };
    const tags = new Map<string, string>();
    for (const policy of policies) {
        current = policy.name;
        const started = performance.now();
        if ("validateResource" in policy && policy.validateResource) {
            const validators = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
            for (const r of resources) {
                const args: ResourceValidationArgs = {
                    type: r.type,
                    props: sdk.unknownCheckingProxy(r.inputs),
                    urn: urnOf(r),
                    name: r.name,
                    opts: opts(),
                    stackTags: tags,
                    isType: () => false,
                    asType: () => undefined,
                    getConfig: noConfig,
                    notApplicable: () => undefined as never,
                };
                for (const v of validators) void v(args, report);
            }
        } else if ("validateStack" in policy && policy.validateStack) {
            const all: PolicyResource[] = resources.map((r) => ({
                type: r.type,
                props: sdk.unknownCheckingProxy(r.inputs),
                urn: urnOf(r),
                name: r.name,
                opts: opts(),
                dependencies: [],
                propertyDependencies: {},
                isType: () => false,
                asType: () => undefined,
            }));
            const args: StackValidationArgs = { resources: all, stackTags: tags, getConfig: noConfig, notApplicable: () => undefined as never };
            void policy.validateStack(args, report);
        }
        timing.set(policy.name, (timing.get(policy.name) ?? 0) + (performance.now() - started));
    }
}

export async function benchPolicyDirect(workspaces: number, runs: number, log: (s: string) => void): Promise<PolicyDirect> {
    const dir = mkdtempSync(path.join(tmpdir(), "x1-bench-policy-"));
    let resources: Dumped[];
    try {
        const file = path.join(dir, "resources.json");
        await mocksSample(workspaces, [], ["--dump", file]);
        resources = JSON.parse(readFileSync(file, "utf8")) as Dumped[];
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
    const policies = allPolicies();
    // One warm-up pass: the first call of each policy compiles its code.
    evaluate(policies, resources, new Map(), new Map());
    const totals: number[] = [];
    const perPolicy: Map<string, number>[] = [];
    let violations = new Map<string, number>();
    for (let i = 0; i < runs; i++) {
        const timing = new Map<string, number>();
        violations = new Map();
        const started = performance.now();
        evaluate(policies, resources, timing, violations);
        totals.push(performance.now() - started);
        perPolicy.push(timing);
        log(`  policy (direct) ${resources.length} resources, run ${i + 1}/${runs}: ${totals[i]!.toFixed(1)} ms`);
    }
    const medianRun = perPolicy[totals.indexOf(summarize(totals).median)] ?? perPolicy[0]!;
    const kinds = new Map(policies.map((p) => [p.name, p.kind]));
    return {
        workspaces,
        resources: resources.length,
        violations: Object.fromEntries(violations),
        totalMs: summarize(totals),
        msPer1000: summarize(totals.map((t) => (t / resources.length) * 1000)),
        slowest: [...medianRun.entries()]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 5)
            .map(([policy, ms]) => ({ policy, kind: kinds.get(policy) ?? "?", ms })),
    };
}

export async function benchPolicyPreview(sizes: number[], runs: number, log: (s: string) => void): Promise<PolicyPreview> {
    const scratch = engineScratch("policy");
    const rows: PolicyPreviewRow[] = [];
    try {
        for (const workspaces of sizes) {
            const bench = writeBenchStack(workspaces);
            try {
                const stack = await openStack(bench.name);
                const without: number[] = [];
                const withPack: number[] = [];
                let resources = 0;
                for (let i = 0; i < runs; i++) {
                    const a = await timedPreview(stack);
                    const b = await timedPreview(stack, { policyPacks: [policyPackPath] });
                    resources = a.resources;
                    without.push(a.wallMs);
                    withPack.push(b.wallMs);
                    log(
                        `  policy (preview) ${workspaces} workspaces, run ${i + 1}/${runs}: without ${a.wallMs.toFixed(0)} ms, with the pack ${b.wallMs.toFixed(0)} ms`,
                    );
                }
                const w = summarize(withPack);
                const wo = summarize(without);
                rows.push({ workspaces, resources, withoutMs: wo, withMs: w, overheadMs: w.median - wo.median });
            } finally {
                bench.remove();
            }
        }
    } finally {
        scratch.cleanup();
    }
    const first = rows[0]!;
    const last = rows[rows.length - 1]!;
    const marginalMsPer1000 =
        rows.length > 1 && last.resources > first.resources ? ((last.overheadMs - first.overheadMs) / (last.resources - first.resources)) * 1000 : undefined;
    return { rows, marginalMsPer1000 };
}
