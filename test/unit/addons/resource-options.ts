/**
 * Records the options each child of a component was registered with, so a
 * test can check ordering (`dependsOn`) under mocks, where the engine's
 * dependency graph does not exist. Uses the SDK-side `transformations` option,
 * which children inherit from their parent component.
 */
import type * as pulumi from "@pulumi/pulumi";

export interface Registration {
    type: string;
    name: string;
    resource: pulumi.Resource;
    opts: pulumi.ResourceOptions;
}

export function recordOptions(): { transformations: pulumi.ResourceTransformation[]; registrations: Registration[] } {
    const registrations: Registration[] = [];
    return {
        registrations,
        transformations: [
            (args) => {
                registrations.push({ type: args.type, name: args.name, resource: args.resource, opts: args.opts });
                return undefined;
            },
        ],
    };
}

/** The resources a child was told to wait for. */
export function dependenciesOf(registrations: Registration[], name: string): pulumi.Resource[] {
    const r = registrations.find((x) => x.name === name);
    if (!r) throw new Error(`no resource named ${name}; registered: ${registrations.map((x) => x.name).join(", ")}`);
    const deps = r.opts.dependsOn;
    return (Array.isArray(deps) ? deps : deps ? [deps] : []) as pulumi.Resource[];
}

/** The resource registered under a name (a child of a component the test cannot reach otherwise). */
export function resourceNamed(registrations: Registration[], name: string): pulumi.Resource {
    const r = registrations.find((x) => x.name === name);
    if (!r) throw new Error(`no resource named ${name}`);
    return r.resource;
}
