import { z } from "zod";
import { names, secretTiers } from "../../policies/lib/names";
import { credentialFreeUrl, k8sName } from "./common";

/** Which kind of cluster the stack targets; decides the cloud pieces that may exist. */
export const clusterProviders = ["local", "eks", "gke", "aks", "self-managed"] as const;
export type ClusterProvider = (typeof clusterProviders)[number];

export const cluster = z.strictObject({
    /**
     * `local`: no cloud, manifests rendered to a directory (or applied to
     * `kubeContext`); `eks`/`gke`/`aks`: a managed cluster in that cloud;
     * `self-managed`: any conformant cluster you run yourself.
     */
    provider: z.enum(clusterProviders, {
        error: `must be one of ${clusterProviders.join(", ")}`,
    }),
    /** Cluster name, used in cloud resource names and outputs. */
    name: k8sName,
    /**
     * The kube context to apply to. When neither it nor `kubeconfig` is set,
     * nothing touches a cluster: every manifest is rendered to `renderDir`
     * through the real engine and provider.
     */
    kubeContext: z.string().min(1).optional(),
    /**
     * The kubeconfig file to apply with, relative to the project (the local
     * cluster's is `.x1/cluster/kubeconfig`). Unset: the usual lookup
     * (`KUBECONFIG`, then `~/.kube/config`).
     */
    kubeconfig: z.string().min(1).optional(),
    /** Where rendered manifests go when the stack applies to no cluster. Default `.rendered/<stack>`. */
    renderDir: z.string().min(1).optional(),
    /**
     * The Kubernetes version the rendered manifests are for, when the stack
     * renders to a folder: Helm renders the add-ons' charts for it (their
     * `kubeVersion` requirements and version checks). Default
     * `defaultKubernetesVersion`, the local control plane's. Applying to a
     * cluster, Helm uses the cluster's own version, so setting this key
     * together with `kubeContext` or `kubeconfig` is refused by validation.
     */
    kubernetesVersion: z
        .string()
        .regex(/^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/, {
            error: "must be a Kubernetes version major.minor.patch such as 1.36.3 (the version of the cluster the manifests are for)",
        })
        .optional(),
    /**
     * `attach` (the only mode implemented): the cluster exists and is owned by
     * another stack or tool; this program installs onto it, creates the etcd
     * KMS key and its grants, and exports `etcdEncryption` (key id and the
     * command that wires it) for the cluster's owner. `own` (managing the
     * cluster resource and so its encryption setting from this stack) is
     * refused by validation: this program never creates or imports clusters.
     */
    ownership: z.enum(["attach", "own"]).default("attach"),
});

/** Whether a stack applies to a cluster (a kube context or kubeconfig is named) rather than rendering manifests to a folder. */
export function appliesToCluster(c: { kubeContext?: string; kubeconfig?: string }): boolean {
    return c.kubeContext !== undefined || c.kubeconfig !== undefined;
}

/**
 * The Kubernetes version a stack that renders to a folder renders for when
 * `cluster.kubernetesVersion` is unset: the version of the local control
 * plane the toolchain builds (`toolchain/kube-control-plane/go.mod`; a unit
 * test keeps the two equal).
 */
export const defaultKubernetesVersion = "1.36.3";

/** The Kubernetes version Helm renders the charts for: set when the stack renders to a folder, undefined when it applies to a cluster (Helm asks the cluster). */
export function renderKubernetesVersion(c: { kubeContext?: string; kubeconfig?: string; kubernetesVersion?: string }): string | undefined {
    return appliesToCluster(c) ? undefined : (c.kubernetesVersion ?? defaultKubernetesVersion);
}

const awsAccountId = z.string().regex(/^[0-9]{12}$/, { error: "must be a 12-digit AWS account id" });

export const cloud = z.strictObject({
    aws: z
        .strictObject({
            region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-[0-9]$/, { error: "must be an AWS region such as us-east-1" }),
            accountId: awsAccountId,
            /** The cluster's IAM OIDC provider ARN (`aws eks describe-cluster ... identity.oidc.issuer`). */
            oidcProviderArn: z.string().regex(/^arn:aws:iam::[0-9]{12}:oidc-provider\/.+$/, {
                error: "must be an IAM OIDC provider ARN: arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id>",
            }),
        })
        .optional(),
    gcp: z
        .strictObject({
            project: z.string().regex(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/, { error: "must be a GCP project id" }),
            region: z.string().min(1),
        })
        .optional(),
    azure: z
        .strictObject({
            subscriptionId: z.uuid({ error: "must be a subscription id (a UUID)" }),
            tenantId: z.uuid({ error: "must be a tenant id (a UUID)" }),
            resourceGroup: z.string().min(1),
            location: z.string().min(1),
            /** The AKS cluster's OIDC issuer URL (`az aks show --query oidcIssuerProfile.issuerUrl`). */
            oidcIssuerUrl: credentialFreeUrl({ error: "must be the cluster's OIDC issuer URL" }),
        })
        .optional(),
});

export const etcdEncryption = z.strictObject({
    /** Encrypt Secrets at rest in etcd with a cloud KMS key (or a KMS v2 plugin on self-managed clusters). */
    enabled: z.boolean().default(true),
    /** Use this existing KMS key (ARN / resource id) instead of creating one. */
    existingKeyId: z.string().min(1).optional(),
    /**
     * AKS: resource id of the Key Vault to create the etcd key in. Default: the
     * Tier 3 vault (`secrets.azure.vaultId`); required on AKS when neither it
     * nor `existingKeyId` is set.
     */
    keyVaultId: z
        .string()
        .regex(/^\/subscriptions\/.+\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+$/, {
            error: "must be the Key Vault resource id: /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>",
        })
        .optional(),
    /** Self-managed and local clusters: the KMS v2 plugin's socket for the EncryptionConfiguration output. */
    kmsPluginEndpoint: z
        .string()
        .regex(/^unix:\/\//, { error: "must be a unix:// socket path" })
        .default("unix:///var/run/kmsplugin/socket.sock"),
});

export const secrets = z.strictObject({
    /** Tier 1 `kubernetes`, Tier 2 `vault`, Tier 3 `aws` | `gcp` | `azure`. */
    tier: z.enum(secretTiers, { error: `must be one of ${secretTiers.join(", ")}` }),
    /** Derived from the tier (capture for Tier 1, bind otherwise); set it only to state it. */
    uiMode: z.enum(["capture", "bind"]).optional(),
    vault: z
        .strictObject({
            server: credentialFreeUrl({ error: "must be the Vault server URL, e.g. https://vault.example.com" }),
            /** KV mount path. */
            path: z.string().min(1).default("secret"),
            version: z.enum(["v1", "v2"]).default("v2"),
            /** Vault's Kubernetes auth mount path. */
            mountPath: z.string().min(1).default("kubernetes"),
            role: z.string().min(1).default("x1agent"),
            /** ServiceAccount Vault authenticates; default x1agent/x1agent-api. */
            serviceAccount: k8sName.default(names.apiServiceAccount),
            /** ConfigMap key holding Vault's CA bundle, when Vault uses a private CA. */
            caConfigMap: z.strictObject({ name: k8sName, key: z.string().min(1) }).optional(),
        })
        .optional(),
    aws: z.strictObject({ region: z.string().min(1).optional() }).optional(),
    gcp: z.strictObject({ projectId: z.string().min(1).optional() }).optional(),
    azure: z
        .strictObject({
            /** The one Key Vault x1agent secrets live in, e.g. https://x1agent-prod.vault.azure.net. */
            vaultUrl: credentialFreeUrl().regex(/^https:\/\/[a-z0-9-]+\.vault\.azure\.net\/?$/, {
                error: "must be a Key Vault URL: https://<name>.vault.azure.net",
            }),
            /** Resource id of that Key Vault (for the role assignment scope). */
            vaultId: z.string().regex(/^\/subscriptions\/.+\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+$/, {
                error: "must be the Key Vault resource id: /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>",
            }),
        })
        .optional(),
    /**
     * Tier upgrade in progress: the tier being left. While set and not `done`,
     * the Tier 1 data in x1agent-secrets is kept.
     */
    migration: z
        .strictObject({
            from: z.enum(secretTiers),
            done: z.boolean().default(false),
        })
        .optional(),
});
