/**
 * Pulumi mocks for the unit tier: every resource the program registers is
 * recorded with its inputs, so a test can assert on what a user would see in
 * the rendered manifests or the cloud API calls, without an engine.
 */
import * as pulumi from "@pulumi/pulumi";
import { validateStackConfig } from "../../stacks/validate";
import type { StackConfig, StackConfigInput } from "../../stacks/schema";

export interface RegisteredResource {
    type: string;
    name: string;
    // Inputs as the provider would receive them: plain JSON.
    inputs: Record<string, any>;
}

export const registered: RegisteredResource[] = [];

/** Provider functions the program called (`kubernetes:helm:template` when a chart is rendered for a set Kubernetes version), with their inputs. */
export const invoked: { token: string; inputs: Record<string, any> }[] = [];

/** Installs the mocks; call in beforeAll, then import the modules under test. */
export async function setupMocks(stack = "unit"): Promise<void> {
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                registered.push({ type: args.type, name: args.name, inputs: args.inputs });
                const state = { ...args.inputs };
                if (args.type.startsWith("aws:") && !state.arn) state.arn = `arn:aws:mock:::${args.name}`;
                return { id: `${args.name}-id`, state };
            },
            call: mockCall,
        },
        "x1agent-platform",
        stack,
        false,
    );
}

/** Answers a provider function call and records it in `invoked`. */
export function mockCall(args: pulumi.runtime.MockCallArgs): Record<string, any> {
    invoked.push({ token: args.token, inputs: args.inputs });
    // The template function renders no objects here: what a chart renders is the engine tier's.
    return args.token === "kubernetes:helm:template" ? { result: [] } : { ...args.inputs };
}

/** Waits until no new resource has been registered for a while: the program is done. */
export async function settled(): Promise<RegisteredResource[]> {
    let last = -1;
    let stable = 0;
    while (stable < 8) {
        await new Promise((r) => setTimeout(r, 5));
        if (registered.length === last) stable++;
        else {
            stable = 0;
            last = registered.length;
        }
    }
    return registered;
}

/** Forgets what was registered, between cases in one file. */
export function resetRegistered(): void {
    registered.length = 0;
    invoked.length = 0;
}

/** The plain value inside an Output. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** A validated config from a partial input merged over the `local` example's required keys. */
export function stackConfig(overrides: Partial<StackConfigInput> = {}, stack = "unit"): StackConfig {
    const base: Record<string, unknown> = {
        cluster: { provider: "local", name: "x1agent-unit" },
        secrets: { tier: "kubernetes" },
        ingress: { host: "x1agent.localtest.me", issuer: { type: "selfSigned" } },
        ...overrides,
    };
    return validateStackConfig(stack, Object.fromEntries(Object.entries(base).map(([k, v]) => [`x1agent:${k}`, v])));
}

/** Resources of one Kubernetes kind, by `kubernetes:<group>/<version>:<Kind>` token suffix. */
export function ofKind(resources: RegisteredResource[], kind: string): RegisteredResource[] {
    return resources.filter((r) => r.type.startsWith("kubernetes:") && r.type.endsWith(`:${kind}`));
}
