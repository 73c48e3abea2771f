/**
 * Fakes of the policy SDK's arguments, built the way its analyzer server
 * builds them (props behind the SDK's own unknown-checking proxy, stack tags
 * as a Map, config per policy with enforcementLevel split off), so a policy
 * runs here exactly as in a preview. The public helpers lack stack tags and
 * unknowns; these have both.
 *
 * Unknown values: write `UNKNOWN` where a preview would not know a value. It
 * is the engine's RPC sentinel, which the SDK deserializes unchanged and its
 * proxy throws on. If an unknown error escapes a policy, the fake records the
 * violation as advisory, as the real server would: tests can see a quiet
 * downgrade.
 */
import * as policySdk from "@pulumi/policy";
import type { EnforcementLevel, PolicyResource, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { afterAll, expect } from "vitest";
import type { X1Policy } from "../../policies/lib/policy";

/** The engine's unknown-value sentinel (`UnknownStringValue` in the RPC protocol). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const sdk = policySdk as unknown as {
    unknownCheckingProxy: <T>(v: T) => T;
    UnknownValueError: new (...args: unknown[]) => Error;
};

export interface FakeResource {
    type: string;
    name: string;
    props: Record<string, any>;
    protect?: boolean;
    /** Name of the parent fake: in runStack the URN of the fake with that name, else a test URN. */
    parent?: string;
}

export interface RunOptions {
    /** Stack tags, e.g. { "x1agent:tier-floor": "vault" }. */
    tags?: Record<string, string>;
    /** This policy's config as in a --policy-pack-config file: a level, or { enforcementLevel?, ...props }. */
    config?: EnforcementLevel | Record<string, unknown>;
}

export interface Violation {
    message: string;
    urn?: string;
    enforcementLevel: EnforcementLevel;
}

export const urnOf = (r: Pick<FakeResource, "type" | "name">) => `urn:pulumi:test::x1agent-platform::${r.type}::${r.name}`;

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function splitConfig(policy: X1Policy, config: RunOptions["config"]): { level: EnforcementLevel; props: Record<string, unknown> } {
    if (typeof config === "string") return { level: config, props: {} };
    const { enforcementLevel, ...props } = config ?? {};
    return { level: (enforcementLevel as EnforcementLevel | undefined) ?? policy.enforcementLevel ?? "advisory", props };
}

function options(r: FakeResource, parents: Map<string, string> = new Map()) {
    return {
        protect: r.protect ?? false,
        ignoreChanges: [],
        aliases: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        additionalSecretOutputs: [],
        parent: r.parent ? (parents.get(r.parent) ?? urnOf({ type: "x1agent:test:Parent", name: r.parent })) : undefined,
    };
}

/** Every outcome seen per policy, for `expectEachPolicyBothWays`. */
const outcomes = new Map<string, Set<"pass" | "fail">>();

function record(policy: X1Policy, violations: Violation[]) {
    const seen = outcomes.get(policy.name) ?? new Set();
    seen.add(violations.length > 0 ? "fail" : "pass");
    outcomes.set(policy.name, seen);
}

async function collect(policy: X1Policy, config: RunOptions["config"], run: (report: (m: string, urn?: string) => void) => unknown): Promise<Violation[]> {
    const { level } = splitConfig(policy, config);
    if (level === "disabled") return [];
    const violations: Violation[] = [];
    // The server reports a remediate-level policy's remaining violations as mandatory.
    const reported: EnforcementLevel = level === "remediate" ? "mandatory" : level;
    try {
        await run((message, urn) => violations.push({ message, urn, enforcementLevel: reported }));
    } catch (err) {
        if (!(err instanceof sdk.UnknownValueError)) throw err;
        // What @pulumi/policy does with an unknown that escapes a policy: an advisory note.
        violations.push({ message: `can't run policy '${policy.name}' during preview: ${err.message}`, enforcementLevel: "advisory" });
    }
    record(policy, violations);
    return violations;
}

/** Runs a resource policy's validateResource on one fake resource (`siblings`: fakes its parent may be among). */
export function runResource(policy: X1Policy, r: FakeResource, opts: RunOptions = {}, siblings: FakeResource[] = []): Promise<Violation[]> {
    if (!("validateResource" in policy) || !policy.validateResource) throw new Error(`${policy.name} is not a resource policy`);
    const validate = policy.validateResource;
    const { props: config } = splitConfig(policy, opts.config);
    const props = sdk.unknownCheckingProxy(clone(r.props));
    const args: ResourceValidationArgs = {
        type: r.type,
        props,
        urn: urnOf(r),
        name: r.name,
        opts: options(r, new Map(siblings.map((x) => [x.name, urnOf(x)]))),
        stackTags: new Map(Object.entries(opts.tags ?? {})),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string) => {
            throw new Error(`not applicable: ${reason}`);
        },
    };
    return collect(policy, opts.config, async (report) => {
        for (const v of Array.isArray(validate) ? validate : [validate]) await v(args, report);
    });
}

/** Runs a stack policy's validateStack on a set of fake resources (their props are outputs). */
export function runStack(policy: X1Policy, resources: FakeResource[], opts: RunOptions = {}): Promise<Violation[]> {
    if (!("validateStack" in policy)) throw new Error(`${policy.name} is not a stack policy`);
    const { props: config } = splitConfig(policy, opts.config);
    const parents = new Map(resources.map((r) => [r.name, urnOf(r)]));
    const policyResources: PolicyResource[] = resources.map((r) => ({
        type: r.type,
        props: sdk.unknownCheckingProxy(clone(r.props)),
        urn: urnOf(r),
        name: r.name,
        opts: options(r, parents),
        dependencies: [],
        propertyDependencies: {},
        isType: () => false,
        asType: () => undefined,
    }));
    const args: StackValidationArgs = {
        resources: policyResources,
        stackTags: new Map(Object.entries(opts.tags ?? {})),
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string) => {
            throw new Error(`not applicable: ${reason}`);
        },
    };
    return collect(policy, opts.config, (report) => policy.validateStack(args, report));
}

/** Runs either kind: a resource policy over each resource, a stack policy over all. */
export async function run(policy: X1Policy, resources: FakeResource[], opts: RunOptions = {}): Promise<Violation[]> {
    if (policy.kind === "stack") return runStack(policy, resources, opts);
    const all: Violation[] = [];
    for (const r of resources) all.push(...(await runResource(policy, r, opts, resources)));
    return all;
}

/** Runs a resource policy's remediation; returns the new props (plain JSON) or undefined. */
export async function remediate(policy: X1Policy, r: FakeResource, opts: RunOptions = {}): Promise<Record<string, any> | undefined> {
    if (!("remediateResource" in policy) || !policy.remediateResource) throw new Error(`${policy.name} has no remediation`);
    const { props: config } = splitConfig(policy, opts.config);
    const props = sdk.unknownCheckingProxy(clone(r.props));
    const result = await policy.remediateResource({
        type: r.type,
        props,
        urn: urnOf(r),
        name: r.name,
        opts: options(r),
        stackTags: new Map(Object.entries(opts.tags ?? {})),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string) => {
            throw new Error(`not applicable: ${reason}`);
        },
    });
    return result ? clone(result) : undefined;
}

/**
 * Registers an afterAll that fails unless each named policy was seen both
 * passing and failing in this test file.
 */
export function expectEachPolicyBothWays(names: string[]): void {
    afterAll(() => {
        const missing = names.flatMap((n) => {
            const seen = outcomes.get(n) ?? new Set();
            return (["pass", "fail"] as const).filter((o) => !seen.has(o)).map((o) => `${n} never ${o === "pass" ? "passed" : "failed"}`);
        });
        expect(missing).toEqual([]);
    });
}
