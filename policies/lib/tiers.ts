/**
 * The secrets tiers as the policies see them: store names, ranks, UI modes
 * and each workspace's remote-key prefix per tier. Names and ranks come from
 * the program's own modules, so the pack and the program cannot drift.
 */
import { names } from "../../components/names";
import { tierRank, secretTiers, type SecretTier } from "../../stacks/schema/platform";
import { bindPrefix, capturePrefix } from "../../stacks/schema/workspaces";

export { names, tierRank, secretTiers, type SecretTier };

/** ClusterSecretStore name per tier (as the x1agent chart expects them). */
export const storeOfTier: Record<SecretTier, string> = {
    kubernetes: "x1-local",
    vault: "x1-vault",
    aws: "x1-aws",
    gcp: "x1-gcp",
    azure: "x1-azure",
};

export const tierOfStore: Record<string, SecretTier> = Object.fromEntries(
    Object.entries(storeOfTier).map(([tier, store]) => [store, tier as SecretTier]),
);

/** The label the program puts on its ClusterSecretStore: the declared tier. */
export const tierLabel = "x1agent.dev/secrets-tier";
/** Label on the store while a tier upgrade is open: the tier being left. */
export const migrationFromLabel = "x1agent.dev/migration-from";

export function isTier(v: unknown): v is SecretTier {
    return typeof v === "string" && (secretTiers as readonly string[]).includes(v);
}

/** `capture` in Tier 1 (values typed into x1agent's UI), `bind` (paths in the backend) otherwise. */
export function uiModeOf(tier: SecretTier): "capture" | "bind" {
    return tier === "kubernetes" ? "capture" : "bind";
}

/**
 * The prefix a workspace's remote keys must start with, per store tier: the
 * schema's own rule (stacks/schema/workspaces.ts), so config validation and
 * the policy agree. Tier 1: Secret names `<id>-...` in x1agent-secrets;
 * Vault and AWS: paths `x1agent/<id>/...`; GCP and Azure (names cannot hold
 * '/'): `x1agent-<id>-...`.
 */
export function remoteKeyPrefixes(tier: SecretTier, workspaceId: string): string[] {
    return [tier === "kubernetes" ? capturePrefix(workspaceId) : bindPrefix(tier, workspaceId)];
}

/** The workspace id of a workspace namespace, or undefined for any other namespace. */
export function workspaceIdOf(namespace: string): string | undefined {
    if (!namespace.startsWith(names.workspaceNamespacePrefix)) return undefined;
    const id = namespace.slice(names.workspaceNamespacePrefix.length);
    return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(id) ? id : undefined;
}

/** Namespaces the store conditions may admit: the app namespace and the workspaces. */
export const defaultStoreNamespaceRegexes = [`^${names.appNamespace}$`, `^${names.workspaceNamespacePrefix}[a-z0-9]([-a-z0-9]*[a-z0-9])?$`];
