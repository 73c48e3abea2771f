import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { commonLabels, names, restrictedPodSecurityLabels } from "../names";
import { Api } from "./api";
import { App } from "./app";
import {
    type DatabaseEndpoint,
    type NatsClientCert,
    type NatsEndpoint,
    authWiring,
    databaseWiring,
    defaultDatabase,
    defaultNats,
    natsWiring,
    objectStorageWiring,
    publicUrl,
    runtimeConfigData,
} from "./connections";
import { MaintenanceJobs } from "./cron-jobs";
import { AppIngress, type IssuerRef } from "./ingress";
import { RuntimeNetworkPolicies } from "./network-policies";
import { ApiServiceMonitor } from "./service-monitor";
import { Worker } from "./worker";
import { mergeWiring, runtimeNames } from "./workload";

/** The sections of the stack config the runtime reads (every one but the cluster, its cloud, etcd encryption and the workspaces). */
export const appRuntimeSections = [
    "api",
    "app",
    "worker",
    "cronJobs",
    "images",
    "ingress",
    "network",
    "observability",
    "proxy",
    "nats",
    "postgres",
    "auth",
    "objectStorage",
    "secrets",
    "backup",
    "addons",
] as const satisfies readonly (keyof StackConfig)[];

export interface AppRuntimeArgs {
    /** The stack config's sections the runtime reads (`appRuntimeSections`). */
    config: Pick<StackConfig, (typeof appRuntimeSections)[number]>;
    /** Annotations for the api ServiceAccount (cloud workload identity: IRSA, GKE/Azure Workload Identity). */
    apiServiceAccountAnnotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Where NATS runs (the NATS add-on's `natsEndpoint()`). Default: release `x1agent-nats` in `x1agent`. */
    nats?: NatsEndpoint;
    /**
     * The api's and worker's NATS client certificate Secret, mounted at
     * /var/run/x1agent/nats when `nats.mtls`, and the Certificate's spec for the
     * rollout checksum. Default: Secret `x1agent-nats-client`, no spec.
     */
    natsClientCert?: NatsClientCert;
    /** Where the bundled Postgres runs and its DSN Secret. Default: CloudNativePG Cluster `x1agent-postgres`. */
    database?: DatabaseEndpoint;
    /**
     * Have cert-manager's ingress-shim write the TLS Secret from this issuer
     * (annotation on the Ingress). Unset (default) when the cert-manager
     * add-on's Certificate `x1agent-tls` writes it.
     */
    ingressIssuer?: IssuerRef;
    /** Resources the runtime's custom resources (ServiceMonitor) must wait for: their CRDs. */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * The x1agent application runtime in the `x1agent` namespace (Pod Security
 * `restricted`): the api's ServiceAccount (the subject of cloud workload
 * identity, Vault auth and the session RBAC), the shared ConfigMap, the api
 * (leader election when it can run several pods), the web app, the optional
 * worker and maintenance CronJobs, the Ingress, the NetworkPolicies and, when
 * the Prometheus Operator is present, a ServiceMonitor.
 *
 * Secrets reach pods only by reference: env `valueFrom` or mounted Secret
 * files. A changed ConfigMap or Secret reference changes the pod template's
 * checksum annotations and rolls the pods; see docs/parity.md.
 */
export class AppRuntime extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;
    public readonly apiServiceAccount: pulumi.Output<string>;
    /**
     * The api's ServiceAccount itself: what must exist before a store that
     * authenticates as it (Vault, the cloud stores), without waiting for the
     * runtime's Deployments to become available.
     */
    public readonly apiServiceAccountResource: k8s.core.v1.ServiceAccount;
    /** The public URL (`https://<ingress.host>`). */
    public readonly url: pulumi.Output<string>;
    /** The shared ConfigMap's data, for other pods of this runtime (backups) to checksum. */
    public readonly configData: pulumi.Output<Record<string, string>>;
    /** The NATS and database endpoints the runtime wired (defaults filled in). */
    public readonly nats: NatsEndpoint;
    public readonly database: DatabaseEndpoint;

    constructor(name: string, args: AppRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:runtime:AppRuntime", name, args, opts);
        const { config } = args;
        const nats = args.nats ?? defaultNats;
        const database = args.database ?? defaultDatabase;
        const labels = commonLabels("runtime");

        const ns = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            {
                metadata: {
                    name: names.appNamespace,
                    labels: {
                        ...labels,
                        ...restrictedPodSecurityLabels,
                    },
                },
            },
            { parent: this },
        );
        const namespace = ns.metadata.name;
        const sa = new k8s.core.v1.ServiceAccount(
            `${name}-api-sa`,
            {
                metadata: { name: names.apiServiceAccount, namespace, labels, annotations: args.apiServiceAccountAnnotations },
                automountServiceAccountToken: false,
            },
            { parent: this },
        );

        const data = runtimeConfigData(config, nats, config.nats.mtls ? runtimeNames.natsClientSecret : undefined);
        const configMap = new k8s.core.v1.ConfigMap(
            `${name}-config`,
            { metadata: { name: runtimeNames.configMap, namespace, labels }, data },
            { parent: this },
        );
        // Pods wait for the ConfigMap they read; its data is known here, so the checksum needs no round trip.
        const children = { parent: this, dependsOn: [configMap] };

        const natsClient = natsWiring(config.nats, args.natsClientCert);
        const db = databaseWiring(config.postgres, database);
        const objectStorage = objectStorageWiring(config.objectStorage);
        const { images } = config;
        new Api(
            `${name}-api`,
            {
                api: config.api,
                images,
                namespace,
                serviceAccountName: sa.metadata.name,
                configData: data,
                wiring: mergeWiring(db, natsClient, authWiring(config.auth), objectStorage),
            },
            children,
        );
        new App(`${name}-app`, { app: config.app, images, namespace, configData: data }, children);
        if (config.worker.enabled) {
            new Worker(
                `${name}-worker`,
                { worker: config.worker, images, namespace, configData: data, wiring: mergeWiring(db, natsClient, objectStorage) },
                children,
            );
        }
        if (config.cronJobs.length) {
            new MaintenanceJobs(
                `${name}-maintenance`,
                { cronJobs: config.cronJobs, images, namespace, configData: data, wiring: mergeWiring(db, natsClient) },
                children,
            );
        }
        if (config.ingress.enabled) {
            new AppIngress(`${name}-ingress`, { ingress: config.ingress, namespace, issuer: args.ingressIssuer }, { parent: this });
        }
        new RuntimeNetworkPolicies(
            `${name}-network`,
            {
                network: config.network,
                egressUrls: [config.observability.otlpEndpoint, config.proxy.url].filter((u): u is string => u !== undefined),
                ingress: config.ingress,
                optional: { worker: config.worker.enabled, maintenance: config.cronJobs.length > 0, backup: config.backup.enabled },
                namespace,
                nats,
                database,
            },
            { parent: this },
        );
        if (config.addons.prometheusOperator.present) {
            new ApiServiceMonitor(`${name}-monitor`, { namespace, dependsOn: args.dependsOn }, { parent: this });
        }

        this.namespace = namespace;
        this.apiServiceAccount = sa.metadata.name;
        this.apiServiceAccountResource = sa;
        this.url = pulumi.output(publicUrl(config.ingress));
        this.configData = pulumi.output(data);
        this.nats = nats;
        this.database = database;
        this.registerOutputs({ namespace: this.namespace, apiServiceAccount: this.apiServiceAccount, url: this.url });
    }
}
