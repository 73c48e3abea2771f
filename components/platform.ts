import * as pulumi from "@pulumi/pulumi";
import { isCloudSecrets, renderKubernetesVersion, type StackConfig } from "../stacks/schema";
import { CertManager } from "./addons/cert-manager";
import { chartInstalls, forRendering, withChartMirror } from "./addons/chart-source";
import { ExternalSecrets } from "./addons/external-secrets";
import { IngressCertificate } from "./addons/ingress-certificate";
import { Nats, natsClientCertificateSpec, natsEndpoint, natsNames } from "./addons/nats";
import { Postgres, bundledDatabaseEndpoint } from "./addons/postgres";
import { EtcdEncryption, type EtcdEncryptionOutput } from "./encryption/etcd-encryption";
import { WorkloadIdentity } from "./identity/workload-identity";
import { sections } from "./inputs";
import { names } from "./names";
import { AppRuntime, appRuntimeSections } from "./runtime/app-runtime";
import { Backups } from "./runtime/backup";
import { CaptureAccess } from "./runtime/capture-access";
import { SecretsBackend } from "./secrets/secrets-backend";
import { Workspaces } from "./workspaces/workspaces";

export interface PlatformArgs {
    /** The validated stack config (stacks/schema). */
    config: StackConfig;
    /**
     * A chart mirror every add-on installs from unless the stack's
     * `addons.<name>.chart` says otherwise (`X1_CHART_MIRROR`, read by the
     * program): a folder of packaged charts or a Helm repository URL. Unset:
     * the upstream repositories.
     */
    chartMirror?: string;
}

/**
 * The whole x1agent installation on one cluster: the add-ons it depends on
 * and the application runtime, composed from stack config. Pass the
 * Kubernetes provider (render-to-directory or a kube context) through
 * `providers`; every child inherits it.
 */
export class Platform extends pulumi.ComponentResource {
    public readonly tier: pulumi.Output<string>;
    public readonly storeName: pulumi.Output<string>;
    public readonly uiMode: pulumi.Output<string>;
    public readonly appNamespace: pulumi.Output<string>;
    /** The public URL, `https://<ingress.host>`. */
    public readonly url: pulumi.Output<string>;
    /** `x1agent-ws-<id>` per workspace, in config order. */
    public readonly workspaceNamespaces: pulumi.Output<string[]>;
    /**
     * The validated config that produced this deployment (defaults filled in),
     * for the portal. It holds no secret values: secret fields only name Secrets.
     */
    public readonly config: pulumi.Output<StackConfig>;
    /** What the cluster's owner wires for etcd encryption: the KMS key and command, or the EncryptionConfiguration. */
    public readonly etcdEncryption: pulumi.Output<EtcdEncryptionOutput>;

    constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        // The mirror stays out of the recorded inputs: a repository URL may carry credentials.
        super("x1agent:index:Platform", name, { config: args.config }, opts);
        const { config } = args;
        // Rendering to a folder, Helm renders the charts for cluster.kubernetesVersion; applying, for the cluster's own.
        const addons = forRendering(withChartMirror(config.addons, args.chartMirror, chartInstalls(config)), renderKubernetesVersion(config.cluster));

        // Add-ons whose CRDs others' custom resources use come first; each
        // `ready` is empty when the add-on was installed beforehand.
        const eso = new ExternalSecrets(`${name}-external-secrets`, { addon: addons.externalSecrets }, { parent: this });
        const certManager = new CertManager(`${name}-cert-manager`, { addon: addons.certManager, ingress: config.ingress }, { parent: this });
        const identity = isCloudSecrets(config.secrets)
            ? new WorkloadIdentity(`${name}-identity`, { secrets: config.secrets, clusterName: config.cluster.name }, { parent: this })
            : undefined;
        const etcd = new EtcdEncryption(
            `${name}-etcd-encryption`,
            { clusterName: config.cluster.name, etcdEncryption: config.etcdEncryption },
            { parent: this },
        );

        // The runtime gets the add-ons' names as plain values: NATS, its client
        // certificate and the bundled database are created below, in the
        // namespace the runtime creates.
        const runtime = new AppRuntime(
            `${name}-runtime`,
            {
                config: sections(config, appRuntimeSections),
                apiServiceAccountAnnotations: identity?.serviceAccountAnnotations,
                nats: natsEndpoint(),
                natsClientCert: { secretName: natsNames.apiClient, producer: natsClientCertificateSpec() },
                database: bundledDatabaseEndpoint(),
                dependsOn: [...eso.ready, ...certManager.ready],
            },
            { parent: this },
        );
        const secrets = new SecretsBackend(
            `${name}-secrets`,
            {
                secrets: config.secrets,
                clusterName: config.cluster.name,
                // The store needs ESO's CRDs and webhook, and in Tier 3 the cloud identity it authenticates as.
                dependsOn: [...eso.ready, ...(identity ? [identity] : [])],
            },
            // Vault and the cloud stores authenticate as the api's ServiceAccount: it must exist first. Only
            // it: depending on the whole runtime held every store (and so every workspace's ExternalSecrets)
            // back until the runtime's Deployments were available, though nothing here reads them.
            { parent: this, dependsOn: [runtime.apiServiceAccountResource] },
        );
        if (config.ingress.enabled) {
            new IngressCertificate(
                `${name}-ingress-tls`,
                { ingress: config.ingress, issuer: certManager.ingressIssuer, appNamespace: runtime.namespace, certManagerReady: certManager.ready },
                { parent: this },
            );
        }
        new Nats(
            `${name}-nats`,
            {
                addon: addons.nats,
                nats: config.nats,
                selfSignedIssuer: certManager.selfSignedIssuer,
                certManagerReady: certManager.ready,
                appNamespace: runtime.namespace,
            },
            { parent: this },
        );
        new Postgres(
            `${name}-postgres`,
            { addon: addons.postgresOperator, postgres: config.postgres, registry: config.images.registry, appNamespace: runtime.namespace },
            { parent: this },
        );

        const workspaces = new Workspaces(
            `${name}-workspaces`,
            {
                workspaces: config.workspaces,
                storeName: config.secrets.storeName,
                sessions: config.sessions,
                images: config.images,
                nats: runtime.nats,
                appNamespace: runtime.namespace,
                apiServiceAccount: runtime.apiServiceAccount,
                // Session pods' NATS client certificates, one per workspace namespace, when NATS verifies clients.
                natsClientIssuer: config.nats.mtls ? { kind: "ClusterIssuer", name: natsNames.ca } : undefined,
                // ExternalSecrets name the store: it must exist first; Certificates need cert-manager.
                dependsOn: [secrets.store, ...certManager.ready],
            },
            { parent: this },
        );
        if (config.secrets.tier === "kubernetes") {
            new CaptureAccess(
                `${name}-capture`,
                { secretsNamespace: names.secretsNamespace, apiServiceAccount: runtime.apiServiceAccount, apiNamespace: runtime.namespace },
                // The Role lives in x1agent-secrets, which the secrets backend creates.
                { parent: this, dependsOn: [secrets] },
            );
        }
        if (config.backup.enabled) {
            new Backups(
                `${name}-backup`,
                {
                    backup: config.backup,
                    objectStorage: config.objectStorage,
                    postgres: config.postgres,
                    images: config.images,
                    namespace: runtime.namespace,
                    secretsNamespace: names.secretsNamespace,
                    database: runtime.database,
                    configData: runtime.configData,
                },
                { parent: this, dependsOn: [secrets] },
            );
        }

        this.tier = pulumi.output(config.secrets.tier);
        this.storeName = secrets.storeName;
        this.uiMode = secrets.uiMode;
        this.appNamespace = runtime.namespace;
        this.url = runtime.url;
        this.workspaceNamespaces = workspaces.namespaces;
        this.config = pulumi.output(config);
        this.etcdEncryption = etcd.output;
        this.registerOutputs({
            tier: this.tier,
            storeName: this.storeName,
            uiMode: this.uiMode,
            appNamespace: this.appNamespace,
            url: this.url,
            workspaceNamespaces: this.workspaceNamespaces,
            config: this.config,
            etcdEncryption: this.etcdEncryption,
        });
    }
}
