/**
 * The names and patterns the program, its config schema and this policy
 * pack must agree on: namespaces, the secrets tiers with their store names,
 * ranks and UI modes, the labels the program sets for the pack to read, and
 * each workspace's remote-key prefix. Each is defined here and nowhere else.
 *
 * It lives in the pack because the pack is published on its own (`pulumi
 * policy publish policies/`) and so may import nothing outside this folder
 * (test/policy/publishable.test.ts fails the build when a file here does);
 * `components/`, `stacks/schema/` and `runtime/` import these from here. No
 * dependencies: plain values and functions.
 */

/** An RFC 1123 label (Kubernetes object names, namespaces, workspace ids): lower case, digits and '-'. */
export const dnsLabelPattern = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
export const dnsLabel = new RegExp(`^${dnsLabelPattern}$`);

const workspaceNamespacePrefix = "x1agent-ws-";

/** Names every component agrees on. */
export const names = {
    /** The application namespace. */
    appNamespace: "x1agent",
    /** Tier 1: where Secrets live, privileged. */
    secretsNamespace: "x1agent-secrets",
    /** ESO's namespace. */
    esoNamespace: "external-secrets",
    /** The api's ServiceAccount; the subject of cloud workload identity. */
    apiServiceAccount: "x1agent-api",
    /** Tier 1 reader ServiceAccount. */
    esoReader: "eso-reader",
    /** Workspace namespace for a workspace id. */
    workspaceNamespace: (id: string) => `${workspaceNamespacePrefix}${id}`,
    workspaceNamespacePrefix,
} as const;

/**
 * Where the add-ons' upstream charts are installed (components/addons): the
 * namespace and the Helm release name, from which each chart names its
 * workloads. The pack's workload rules name the chart containers they skip
 * by them (workload-probes).
 */
export const addonNames = {
    certManager: { namespace: "cert-manager", release: "cert-manager" },
    /** NATS runs in the app namespace; its chart names the StatefulSet and Services after the release. */
    nats: { release: "x1agent-nats" },
} as const;

/** Names the runtime's objects share (components/runtime); the pack's workload rules read them too. */
export const runtimeNames = {
    api: "x1agent-api",
    app: "x1agent-app",
    worker: "x1agent-worker",
    maintenance: "x1agent-maintenance",
    backup: "x1agent-backup",
    secretsBackup: "x1agent-secrets-backup",
    configMap: "x1agent-config",
    leaderLease: "x1agent-api-leader",
    /** The ServiceAccount session pods run as, in every workspace namespace. */
    sessionServiceAccount: "x1agent-session",
    /** The NATS client certificate Secret (x1agent, and each workspace namespace). */
    natsClientSecret: "x1agent-nats-client",
    /** Label on workspace namespaces: the workspace id. */
    workspaceLabel: "x1agent.dev/workspace",
} as const;

/** A workspace namespace, `x1agent-ws-<id>`, as an anchored pattern. */
export const workspaceNamespacePattern = `^${workspaceNamespacePrefix}${dnsLabelPattern}$`;

/** Namespaces a ClusterSecretStore may serve (its ESO store conditions): the app namespace and the workspaces. */
export const storeNamespaceRegexes = [`^${names.appNamespace}$`, workspaceNamespacePattern];

/** Is a namespace one a store may serve: the app namespace or a workspace namespace? */
export function isX1Namespace(ns: string): boolean {
    return ns === names.appNamespace || new RegExp(workspaceNamespacePattern).test(ns);
}

/** The workspace id of a workspace namespace, or undefined for any other namespace. */
export function workspaceIdOf(namespace: string): string | undefined {
    if (!namespace.startsWith(workspaceNamespacePrefix)) return undefined;
    const id = namespace.slice(workspaceNamespacePrefix.length);
    return dnsLabel.test(id) ? id : undefined;
}

/** Tier 1 `kubernetes`, Tier 2 `vault`, Tier 3 `aws` | `gcp` | `azure`. */
export const secretTiers = ["kubernetes", "vault", "aws", "gcp", "azure"] as const;
export type SecretTier = (typeof secretTiers)[number];
/** The Tier 3 backends: a cloud's secret manager through its workload identity. */
export type CloudTier = Extract<SecretTier, "aws" | "gcp" | "azure">;

export function isTier(v: unknown): v is SecretTier {
    return typeof v === "string" && (secretTiers as readonly string[]).includes(v);
}

/** The order tiers are upgraded in: Tier 1 kubernetes < Tier 2 vault < Tier 3 cloud. */
export const tierRank: Record<SecretTier, 1 | 2 | 3> = { kubernetes: 1, vault: 2, aws: 3, gcp: 3, azure: 3 };

/** ClusterSecretStore name per tier (as the x1agent chart expects them). */
export const storeOfTier: Record<SecretTier, string> = {
    kubernetes: "x1-local",
    vault: "x1-vault",
    aws: "x1-aws",
    gcp: "x1-gcp",
    azure: "x1-azure",
};

export const tierOfStore: Record<string, SecretTier> = Object.fromEntries(Object.entries(storeOfTier).map(([tier, store]) => [store, tier as SecretTier]));

export type UiMode = "capture" | "bind";

/** `capture` in Tier 1 (values typed into x1agent's UI), `bind` (paths in the backend) otherwise. */
export function uiModeOf(tier: SecretTier): UiMode {
    return tier === "kubernetes" ? "capture" : "bind";
}

/** The label the program puts on its ClusterSecretStore: the declared tier. */
export const tierLabel = "x1agent.dev/secrets-tier";
/** Label on the store while a tier upgrade is open: the tier being left. */
export const migrationFromLabel = "x1agent.dev/migration-from";

/**
 * The workspace's own prefix in a bind-mode backend: every remote key must
 * sit under it. Vault paths and AWS Secrets Manager names take '/':
 * `x1agent/<id>/`; GCP Secret Manager ids and Azure Key Vault names cannot,
 * so there it is `x1agent-<id>-` (what the cloud identity's grant covers).
 */
export function bindPrefix(tier: Exclude<SecretTier, "kubernetes">, id: string): string {
    return tier === "gcp" || tier === "azure" ? `x1agent-${id}-` : `x1agent/${id}/`;
}

/** The workspace's own prefix for Secret names in x1agent-secrets (capture mode, Tier 1). */
export function capturePrefix(id: string): string {
    return `${id}-`;
}

/**
 * The prefix a workspace's remote keys must start with in a store of this
 * tier: Tier 1 Secret names `<id>-...` in x1agent-secrets; Vault and AWS
 * paths `x1agent/<id>/...`; GCP and Azure `x1agent-<id>-...`.
 */
export function remoteKeyPrefix(tier: SecretTier, workspaceId: string): string {
    return tier === "kubernetes" ? capturePrefix(workspaceId) : bindPrefix(tier, workspaceId);
}
