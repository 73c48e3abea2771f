import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { commonLabels, names } from "../names";
import { type SettledAddon, addonChart, mergeValues, upstreamCharts } from "./chart-source";

export interface ExternalSecretsArgs {
    /**
     * The stack's `addons.externalSecrets`: `install: false` when ESO already
     * runs in the cluster (then nothing is installed and `ready` is empty),
     * `chart` to override the pinned upstream chart, `values` merged over ours.
     */
    addon: SettledAddon;
}

/**
 * External Secrets Operator from its upstream chart in the `external-secrets`
 * namespace, CRDs included (`installCRDs`). Always present: every secrets
 * tier is a ClusterSecretStore, so both tiers use its CRDs.
 */
export class ExternalSecrets extends pulumi.ComponentResource {
    /** The namespace ESO runs in. */
    public readonly namespace: pulumi.Output<string>;
    /**
     * The Helm values given to the chart (ours merged with `addons.<name>.values`;
     * empty when the add-on is not installed). Registered so the policy pack's
     * `helm-values-no-secrets` can read them: a preview shows policies a
     * helm.v4.Chart's outputs, never its inputs.
     */
    public readonly chartValues: pulumi.Output<pulumi.Unwrap<Record<string, unknown>>>;
    /**
     * What a store or ExternalSecret must depend on: the chart, whose children
     * are the CRDs, the controller and the validating webhook. Empty when ESO
     * was installed beforehand.
     */
    public readonly ready: pulumi.Resource[];

    constructor(name: string, args: ExternalSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:addons:ExternalSecrets", name, args, opts);
        const { addon } = args;
        this.namespace = pulumi.output(names.esoNamespace);
        this.ready = [];

        const chartValues = mergeValues(externalSecretsValues, addon.values);
        if (addon.install) {
            const ns = new k8s.core.v1.Namespace(
                `${name}-namespace`,
                { metadata: { name: names.esoNamespace, labels: commonLabels("external-secrets") } },
                { parent: this },
            );
            const chart = addonChart(
                `${name}-chart`,
                {
                    addon,
                    pinned: upstreamCharts.externalSecrets,
                    release: "external-secrets",
                    namespace: ns.metadata.name,
                    // The upstream chart's defaults, hardened (hardenedValues) and
                    // sized (externalSecretsValues), with its CRDs stated explicitly
                    // (`installCRDs`): the stores need them, so a change of the
                    // chart's default must not drop them.
                    values: chartValues,
                },
                { parent: this },
            );
            this.namespace = ns.metadata.name;
            this.ready = [chart];
        }
        this.chartValues = pulumi.output(addon.install ? chartValues : {});
        this.registerOutputs({ namespace: this.namespace, chartValues: this.chartValues });
    }
}

/**
 * What x1agent changes in the chart's defaults. ESO's controller reads and
 * writes every Secret and requests tokens for any ServiceAccount, so every
 * kind it serves is a way to use that reach (docs/threat-model.md). x1agent
 * uses ClusterSecretStores and ExternalSecrets only: the controller does not
 * run the other kinds' reconcilers, and the chart leaves out the CRDs it
 * pairs with those switches (`crds.create*`), so nobody can create a
 * PushSecret, ClusterPushSecret, ClusterExternalSecret or ClusterGenerator
 * that a later values change would bring to life. (The SecretStore CRD stays:
 * chart 2.9.0 installs it whatever `crds.createSecretStore` says, and the
 * cert controller's readiness waits for it.) The chart does not aggregate
 * rights on ESO objects into the built-in edit and admin roles, which would
 * let every namespace editor create stores and generators that run with
 * ESO's identity.
 *
 * The CRDs left out also stay out of the stack's state, which holds each CRD
 * three times and is rewritten after every step of an `up`
 * (docs/performance.md).
 */
export const hardenedValues = {
    installCRDs: true,
    crds: {
        createClusterExternalSecret: false,
        createPushSecret: false,
        createClusterPushSecret: false,
        createClusterGenerator: false,
    },
    processSecretStore: false,
    processClusterExternalSecret: false,
    processPushSecret: false,
    processClusterPushSecret: false,
    processClusterGenerator: false,
    rbac: { aggregateToEdit: false, aggregateToAdmin: false },
};

/**
 * The values x1agent gives the chart (2.9.0): hardenedValues, and requests,
 * a memory limit and both probes for each of its three Deployments (the
 * chart sets no resources, and leaves the controller's probes and the
 * webhook's and cert controller's liveness probes off). The controller's
 * probes start its health server (`--live-addr`, port `live`, 8082; GET
 * /healthz and /readyz); the webhook and the cert controller answer both on
 * their health port (8081), which their readiness probes already use. The
 * controller caches every Secret and ExternalSecret it reconciles, so it gets
 * the larger memory limit.
 */
export const externalSecretsValues = {
    ...hardenedValues,
    resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { memory: "256Mi" } },
    livenessProbe: { enabled: true },
    readinessProbe: { enabled: true },
    webhook: { resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } }, livenessProbe: { enabled: true } },
    certController: { resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } }, livenessProbe: { enabled: true } },
};
