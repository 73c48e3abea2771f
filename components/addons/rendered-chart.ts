import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ChartLocation } from "./chart-source";

export interface RenderedChartArgs {
    /** Where the chart comes from (chartLocation). */
    location: ChartLocation;
    /** The Helm release name (`.Release.Name`). */
    release: string;
    /** The namespace the release installs into. */
    namespace: pulumi.Input<string>;
    /** The Helm values. */
    values: Record<string, unknown>;
    /** The Kubernetes version Helm renders the chart for (`.Capabilities.KubeVersion`, the chart's `kubeVersion` range). */
    kubeVersion: string;
}

/**
 * An add-on's chart rendered for a given Kubernetes version, for stacks that
 * render to a folder (addonChart in chart-source.ts says when and why): a
 * `helm.v3.Chart` with `kubeVersion`, made to register what `helm.v4.Chart`
 * registers. Helm hooks are left out (helm.v4.Chart installs none), objects
 * marked `helm.sh/resource-policy: keep` are retained on delete, and each
 * object is aliased to its URN under the `helm.v4.Chart` named `name` that
 * the add-on registered before, so a stack rendered with it keeps its
 * objects (and files). It is a component of ours, named as that chart, since
 * other components' args depend on it and @pulumi/kubernetes registers no
 * module to rebuild a helm.v3.Chart from its reference.
 */
export class RenderedChart extends pulumi.ComponentResource {
    constructor(name: string, args: RenderedChartArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:addons:RenderedChart", name, {}, opts);
        const { location } = args;
        const source =
            location.version === undefined
                ? { path: location.chart }
                : { chart: location.chart, version: location.version, ...(location.repositoryOpts ? { fetchOpts: location.repositoryOpts } : {}) };
        const formerChart = pulumi.createUrn(name, "kubernetes:helm.sh/v4:Chart", opts?.parent);
        new k8s.helm.v3.Chart(
            args.release,
            {
                ...source,
                namespace: args.namespace,
                values: args.values,
                kubeVersion: args.kubeVersion,
                transformations: [asHelmV4Chart(name, formerChart)],
            },
            { parent: this },
        );
        this.registerOutputs({});
    }
}

/** Makes an object helm.v3.Chart registers match what helm.v4.Chart named `name` registered. */
function asHelmV4Chart(name: string, formerChart: pulumi.Output<string>): (obj: KubernetesObject, opts: pulumi.CustomResourceOptions) => void {
    return (obj, opts) => {
        if (obj.metadata?.annotations?.["helm.sh/hook"] !== undefined) {
            // A v1 List with no items registers nothing.
            for (const key of Object.keys(obj)) delete obj[key];
            Object.assign(obj, { apiVersion: "v1", kind: "List", items: [] });
            return;
        }
        if (obj.metadata?.annotations?.["helm.sh/resource-policy"] === "keep") opts.retainOnDelete = true;
        const { namespace, name: objectName } = obj.metadata ?? {};
        const type = `kubernetes:${obj.apiVersion.includes("/") ? obj.apiVersion : `core/${obj.apiVersion}`}:${obj.kind}`;
        const v4Name = `${name}:${namespace ? `${namespace}/` : ""}${objectName}`;
        opts.aliases = [...(opts.aliases ?? []), pulumi.createUrn(v4Name, type, formerChart)];
    };
}

/** A Kubernetes object as a chart renders it. */
interface KubernetesObject {
    [key: string]: unknown;
    apiVersion: string;
    kind: string;
    metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
}
