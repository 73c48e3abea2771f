import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { commonLabels } from "../names";
import { httpPaths, runtimeNames } from "./workload";

export interface ApiServiceMonitorArgs {
    /** The app namespace. */
    namespace: pulumi.Input<string>;
    /** Scrape interval. Default `30s`. */
    interval?: string;
    /** The Prometheus Operator's CRDs, when this program installs them. */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * A monitoring.coreos.com/v1 ServiceMonitor for the api's `/metrics` (the
 * Services' `metrics` port), created when `addons.prometheusOperator.present`.
 */
export class ApiServiceMonitor extends pulumi.ComponentResource {
    public readonly monitorName: pulumi.Output<string>;

    constructor(name: string, args: ApiServiceMonitorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:ApiServiceMonitor", name, args, opts);
        const monitor = new k8s.apiextensions.CustomResource(
            `${name}-monitor`,
            {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "ServiceMonitor",
                metadata: { name: runtimeNames.api, namespace: args.namespace, labels: commonLabels("monitoring") },
                spec: {
                    selector: { matchLabels: { "app.kubernetes.io/name": runtimeNames.api } },
                    namespaceSelector: { matchNames: [args.namespace] },
                    endpoints: [{ port: "metrics", path: httpPaths.metrics, interval: args.interval ?? "30s", scheme: "http" }],
                },
            },
            { parent: this, dependsOn: args.dependsOn },
        );
        this.monitorName = monitor.metadata.name;
        this.registerOutputs({ monitorName: this.monitorName });
    }
}
