import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { migrationFromLabel, storeNamespaceRegexes, tierLabel } from "../../policies/lib/names";
import type { CloudSecrets, SettledSecrets } from "../../stacks/schema";
import { commonLabels, names } from "../names";

export interface SecretsBackendArgs {
    /** The stack's settled `secrets`: the tier with its backend settings (and, for Tier 3, the cloud account). */
    secrets: SettledSecrets;
    /**
     * Namespaces allowed to use the store (ESO store conditions). Default: the
     * app namespace and every `x1agent-ws-*` workspace namespace; never
     * x1agent-secrets or a system namespace.
     */
    namespaceRegexes?: string[];
    /** Resources the store must wait for: ESO's CRDs and webhook; for Tier 3, the cloud identity. */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
    /** `cluster.name`; Tier 3 on GCP names the cluster in ESO's Workload Identity auth. */
    clusterName: string;
}

/**
 * The secrets backend: one ClusterSecretStore for the configured tier, scoped
 * to the x1agent namespaces, and what that tier needs in the cluster.
 *
 * - Tier 1 `kubernetes`: the privileged `x1agent-secrets` namespace, the
 *   `eso-reader` ServiceAccount with a Role that may only get/list/watch
 *   Secrets there, and the `x1-local` store reading that namespace.
 * - Tier 2 `vault`: the `x1-vault` store with Vault's Kubernetes auth.
 * - Tier 3 `aws` / `gcp` / `azure`: the `x1-aws` / `x1-gcp` / `x1-azure`
 *   store reading the cloud's secret manager as the api's ServiceAccount
 *   `x1agent/x1agent-api`, whose workload identity (components/identity)
 *   holds the grant; ESO requests that ServiceAccount's token, so no cloud
 *   credential exists anywhere in the cluster.
 */
export class SecretsBackend extends pulumi.ComponentResource {
    /** Name of the ClusterSecretStore every ExternalSecret must reference. */
    public readonly storeName: pulumi.Output<string>;
    /** `capture` (Tier 1: values typed into x1agent's UI) or `bind` (paths in the backend). */
    public readonly uiMode: pulumi.Output<string>;
    public readonly store: k8s.apiextensions.CustomResource;

    constructor(name: string, args: SecretsBackendArgs, opts?: pulumi.ComponentResourceOptions) {
        super("x1agent:secrets:SecretsBackend", name, args, opts);
        const { secrets } = args;
        const conditions = [{ namespaceRegexes: args.namespaceRegexes ?? storeNamespaceRegexes }];
        const labels = commonLabels("secrets");
        const storeDeps: pulumi.Input<pulumi.Resource>[] = [...(args.dependsOn ?? [])];

        // x1agent-secrets holds every Tier 1 value. It exists in Tier 1, and
        // after an upgrade for as long as `secrets.migration` is recorded:
        // protected (and retained on delete) until the migration is marked
        // done, so no `up` can drop the data the migration still reads; with
        // `done: true` it is unprotected, and removing `migration` from the
        // config then deletes it. One resource name in every tier keeps its
        // identity across the tier change (no replace).
        const migration = secrets.migration;
        const migrationOpen = migration !== undefined && !migration.done;
        const leavingTier1 = migration?.from === "kubernetes";
        const secretsNamespace = () =>
            new k8s.core.v1.Namespace(
                `${name}-namespace`,
                {
                    metadata: {
                        name: names.secretsNamespace,
                        labels: {
                            ...labels,
                            // Nothing runs here; the strictest profile keeps it that way.
                            "pod-security.kubernetes.io/enforce": "restricted",
                        },
                    },
                },
                { parent: this, protect: leavingTier1 && migrationOpen, retainOnDelete: leavingTier1 && migrationOpen },
            );

        let provider: Record<string, unknown>;
        if (secrets.tier === "kubernetes") {
            const ns = secretsNamespace();
            const reader = new k8s.core.v1.ServiceAccount(
                `${name}-reader`,
                { metadata: { name: names.esoReader, namespace: ns.metadata.name, labels } },
                { parent: this },
            );
            const role = new k8s.rbac.v1.Role(
                `${name}-reader-role`,
                {
                    metadata: { name: names.esoReader, namespace: ns.metadata.name, labels },
                    rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] }],
                },
                { parent: this },
            );
            const binding = new k8s.rbac.v1.RoleBinding(
                `${name}-reader-binding`,
                {
                    metadata: { name: names.esoReader, namespace: ns.metadata.name, labels },
                    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                    subjects: [{ kind: "ServiceAccount", name: reader.metadata.name, namespace: ns.metadata.name }],
                },
                { parent: this },
            );
            storeDeps.push(binding);
            provider = {
                kubernetes: {
                    remoteNamespace: names.secretsNamespace,
                    server: {
                        caProvider: { type: "ConfigMap", name: "kube-root-ca.crt", namespace: names.secretsNamespace, key: "ca.crt" },
                    },
                    auth: { serviceAccount: { name: names.esoReader, namespace: names.secretsNamespace } },
                },
            };
        } else {
            // Left Tier 1: the namespace stays while the migration may still read it.
            if (leavingTier1) secretsNamespace();
            provider = secrets.tier === "vault" ? vaultProvider(secrets.vault) : cloudProvider(secrets, args.clusterName);
        }

        this.store = new k8s.apiextensions.CustomResource(
            `${name}-store`,
            {
                apiVersion: "external-secrets.io/v1",
                kind: "ClusterSecretStore",
                metadata: {
                    name: secrets.storeName,
                    labels: {
                        ...labels,
                        [tierLabel]: secrets.tier,
                        // Read by the policy pack: an upgrade from this tier is still in progress.
                        ...(migrationOpen ? { [migrationFromLabel]: migration.from } : {}),
                    },
                },
                spec: { provider, conditions },
            },
            { parent: this, dependsOn: storeDeps },
        );
        this.storeName = pulumi.output(secrets.storeName);
        this.uiMode = pulumi.output(secrets.uiMode);
        this.registerOutputs({ storeName: this.storeName, uiMode: this.uiMode });
    }
}

/** The api's ServiceAccount: the identity every Tier 3 store authenticates as. */
const apiServiceAccountRef = { name: names.apiServiceAccount, namespace: names.appNamespace };

/** The ESO provider block of the Tier 2 store: Vault's Kubernetes auth as `secrets.vault.serviceAccount`. */
function vaultProvider(vault: Extract<SettledSecrets, { tier: "vault" }>["vault"]): Record<string, unknown> {
    return {
        vault: {
            server: vault.server,
            path: vault.path,
            version: vault.version,
            ...(vault.caConfigMap
                ? { caProvider: { type: "ConfigMap", name: vault.caConfigMap.name, key: vault.caConfigMap.key, namespace: names.appNamespace } }
                : {}),
            auth: {
                kubernetes: {
                    mountPath: vault.mountPath,
                    role: vault.role,
                    serviceAccountRef: { name: vault.serviceAccount, namespace: names.appNamespace },
                },
            },
        },
    };
}

/** The ESO provider block of a Tier 3 store. */
function cloudProvider(secrets: CloudSecrets, clusterName: string): Record<string, unknown> {
    switch (secrets.tier) {
        case "aws":
            // IRSA: ESO exchanges a token of the ServiceAccount (audience
            // sts.amazonaws.com) for the role named in its annotation.
            return { aws: { service: "SecretsManager", region: secrets.aws.region, auth: { jwt: { serviceAccountRef: apiServiceAccountRef } } } };
        case "gcp":
            return {
                gcpsm: {
                    projectID: secrets.gcp.projectId,
                    auth: {
                        workloadIdentity: {
                            clusterLocation: secrets.account.region,
                            clusterName,
                            clusterProjectID: secrets.account.project,
                            serviceAccountRef: apiServiceAccountRef,
                        },
                    },
                },
            };
        case "azure":
            return {
                azurekv: {
                    authType: "WorkloadIdentity",
                    vaultUrl: secrets.azure.vaultUrl,
                    tenantId: secrets.account.tenantId,
                    serviceAccountRef: apiServiceAccountRef,
                },
            };
    }
}
