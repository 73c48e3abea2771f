import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { addonNames, commonLabels } from "../names";
import { type SettledAddon, addonChart, mergeValues, upstreamCharts } from "./chart-source";

/**
 * cert-manager's namespace, which is also its "cluster resource namespace":
 * the Secrets a CA ClusterIssuer signs with must live here. An already
 * installed cert-manager (`install: false`) is expected in the same place,
 * as its chart installs by default.
 */
export const certManagerNamespace = addonNames.certManager.namespace;

/** ClusterIssuer names this program creates. */
export const issuerNames = {
    /** Bootstraps CA certificates only (the local ingress CA, the NATS CA). */
    selfSigned: "x1agent-selfsigned",
    /** Signs the ingress certificate for `local`: a CA of our own. */
    localCa: "x1agent-local-ca",
    /** ACME (Let's Encrypt or another ACME server) for real hosts. */
    acme: "x1agent-acme",
} as const;

export interface CertManagerArgs {
    /**
     * The stack's `addons.certManager`: `install: false` when cert-manager
     * already runs in the cluster (the issuers and certificates are still
     * created), `chart` to override the pinned upstream chart, `values`
     * merged over ours.
     */
    addon: SettledAddon;
    /** The stack's `ingress`: which issuer signs the ingress certificate (the certificate itself is IngressCertificate's). */
    ingress: StackConfig["ingress"];
}

/**
 * cert-manager from its upstream chart (CRDs included) and the ClusterIssuer
 * that signs the ingress certificate: ACME for a real host, a self-signed CA
 * chain for `local` (selfSigned issuer -> CA Certificate -> CA ClusterIssuer),
 * or an issuer the cluster already runs. The ingress Certificate itself lives
 * in the app namespace, so it is created after it (IngressCertificate).
 */
export class CertManager extends pulumi.ComponentResource {
    /** A selfSigned ClusterIssuer other components bootstrap their own CAs from (NATS). */
    /**
     * The Helm values given to the chart (ours merged with `addons.<name>.values`;
     * empty when the add-on is not installed). Registered so the policy pack's
     * `helm-values-no-secrets` can read them: a preview shows policies a
     * helm.v4.Chart's outputs, never its inputs.
     */
    public readonly chartValues: pulumi.Output<pulumi.Unwrap<Record<string, unknown>>>;
    public readonly selfSignedIssuer: pulumi.Output<string>;
    /** The ClusterIssuer that signs the ingress certificate. */
    public readonly ingressIssuer: pulumi.Output<string>;
    /**
     * What a cert-manager custom resource must depend on: the chart, whose
     * children include the CRDs and the webhook. Empty when cert-manager was
     * installed beforehand.
     */
    public readonly ready: pulumi.Resource[];

    constructor(name: string, args: CertManagerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:addons:CertManager", name, args, opts);
        const { addon, ingress } = args;
        const labels = commonLabels("cert-manager");
        this.ready = [];

        const chartValues = mergeValues(certManagerValues, addon.values);
        if (addon.install) {
            const ns = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: certManagerNamespace, labels } }, { parent: this });
            const chart = addonChart(
                `${name}-chart`,
                {
                    addon,
                    pinned: upstreamCharts.certManager,
                    release: addonNames.certManager.release,
                    namespace: ns.metadata.name,
                    values: chartValues,
                },
                { parent: this },
            );
            this.ready = [chart];
        }

        // Every custom resource below depends on the chart component. `dependsOn`
        // on a component waits for all of its children, so in `up` the
        // ClusterIssuers are created only after the CRDs exist and the chart's
        // Deployments, the webhook among them, report ready (Pulumi awaits
        // readiness of each child). helm.v4.Chart drops Helm hooks, so the
        // chart's startupapicheck Job plays no part; on a fresh cluster the
        // cainjector may still be patching the webhook's CA bundle for a moment,
        // and an `up` that lands in that window fails on the webhook call and
        // succeeds when run again. In `preview` nothing is created: the chart's
        // children are planned first, and the Kubernetes provider, finding no
        // CRD for a custom resource in the cluster yet, previews it without a
        // server-side dry run instead of failing with "no matches for kind".
        // Rendering to a directory needs neither.
        const cr = (suffix: string, apiVersion: string, kind: string, metadata: Record<string, unknown>, spec: Record<string, unknown>) =>
            new k8s.apiextensions.CustomResource(
                `${name}-${suffix}`,
                { apiVersion, kind, metadata: { ...metadata, labels }, spec },
                { parent: this, dependsOn: this.ready },
            );

        const selfSigned = cr("selfsigned-issuer", "cert-manager.io/v1", "ClusterIssuer", { name: issuerNames.selfSigned }, { selfSigned: {} });
        this.selfSignedIssuer = selfSigned.metadata.name;

        let ingressIssuer: pulumi.Input<string>;
        switch (ingress.issuer.type) {
            case "acme":
                ingressIssuer = cr(
                    "acme-issuer",
                    "cert-manager.io/v1",
                    "ClusterIssuer",
                    { name: issuerNames.acme },
                    {
                        acme: {
                            email: ingress.issuer.email,
                            server: ingress.issuer.server,
                            // cert-manager generates the ACME account key into this Secret.
                            privateKeySecretRef: { name: `${issuerNames.acme}-account` },
                            solvers: [{ http01: { ingress: ingress.className ? { ingressClassName: ingress.className } : {} } }],
                        },
                    },
                ).metadata.name;
                break;
            case "selfSigned": {
                const ca = new k8s.apiextensions.CustomResource(
                    `${name}-local-ca`,
                    {
                        apiVersion: "cert-manager.io/v1",
                        kind: "Certificate",
                        metadata: { name: issuerNames.localCa, namespace: certManagerNamespace, labels },
                        spec: {
                            isCA: true,
                            commonName: "x1agent local CA",
                            secretName: issuerNames.localCa,
                            duration: "87600h",
                            privateKey: { algorithm: "ECDSA", size: 256 },
                            issuerRef: { name: issuerNames.selfSigned, kind: "ClusterIssuer", group: "cert-manager.io" },
                        },
                    },
                    { parent: this, dependsOn: [...this.ready, selfSigned] },
                );
                ingressIssuer = new k8s.apiextensions.CustomResource(
                    `${name}-local-ca-issuer`,
                    {
                        apiVersion: "cert-manager.io/v1",
                        kind: "ClusterIssuer",
                        metadata: { name: issuerNames.localCa, labels },
                        spec: { ca: { secretName: issuerNames.localCa } },
                    },
                    { parent: this, dependsOn: [...this.ready, ca] },
                ).metadata.name;
                break;
            }
            case "existing":
                ingressIssuer = ingress.issuer.name;
                break;
        }
        this.ingressIssuer = pulumi.output(ingressIssuer);

        this.chartValues = pulumi.output(addon.install ? chartValues : {});
        this.registerOutputs({ selfSignedIssuer: this.selfSignedIssuer, ingressIssuer: this.ingressIssuer, chartValues: this.chartValues });
    }
}

/**
 * What x1agent sets in cert-manager's chart (v1.21.1), over its defaults.
 * `crds.enabled` replaced `installCRDs` in the chart (1.15); `crds.keep` (the
 * chart's default) keeps the CRDs, and so every certificate, when the chart
 * is uninstalled. Each of the three Deployments gets requests and a memory
 * limit (the chart sets none: `resources: {}`), sized for a cluster of a few
 * hundred certificates; the controller and the cainjector cache the
 * Certificates and Secrets they watch, so they get the larger limit. Probes:
 * the chart's own, on by default (the webhook's readiness and liveness, the
 * controller's liveness); what the chart cannot probe is listed in the
 * policy pack's workload-probes defaults, with why.
 */
export const certManagerValues = {
    crds: { enabled: true, keep: true },
    resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { memory: "256Mi" } },
    webhook: { resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } } },
    cainjector: { resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "256Mi" } } },
};
