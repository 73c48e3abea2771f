/**
 * The machinery every x1agent policy is built with: one factory per policy
 * (kebab-case name, description, severity, remediation steps, a default
 * enforcement level the caller or the policy config can override) and one
 * rule for values that are unknown during a preview.
 *
 * Unknown values. @pulumi/policy reports a check that touches an unknown
 * value as an *advisory* "can't run during preview" note, whatever the
 * policy's enforcement level: a mandatory check would quietly pass every
 * preview whose interesting field is computed. Here a check that needs an
 * unknown value reports a violation at the policy's own level instead, naming
 * the field: "unknown" is not evidence of compliance. The program makes every
 * field these policies read known at preview (they come from stack config);
 * a field computed from another resource's output is the exception the
 * message asks the author to remove. Checks that only *scan* values (secret
 * patterns) skip unknown leaves explicitly, with `entriesOf`.
 */
import * as policySdk from "@pulumi/policy";
import type {
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";

/** What every policy declares about itself (docs/policies.md lists the same). */
export interface PolicyMeta {
    /** kebab-case id, e.g. `cluster-secret-store-scoped`. */
    name: string;
    /** One sentence: the rule, as the author must read it. */
    description: string;
    severity: Severity;
    /** How to fix a violation, in steps. */
    remediationSteps: string;
    /** Default enforcement level; `--policy-pack-config` overrides it. */
    enforcementLevel: EnforcementLevel;
    /** Family, for the docs and the report. */
    family: "tier-upgrades" | "secret-scoping" | "no-plaintext-secrets" | "production-checklist";
    /** Extra policy config (besides enforcementLevel), JSON schema with defaults. */
    configSchema?: PolicyConfigSchema;
}

/** What a factory accepts: the pack passes nothing, tests and other packs may override. */
export interface PolicyOptions {
    enforcementLevel?: EnforcementLevel;
}

/** One resource as a check sees it, from a resource or a stack validation alike. */
export interface Res {
    type: string;
    name: string;
    urn: string;
    /** Properties (inputs in resource checks, outputs in stack checks); reading an unknown throws. */
    props: Record<string, unknown>;
    /** `protect` resource option (the analyzer protocol carries no retainOnDelete). */
    protect: boolean;
    /** URN of the parent resource, when any. */
    parent?: string;
}

/** Context handed to every check. */
export interface CheckContext<C> {
    /** This policy's config with the schema's defaults applied. */
    config: C;
    stackTags: ReadonlyMap<string, string>;
    /** Reports a violation; `urn` attributes it to another resource (stack checks). */
    report: (message: string, urn?: string) => void;
}

export type ResourceCheck<C> = (r: Res, ctx: CheckContext<C>) => void;
export type StackCheck<C> = (resources: Res[], ctx: CheckContext<C>) => void;
/**
 * Returns the resource's props fixed, or undefined when there is no safe
 * fix. Edit `r.props` in place and return it: the props carry secret values
 * whose secretness a copy would lose.
 */
export type ResourceRemediation<C> = (r: Res, ctx: Omit<CheckContext<C>, "report">) => Record<string, unknown> | undefined;

/** An x1agent policy: the SDK policy plus its metadata. */
export type X1Policy = (ResourceValidationPolicy | StackValidationPolicy) & { meta: PolicyMeta; kind: "resource" | "stack" };

// The SDK exports UnknownValueError at runtime but its typings omit it.
const UnknownValueError = (policySdk as unknown as { UnknownValueError: new (...args: unknown[]) => Error }).UnknownValueError;

/** Is this the error the policy SDK throws when a check reads an unknown value? */
export function isUnknownValueError(err: unknown): err is Error {
    return err instanceof UnknownValueError;
}

/** The message for a check that needed a value the preview does not know yet. */
export function unknownMessage(err: Error, what: string): string {
    return (
        `cannot be verified during preview: ${err.message} (${what}). ` +
        "An unknown value is not evidence of compliance, so this check fails closed: " +
        "make the field known at preview (derive it from stack config, not from another resource's output), then preview again"
    );
}

/** Applies the `default` of each configSchema property to the config the engine handed over. */
function withDefaults<C>(schema: PolicyConfigSchema | undefined, config: object): C {
    const defaults: Record<string, unknown> = {};
    for (const [key, prop] of Object.entries(schema?.properties ?? {})) {
        if (typeof prop === "object" && prop.default !== undefined) defaults[key] = prop.default;
    }
    return { ...defaults, ...config } as C;
}

function fromArgs(args: ResourceValidationArgs): Res {
    return { type: args.type, name: args.name, urn: args.urn, props: args.props, protect: args.opts.protect, parent: args.opts.parent };
}

function fromPolicyResource(r: PolicyResource): Res {
    return { type: r.type, name: r.name, urn: r.urn, props: r.props, protect: r.opts.protect, parent: r.opts.parent };
}

function sdkFields(meta: PolicyMeta, options: PolicyOptions) {
    return {
        name: meta.name,
        description: meta.description,
        severity: meta.severity,
        remediationSteps: meta.remediationSteps,
        enforcementLevel: options.enforcementLevel ?? meta.enforcementLevel,
        configSchema: meta.configSchema,
    };
}

/**
 * Runs `fn` for one resource; a read of an unknown value becomes a violation
 * of this policy (at its own level) attributed to that resource.
 */
export function guarded(r: Pick<Res, "type" | "name" | "urn">, report: (m: string, urn?: string) => void, fn: () => void): void {
    try {
        fn();
    } catch (err) {
        if (!isUnknownValueError(err)) throw err;
        report(`${r.type} '${r.name}' ${unknownMessage(err, "the check needs it")}`, r.urn);
    }
}

/** A policy that checks one resource at a time (the resource's inputs). */
export function resourcePolicy<C extends object = Record<string, never>>(
    meta: PolicyMeta,
    check: ResourceCheck<C>,
    remediate?: ResourceRemediation<C>,
): (options?: PolicyOptions) => X1Policy {
    return (options = {}) => {
        const policy: ResourceValidationPolicy & { meta: PolicyMeta; kind: "resource" } = {
            ...sdkFields(meta, options),
            meta,
            kind: "resource",
            validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
                const r = fromArgs(args);
                const report = (message: string, urn?: string) => reportViolation(message, urn);
                const ctx: CheckContext<C> = { config: withDefaults<C>(meta.configSchema, args.getConfig()), stackTags: args.stackTags, report };
                guarded(r, report, () => check(r, ctx));
            },
        };
        if (remediate) {
            policy.remediateResource = (args: ResourceValidationArgs) => {
                try {
                    return remediate(fromArgs(args), { config: withDefaults<C>(meta.configSchema, args.getConfig()), stackTags: args.stackTags });
                } catch (err) {
                    // Nothing is fixed from a guess: the validation reports the unknown.
                    if (isUnknownValueError(err)) return undefined;
                    throw err;
                }
            };
        }
        return policy;
    };
}

/** A policy that sees the whole stack at the end of the run (every resource's outputs). */
export function stackPolicy<C extends object = Record<string, never>>(meta: PolicyMeta, check: StackCheck<C>): (options?: PolicyOptions) => X1Policy {
    return (options = {}) => ({
        ...sdkFields(meta, options),
        meta,
        kind: "stack",
        validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
            const report = (message: string, urn?: string) => reportViolation(message, urn);
            const ctx: CheckContext<C> = { config: withDefaults<C>(meta.configSchema, args.getConfig()), stackTags: args.stackTags, report };
            try {
                check(args.resources.map(fromPolicyResource), ctx);
            } catch (err) {
                if (!isUnknownValueError(err)) throw err;
                report(`the stack ${unknownMessage(err, "the stack-wide check needs it")}`);
            }
        },
    });
}
