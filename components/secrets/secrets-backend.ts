import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../stacks/schema";
import { commonLabels, names } from "../names";

export interface SecretsBackendArgs {
    /** The stack's `secrets` config: the tier and its backend settings. */
    secrets: StackConfig["secrets"];
    /**
     * Namespaces allowed to use the store (ESO store conditions). Default: the
     * app namespace and every `x1agent-ws-*` workspace namespace; never
     * x1agent-secrets or a system namespace.
     */
    namespaceRegexes?: string[];
    /** Resources the store must wait for: ESO's CRDs and webhook; for Tier 3, the cloud identity. */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
    /**
     * Tier 3: the stack's `cloud` section (the AWS region, the GCP project and
     * region, the Azure tenant). Required for aws, gcp and azure.
     */
    cloud?: StackConfig["cloud"];
    /** Tier 3 on GCP: `cluster.name`, which ESO's Workload Identity auth needs. */
    clusterName?: string;
}

/** Namespaces a store may serve: the app namespace and the workspaces. */
export const defaultStoreNamespaceRegexes = [`^${names.appNamespace}$`, `^${names.workspaceNamespacePrefix}[a-z0-9]([-a-z0-9]*[a-z0-9])?$`];

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
        const conditions = [{ namespaceRegexes: args.namespaceRegexes ?? defaultStoreNamespaceRegexes }];
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
        const secretsNamespace =
            secrets.tier === "kubernetes" || leavingTier1
                ? new k8s.core.v1.Namespace(
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
                  )
                : undefined;

        let provider: Record<string, unknown>;
        switch (secrets.tier) {
            case "kubernetes": {
                const ns = secretsNamespace!;
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
                break;
            }
            case "vault": {
                const vault = secrets.vault!;
                provider = {
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
                break;
            }
            case "aws":
            case "gcp":
            case "azure":
                provider = cloudProvider(secrets, args.cloud ?? {}, args.clusterName);
                break;
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
                        "x1agent.dev/secrets-tier": secrets.tier,
                        // Read by the policy pack: an upgrade from this tier is still in progress.
                        ...(migrationOpen ? { "x1agent.dev/migration-from": migration.from } : {}),
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

/** The ESO provider block of a Tier 3 store. */
function cloudProvider(secrets: StackConfig["secrets"], cloud: StackConfig["cloud"], clusterName: string | undefined): Record<string, unknown> {
    const missing = (key: string) => new pulumi.RunError(`${key} is required for secrets.tier ${secrets.tier}: add it to the stack config`);
    switch (secrets.tier) {
        case "aws": {
            const region = secrets.aws?.region ?? cloud.aws?.region;
            if (!region) throw missing("cloud.aws.region");
            // IRSA: ESO exchanges a token of the ServiceAccount (audience
            // sts.amazonaws.com) for the role named in its annotation.
            return { aws: { service: "SecretsManager", region, auth: { jwt: { serviceAccountRef: apiServiceAccountRef } } } };
        }
        case "gcp": {
            const gcp = cloud.gcp;
            if (!gcp) throw missing("cloud.gcp");
            if (!clusterName) throw missing("cluster.name");
            return {
                gcpsm: {
                    projectID: secrets.gcp?.projectId ?? gcp.project,
                    auth: {
                        workloadIdentity: {
                            clusterLocation: gcp.region,
                            clusterName,
                            clusterProjectID: gcp.project,
                            serviceAccountRef: apiServiceAccountRef,
                        },
                    },
                },
            };
        }
        default: {
            const azure = secrets.azure;
            if (!azure) throw missing("secrets.azure");
            if (!cloud.azure) throw missing("cloud.azure");
            return {
                azurekv: { authType: "WorkloadIdentity", vaultUrl: azure.vaultUrl, tenantId: cloud.azure.tenantId, serviceAccountRef: apiServiceAccountRef },
            };
        }
    }
}
