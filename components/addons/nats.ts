import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { addonNames, commonLabels, names } from "../names";
import { certManagerNamespace } from "./cert-manager";
import { type SettledAddon, addonChart, mergeValues, upstreamCharts } from "./chart-source";

/**
 * Names the NATS pieces agree on. The runtime reads them too (its env
 * `X1AGENT_NATS_URL`, its NetworkPolicies, the client certificate it
 * mounts), so they are plain values it can be given before this component
 * exists: NATS runs in the app namespace as Helm release `x1agent-nats`, so
 * the chart's Service is `x1agent-nats` and its pods carry
 * `app.kubernetes.io/instance: x1agent-nats`.
 */
export const natsNames = {
    /** Helm release name; the chart names its Services after it. */
    release: addonNames.nats.release,
    /** CA certificate (in cert-manager's namespace) and the ClusterIssuer signing with it. */
    ca: "x1agent-nats-ca",
    /** Server certificate Secret, next to the servers. */
    serverSecret: "x1agent-nats-server-tls",
    /** The api's client certificate and its Secret (tls.crt, tls.key, ca.crt), in the app namespace. */
    apiClient: "x1agent-nats-client",
    /**
     * The cluster's DNS domain. Every name a NATS peer or client dials is
     * fully qualified under it, and the server certificate names exactly those:
     * nats-server checks a route's host against the peer's certificate.
     */
    clusterDomain: "cluster.local",
} as const;

/**
 * What a NATS client certificate is for. The keys are ECDSA: they sign (the
 * TLS handshake) and cannot encipher, so `key encipherment`, an RSA key
 * exchange usage, is never requested.
 */
export const natsClientCertificateUsages = ["digital signature", "client auth"];

/** Where NATS listens and how its pods are labelled: what the runtime's env and NetworkPolicies use. */
export interface NatsEndpoint {
    url: string;
    serviceName: string;
    podSelector: Record<string, string>;
    clientPort: number;
    clusterPort: number;
    monitorPort: number;
}

export interface NatsArgs {
    /**
     * The stack's `addons.nats`: `install: false` when a NATS server that
     * trusts the `x1agent-nats-ca` CA already runs (then only the CA, its
     * issuer and the client certificate are created), `chart` to override the
     * pinned upstream chart, `values` merged over ours.
     */
    addon: SettledAddon;
    /** The stack's `nats`: replicas (1, or 3/5 for a JetStream cluster), mtls, jetstream. */
    nats: StackConfig["nats"];
    /** A selfSigned ClusterIssuer to bootstrap the NATS CA from (CertManager.selfSignedIssuer). */
    selfSignedIssuer: pulumi.Input<string>;
    /** cert-manager's chart, when this stack installs it: certificates wait for its CRDs and webhook. */
    certManagerReady: pulumi.Resource[];
    /**
     * The app namespace, as the runtime's Output: the servers run there and the
     * api's client certificate is issued there, so both wait for it.
     */
    appNamespace: pulumi.Input<string>;
}

/**
 * NATS from its upstream chart with TLS on the client port and client
 * certificates required (`verify: true`): a CA of its own from cert-manager
 * (self-signed CA certificate -> CA ClusterIssuer `x1agent-nats-ca`), the
 * server certificate, and the api's client certificate in the app namespace.
 * Session pods get theirs per workspace namespace from the same ClusterIssuer
 * (`clientIssuer`). One node by default; 3 or 5 replicas make a JetStream
 * cluster whose routes use the server certificate too.
 */
export class Nats extends pulumi.ComponentResource {
    /** Where clients connect (`tls://x1agent-nats.x1agent.svc.cluster.local:4222`), Service, pod labels, ports. */
    public readonly endpoint: pulumi.Output<NatsEndpoint>;
    /** Secret in the app namespace with the api's client certificate (tls.crt, tls.key, ca.crt). */
    public readonly clientCertSecretName: pulumi.Output<string>;
    /** The api client Certificate's spec: when it changes, the pods that mount it roll. */
    public readonly clientCertSpec: pulumi.Output<unknown>;
    /** ClusterIssuer that signs client certificates (session pods' in workspace namespaces). */
    public readonly clientIssuer: pulumi.Output<string>;
    /**
     * Whether the servers require client certificates: read from the values
     * the chart actually gets (a `values` override can turn it off), or the
     * declared `nats.mtls` when NATS is installed elsewhere. The policy pack's
     * `nats-client-cert-verification` reads this output.
     */
    public readonly clientCertificateVerification: pulumi.Output<boolean>;
    /**
     * The Helm values given to the chart (ours merged with `addons.<name>.values`;
     * empty when the add-on is not installed). Registered so the policy pack's
     * `helm-values-no-secrets` can read them: a preview shows policies a
     * helm.v4.Chart's outputs, never its inputs.
     */
    public readonly chartValues: pulumi.Output<pulumi.Unwrap<Record<string, unknown>>>;

    constructor(name: string, args: NatsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:addons:Nats", name, args, opts);
        const { addon, nats } = args;
        const labels = commonLabels("nats");
        // Certificates wait for cert-manager's CRDs and webhook (see CertManager).
        const certificate = (suffix: string, metadata: Record<string, pulumi.Input<string>>, spec: Record<string, unknown>) =>
            new k8s.apiextensions.CustomResource(
                `${name}-${suffix}`,
                { apiVersion: "cert-manager.io/v1", kind: "Certificate", metadata: { ...metadata, labels }, spec },
                { parent: this, dependsOn: args.certManagerReady },
            );

        const ca = certificate(
            "ca",
            { name: natsNames.ca, namespace: certManagerNamespace },
            {
                isCA: true,
                commonName: "x1agent NATS CA",
                secretName: natsNames.ca,
                duration: "87600h",
                privateKey: { algorithm: "ECDSA", size: 256 },
                issuerRef: { name: args.selfSignedIssuer, kind: "ClusterIssuer", group: "cert-manager.io" },
            },
        );
        // A ClusterIssuer (not a namespaced Issuer) because client certificates
        // are needed in the app namespace and in every workspace namespace; its
        // CA key stays in cert-manager's namespace and is never copied.
        const issuer = new k8s.apiextensions.CustomResource(
            `${name}-ca-issuer`,
            { apiVersion: "cert-manager.io/v1", kind: "ClusterIssuer", metadata: { name: natsNames.ca, labels }, spec: { ca: { secretName: natsNames.ca } } },
            { parent: this, dependsOn: [...args.certManagerReady, ca] },
        );
        const issuerRef = { name: issuer.metadata.name, kind: "ClusterIssuer", group: "cert-manager.io" };

        const clientSpec = natsClientCertificateSpec();
        const chartValues = mergeValues(natsValues(nats), addon.values);
        new k8s.apiextensions.CustomResource(
            `${name}-api-client-certificate`,
            {
                apiVersion: "cert-manager.io/v1",
                kind: "Certificate",
                metadata: { name: natsNames.apiClient, namespace: args.appNamespace, labels },
                spec: clientSpec,
            },
            { parent: this, dependsOn: [...args.certManagerReady, issuer] },
        );

        if (addon.install) {
            const server = certificate(
                "server-certificate",
                { name: natsNames.serverSecret, namespace: args.appNamespace },
                {
                    secretName: natsNames.serverSecret,
                    commonName: `${natsNames.release}.${names.appNamespace}.svc`,
                    dnsNames: serverDnsNames(),
                    // Cluster routes authenticate each other with this certificate, both ways.
                    usages: ["digital signature", "server auth", "client auth"],
                    privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
                    issuerRef,
                },
            );
            addonChart(
                `${name}-chart`,
                {
                    addon,
                    pinned: upstreamCharts.nats,
                    release: natsNames.release,
                    namespace: args.appNamespace,
                    values: chartValues,
                },
                // The pods mount the server certificate's Secret: it must exist first.
                { parent: this, dependsOn: [server] },
            );
        }

        this.endpoint = pulumi.output(natsEndpoint());
        this.clientCertSecretName = pulumi.output(natsNames.apiClient);
        this.clientCertSpec = pulumi.output(clientSpec);
        this.clientIssuer = issuer.metadata.name;
        this.clientCertificateVerification = pulumi.output(addon.install ? verifiesClientCertificates(chartValues) : nats.mtls);
        this.chartValues = pulumi.output(addon.install ? chartValues : {});
        this.registerOutputs({
            endpoint: this.endpoint,
            clientCertSecretName: this.clientCertSecretName,
            clientIssuer: this.clientIssuer,
            clientCertificateVerification: this.clientCertificateVerification,
            chartValues: this.chartValues,
        });
    }
}

/**
 * The api's client Certificate spec. Plain values (the issuer by name, with
 * the dependency on it expressed by dependsOn) so the runtime can put it in
 * its pods' rollout checksum before this component exists.
 */
export function natsClientCertificateSpec(): Record<string, unknown> {
    return {
        secretName: natsNames.apiClient,
        commonName: "x1agent-api",
        usages: natsClientCertificateUsages,
        privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
        issuerRef: { name: natsNames.ca, kind: "ClusterIssuer", group: "cert-manager.io" },
    };
}

/** The endpoint the chart's Services and pods give, for the release name we install. */
export function natsEndpoint(): NatsEndpoint {
    return {
        url: `tls://${natsNames.release}.${names.appNamespace}.svc.${natsNames.clusterDomain}:4222`,
        serviceName: natsNames.release,
        podSelector: { "app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": natsNames.release },
        clientPort: 4222,
        clusterPort: 6222,
        monitorPort: 8222,
    };
}

/** The memory limit of each NATS server container, in MiB (the chart sets none). */
const natsMemoryLimitMi = 512;

/**
 * The chart values for our NATS: TLS on the client port with client
 * certificate verification (`verify`, from `nats.mtls`), the CA that client
 * certificates must chain to (`tlsCA`: the `ca.crt` cert-manager writes into
 * the server certificate's Secret), TLS on cluster routes, JetStream with a
 * PVC, and a cluster of `replicas` nodes when more than one. nats-box, the
 * chart's debugging pod, is off: it has no client certificate. The pods run
 * as non-root with every capability dropped, as Pod Security `restricted`
 * (enforced on the app namespace) requires, on a read-only root; both
 * containers have requests and a memory limit (the chart sets none). The
 * nats container keeps the chart's probes (`config.monitor`, on); the
 * reloader has nothing to probe (policies/rules/workload-probes.ts). Mirrors for air-gapped sites go
 * in `addons.nats.values` (the chart's `global.image.registry`).
 */
export function natsValues(nats: StackConfig["nats"]): Record<string, unknown> {
    const tls = { enabled: true, secretName: natsNames.serverSecret };
    // Read-only root: nats-server writes only its pid (the chart's `pid` emptyDir) and JetStream's files (the PVC).
    const restricted = { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true, readOnlyRootFilesystem: true };
    return {
        podTemplate: {
            merge: {
                spec: { securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } } },
            },
        },
        container: {
            merge: { securityContext: restricted },
            resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: `${natsMemoryLimitMi}Mi` } },
            // The Go runtime collects before the container's limit is reached, as the NATS docs advise (about 90% of it).
            env: { GOMEMLIMIT: `${Math.floor(natsMemoryLimitMi * 0.9)}MiB` },
        },
        // The chart has no resources value for its config reloader sidecar: they go in through its container merge.
        reloader: { merge: { securityContext: restricted, resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "64Mi" } } } },
        config: {
            nats: { tls: { ...tls, merge: { verify: nats.mtls } } },
            // Routes dial `<pod>.<headless>.<namespace>.svc.<domain>` (useFQDN), a
            // name the server certificate covers; the chart's default short
            // `<pod>.<headless>` is not, and routes never connect.
            cluster:
                nats.replicas > 1
                    ? { enabled: true, replicas: nats.replicas, tls, routeURLs: { useFQDN: true, k8sClusterDomain: natsNames.clusterDomain } }
                    : { enabled: false },
            jetstream: nats.jetstream.enabled
                ? { enabled: true, fileStore: { enabled: true, pvc: { enabled: true, size: nats.jetstream.storage } } }
                : { enabled: false },
        },
        tlsCA: { enabled: true, secretName: natsNames.serverSecret, key: "ca.crt" },
        natsBox: { enabled: false },
    };
}

/** TLS on the client port with `verify: true` in the chart values (config.nats.tls). */
function verifiesClientCertificates(values: Record<string, unknown>): boolean {
    const tls = (values.config as { nats?: { tls?: { enabled?: unknown; merge?: { verify?: unknown } } } } | undefined)?.nats?.tls;
    return tls?.enabled === true && tls.merge?.verify === true;
}

/** Names clients and cluster peers reach the servers by: the client Service and each pod under the headless Service. */
function serverDnsNames(): string[] {
    const svc = `${natsNames.release}.${names.appNamespace}`;
    const headless = `${natsNames.release}-headless.${names.appNamespace}`;
    return [natsNames.release, svc, `${svc}.svc`, `${svc}.svc.${natsNames.clusterDomain}`, `*.${headless}.svc`, `*.${headless}.svc.${natsNames.clusterDomain}`];
}
