/**
 * The one schema every stack's config (`x1agent:*` keys in
 * stacks/Pulumi.<stack>.yaml) is validated against, before any resource is
 * registered and before the deployer starts Pulumi. Cross-field rules live
 * here, not in components: the tier decides uiMode, the cluster's cloud
 * decides which Tier 3 backends are possible, the postgres settings decide
 * which connection is used.
 */
import { z } from "zod";
import { type CloudTier, dnsLabel, names, remoteKeyPrefix, storeOfTier, tierRank, uiModeOf } from "../../policies/lib/names";
import { auth, addons, ingress, nats, postgres } from "./services";
import { appliesToCluster, cloud, cluster, etcdEncryption, secrets } from "./platform";
import { api, app, backup, cronJob, images, network, objectStorage, observability, proxy, sessions, worker } from "./workloads";
import { quantityValue, workspace } from "./workspaces";

export { secretTiers, tierRank, type SecretTier, type CloudTier } from "../../policies/lib/names";
export { appliesToCluster, clusterProviders, defaultKubernetesVersion, renderKubernetesVersion, type ClusterProvider } from "./platform";
export type { SecretKeyRef, ChartSource, Addon, Resources, Image } from "./common";
export type { Workspace } from "./workspaces";

/** The cloud whose workload identity a Tier 3 backend needs, by cluster provider. */
const cloudOfCluster = { eks: "aws", gke: "gcp", aks: "azure" } as const;
const clusterOfCloud = { aws: "eks", gcp: "gke", azure: "aks" } as const;

/** One schema per top-level config key (`x1agent:<key>`), defaults included. */
export const sections = {
    cluster,
    cloud: cloud.default({}),
    etcdEncryption: etcdEncryption.default({ enabled: true, kmsPluginEndpoint: "unix:///var/run/kmsplugin/socket.sock" }),
    secrets,
    ingress,
    postgres: postgres.default({
        bundled: { enabled: true, storage: "1Gi", instances: 1 },
        vectorEnabled: false,
        maxConnections: 20,
    }),
    nats: nats.default({ replicas: 1, mtls: true, jetstream: { enabled: true, storage: "1Gi" } }),
    auth: auth.default({ password: { enabled: true }, allowedDomains: [] }),
    api: api.default(api.parse({})),
    app: app.default(app.parse({})),
    worker: worker.default(worker.parse({})),
    cronJobs: z.array(cronJob).default([]),
    workspaces: z.array(workspace).default([]),
    images: images.default(images.parse({})),
    observability: observability.default({ logLevel: "info", logFormat: "json" }),
    proxy: proxy.default({ noProxy: [] }),
    objectStorage: objectStorage.default({ driver: "none" }),
    backup: backup.default(backup.parse({})),
    network: network.default(network.parse({})),
    sessions: sessions.default(sessions.parse({})),
    addons: addons.default(addons.parse({})),
};

const rawConfig = z.strictObject(sections);
type RawConfig = z.output<typeof rawConfig>;

type Path = (string | number)[];

export interface CrossFieldProblem {
    path: Path;
    message: string;
    /**
     * Keys the rule found missing. When one of them was written but its own
     * schema refused it, the problem is not reported: the key is not missing,
     * and its own message already says what to write.
     */
    absent: Path[];
}

/** Any part of a value: what of a config still parsed when some of it did not (see `salvage` in validate.ts). */
export type Parsed<T> = T extends (infer E)[] ? (Parsed<E> | undefined)[] : T extends object ? { [K in keyof T]?: Parsed<T[K]> } : T;

/**
 * The rules that span keys and entries. Each runs on whatever of the keys
 * it reads parsed, wherever else the config is wrong: one bad key, section
 * or list entry does not hide the problems of the others.
 */
export function crossFieldProblems(c: Parsed<RawConfig>): CrossFieldProblem[] {
    const out: CrossFieldProblem[] = [];
    const problem = (path: Path, message: string, absent: Path[] = []) => out.push({ path, message, absent });

    const provider = c.cluster?.provider;
    const clusterCloud = provider && provider in cloudOfCluster ? cloudOfCluster[provider as keyof typeof cloudOfCluster] : undefined;
    if (provider && c.cloud) {
        // The cluster's cloud decides which cloud sections and Tier 3 backends exist.
        if (clusterCloud && !c.cloud[clusterCloud]) {
            problem(["cloud", clusterCloud], `is required when cluster.provider is ${provider}: add cloud.${clusterCloud} with the cluster's account details`, [
                ["cloud", clusterCloud],
            ]);
        }
        for (const name of ["aws", "gcp", "azure"] as const) {
            if (c.cloud[name] && clusterCloud !== name) {
                problem(
                    ["cloud", name],
                    `is set but cluster.provider is ${provider}: remove cloud.${name}, or set cluster.provider to ${clusterOfCloud[name]}`,
                );
            }
        }
    }

    const tier = c.secrets?.tier;
    if (c.secrets && tier) {
        if (provider && (tier === "aws" || tier === "gcp" || tier === "azure") && clusterCloud !== tier) {
            const possible = clusterCloud ? `kubernetes, vault or ${clusterCloud}` : "kubernetes or vault";
            problem(
                ["secrets", "tier"],
                `${tier} needs cluster.provider ${clusterOfCloud[tier]} for its workload identity, but cluster.provider is ${provider}: use ${possible}`,
            );
        }
        if (tier === "vault" && !c.secrets.vault) {
            problem(
                ["secrets", "vault"],
                "is required for tier vault: add secrets.vault.server (e.g. https://vault.example.com) and the Kubernetes auth role",
                [["secrets", "vault"]],
            );
        }
        if (tier === "azure" && !c.secrets.azure) {
            problem(["secrets", "azure"], "is required for tier azure: add secrets.azure.vaultUrl and secrets.azure.vaultId of the one Key Vault", [
                ["secrets", "azure"],
            ]);
        }
        const expectedUi = uiModeOf(tier);
        if (c.secrets.uiMode && c.secrets.uiMode !== expectedUi) {
            problem(["secrets", "uiMode"], `must be ${expectedUi} for tier ${tier} (capture only in Tier 1): write uiMode: ${expectedUi}, or remove the key`);
        }
        const from = c.secrets.migration?.from;
        if (from && tierRank[from] >= tierRank[tier]) {
            problem(
                ["secrets", "migration", "from"],
                `must be a lower tier than secrets.tier (${tier}); a migration records an upgrade, e.g. from: kubernetes`,
            );
        }
    }

    if (c.cluster?.kubernetesVersion !== undefined && appliesToCluster(c.cluster)) {
        const via = c.cluster.kubeContext !== undefined ? "kubeContext" : "kubeconfig";
        problem(
            ["cluster", "kubernetesVersion"],
            `only applies when rendering to a folder, but cluster.${via} is set and Helm renders for that cluster's own version: ` +
                `remove cluster.kubernetesVersion, or remove cluster.${via} to render`,
        );
    }
    if (c.cluster?.ownership === "own") {
        problem(
            ["cluster", "ownership"],
            "own is not supported: this program installs onto a cluster and never creates or imports it, and a managed cluster's " +
                "encryption setting is a field of the cluster resource (EKS encryptionConfig, GKE databaseEncryption, AKS azureKeyVaultKms) " +
                "that only the stack owning the cluster can manage. Write ownership: attach and apply the etcdEncryption output's wiring there",
        );
    }
    const etcd = c.etcdEncryption;
    if (provider === "aks" && etcd?.enabled && !etcd.existingKeyId && !etcd.keyVaultId && !c.secrets?.azure) {
        problem(
            ["etcdEncryption", "keyVaultId"],
            "is required on AKS to hold the etcd encryption key: name the Key Vault's resource id, or set etcdEncryption.existingKeyId",
            [
                ["etcdEncryption", "keyVaultId"],
                ["etcdEncryption", "existingKeyId"],
                ["secrets", "azure"],
            ],
        );
    }

    const seen = new Map<string, number>();
    c.workspaces?.forEach((w, i) => {
        if (w?.id === undefined) return;
        const first = seen.get(w.id);
        if (first !== undefined) problem(["workspaces", i, "id"], `duplicates workspaces[${first}].id: each workspace id must be unique`);
        else seen.set(w.id, i);
    });

    c.workspaces?.forEach((w, i) => {
        if (!w) return;
        const id = w.id;
        if (tier && id !== undefined) {
            // A workspace reaches only its own part of the backend: the store serves every workspace.
            const prefix = remoteKeyPrefix(tier, id);
            w.secrets?.forEach((s, j) => {
                if (s?.remoteKey === undefined) return;
                const path = ["workspaces", i, "secrets", j, "remoteKey"];
                const example = `${prefix}${s.name ?? "<name>"}`;
                if (tier !== "kubernetes" && !s.remoteKey.startsWith(prefix)) {
                    problem(path, `must sit under this workspace's prefix ${prefix} in bind mode (tier ${tier}): write ${example}`);
                }
                if (tier === "kubernetes" && !(s.remoteKey.startsWith(prefix) && dnsLabel.test(s.remoteKey) && s.remoteKey.length <= 253)) {
                    problem(path, `must name a Secret in ${names.secretsNamespace} starting with ${prefix} in capture mode (Tier 1), e.g. ${example}`);
                }
            });
        }
        for (const r of ["cpu", "memory"] as const) {
            const quota = w.quota?.[r];
            const limit = w.limits?.default?.[r];
            const request = w.limits?.defaultRequest?.[r];
            if (limit !== undefined && quota !== undefined && quantityValue(limit) > quantityValue(quota)) {
                problem(
                    ["workspaces", i, "limits", "default", r],
                    `${limit} exceeds the workspace quota ${r} ${quota}: no session pod could start; lower it or raise quota.${r}`,
                );
            }
            if (request !== undefined && limit !== undefined && quantityValue(request) > quantityValue(limit)) {
                problem(
                    ["workspaces", i, "limits", "defaultRequest", r],
                    `${request} exceeds limits.default.${r} ${limit}: a request cannot be above its limit`,
                );
            }
        }
    });
    const jobNames = new Map<string, number>();
    c.cronJobs?.forEach((j, i) => {
        if (j?.name === undefined) return;
        const first = jobNames.get(j.name);
        if (first !== undefined) problem(["cronJobs", i, "name"], `duplicates cronJobs[${first}].name: each maintenance job needs its own name`);
        else jobNames.set(j.name, i);
    });
    if (c.backup?.enabled && c.secrets && keepsTier1Data(c.secrets) && !c.backup.secretsRecipient) {
        problem(
            ["backup", "secretsRecipient"],
            "is required with backup.enabled while Secrets live in x1agent-secrets (Tier 1): the export holds secret values and is encrypted to this age public key (create one with age-keygen; keep the private key offline)",
            [
                ["backup", "secretsRecipient"],
                ["secrets", "migration", "done"],
            ],
        );
    }

    return out;
}

type Raw<K extends keyof RawConfig> = RawConfig[K];
type CloudAccount<C extends CloudTier> = NonNullable<Raw<"cloud">[C]>;

/** What every tier's settled `secrets` has: the tier's store and UI mode, decided by the tier. */
interface SettledSecretsBase extends Pick<Raw<"secrets">, "migration"> {
    storeName: string;
}

/**
 * `secrets` after validation, one variant per tier, each with exactly what
 * its store needs, present: Tier 2 its Vault settings, Tier 3 the backend's
 * settings with the defaults taken from the cluster's cloud, and `account`,
 * the `cloud.<tier>` section validation requires for that tier (the store
 * and the cloud identity authenticate against it).
 */
export type SettledSecrets =
    | (SettledSecretsBase & { tier: "kubernetes"; uiMode: "capture" })
    | (SettledSecretsBase & { tier: "vault"; uiMode: "bind"; vault: NonNullable<Raw<"secrets">["vault"]> })
    | (SettledSecretsBase & { tier: "aws"; uiMode: "bind"; aws: { region: string }; account: CloudAccount<"aws"> })
    | (SettledSecretsBase & { tier: "gcp"; uiMode: "bind"; gcp: { projectId: string }; account: CloudAccount<"gcp"> })
    | (SettledSecretsBase & { tier: "azure"; uiMode: "bind"; azure: NonNullable<Raw<"secrets">["azure"]>; account: CloudAccount<"azure"> });
/** A Tier 3 `secrets`: a cloud's secret manager, reached through that cloud's workload identity. */
export type CloudSecrets = Extract<SettledSecrets, { tier: CloudTier }>;

export function isCloudSecrets(s: SettledSecrets): s is CloudSecrets {
    return s.tier === "aws" || s.tier === "gcp" || s.tier === "azure";
}

/** `postgres` after validation: which connection the api uses (urlFile > url > bundled), with that connection's Secret. */
export type SettledPostgres = Omit<Raw<"postgres">, "url" | "urlFile"> &
    (
        | { connection: "urlFile"; urlFile: NonNullable<Raw<"postgres">["urlFile"]> }
        | { connection: "url"; url: NonNullable<Raw<"postgres">["url"]> }
        | { connection: "bundled" }
    );

/**
 * `etcdEncryption` after validation: the mechanism the cluster provider
 * decides, with the cloud account it creates the key in (`cloud.<cloud>`,
 * required for a managed cluster) and, on AKS, where the key comes from.
 */
export type SettledEtcdEncryption = Raw<"etcdEncryption"> &
    (
        | { mechanism: "none" }
        | { mechanism: "aws-kms"; aws: CloudAccount<"aws"> }
        | { mechanism: "gcp-kms"; gcp: CloudAccount<"gcp"> }
        | { mechanism: "azure-key-vault"; azure: CloudAccount<"azure">; key: { existingKeyId: string } | { keyVaultId: string } }
        | { mechanism: "kms-v2-plugin" }
    );

type RawIssuer = Omit<Raw<"ingress">["issuer"], "type">;
/** `ingress.issuer` after validation, one variant per type: `existing` always names its issuer. */
export type SettledIssuer = (RawIssuer & { type: "acme" }) | (RawIssuer & { type: "selfSigned" }) | (RawIssuer & { type: "existing"; name: string });

/**
 * `backup` after validation, with `secretsExport` when Secrets live in
 * x1agent-secrets (Tier 1, or a migration away from it not yet done): the
 * export of them, encrypted to `secretsRecipient`.
 */
export type SettledBackup = Raw<"backup"> & { secretsExport?: { recipient: string } };

/** The validated config with what it decides settled (see `settle`). */
export type SettledConfig = Omit<RawConfig, "secrets" | "postgres" | "etcdEncryption" | "ingress" | "backup"> & {
    secrets: SettledSecrets;
    postgres: SettledPostgres;
    etcdEncryption: SettledEtcdEncryption;
    ingress: Omit<Raw<"ingress">, "issuer"> & { issuer: SettledIssuer };
    backup: SettledBackup;
};

/**
 * A value the cross-field rules require. `settle` runs only on a config they
 * passed, so a missing one is a bug in this module, never a user's mistake.
 */
function required<T>(value: T | undefined, key: string): T {
    if (value === undefined) throw new Error(`settle() needs ${key}, which crossFieldProblems() requires: call it only on a config that passed validation`);
    return value;
}

function settleSecrets(c: RawConfig): SettledSecrets {
    const s = c.secrets;
    const base = { migration: s.migration, storeName: storeOfTier[s.tier] };
    switch (s.tier) {
        case "kubernetes":
            return { ...base, tier: s.tier, uiMode: "capture" };
        case "vault":
            return { ...base, tier: s.tier, uiMode: "bind", vault: required(s.vault, "secrets.vault") };
        case "aws": {
            const account = required(c.cloud.aws, "cloud.aws");
            return { ...base, tier: s.tier, uiMode: "bind", aws: { region: s.aws?.region ?? account.region }, account };
        }
        case "gcp": {
            const account = required(c.cloud.gcp, "cloud.gcp");
            return { ...base, tier: s.tier, uiMode: "bind", gcp: { projectId: s.gcp?.projectId ?? account.project }, account };
        }
        case "azure":
            return { ...base, tier: s.tier, uiMode: "bind", azure: required(s.azure, "secrets.azure"), account: required(c.cloud.azure, "cloud.azure") };
    }
}

function settlePostgres(p: Raw<"postgres">): SettledPostgres {
    const { url, urlFile, ...rest } = p;
    if (urlFile) return { ...rest, connection: "urlFile", urlFile };
    if (url) return { ...rest, connection: "url", url };
    return { ...rest, connection: "bundled" };
}

function settleEtcdEncryption(c: RawConfig): SettledEtcdEncryption {
    const e = c.etcdEncryption;
    if (!e.enabled) return { ...e, mechanism: "none" };
    switch (c.cluster.provider) {
        case "eks":
            return { ...e, mechanism: "aws-kms", aws: required(c.cloud.aws, "cloud.aws") };
        case "gke":
            return { ...e, mechanism: "gcp-kms", gcp: required(c.cloud.gcp, "cloud.gcp") };
        case "aks": {
            const key = e.existingKeyId
                ? { existingKeyId: e.existingKeyId }
                : { keyVaultId: required(e.keyVaultId ?? c.secrets.azure?.vaultId, "etcdEncryption.keyVaultId") };
            return { ...e, mechanism: "azure-key-vault", azure: required(c.cloud.azure, "cloud.azure"), key };
        }
        default:
            return { ...e, mechanism: "kms-v2-plugin" };
    }
}

function settleIssuer(i: Raw<"ingress">["issuer"]): SettledIssuer {
    switch (i.type) {
        case "acme":
            return { ...i, type: i.type };
        case "selfSigned":
            return { ...i, type: i.type };
        case "existing":
            return { ...i, type: i.type, name: required(i.name, "ingress.issuer.name") };
    }
}

/** Tier 1 data exists: Secrets live in x1agent-secrets (Tier 1, or a migration away from it that is not done). */
function keepsTier1Data(s: Parsed<Raw<"secrets">>): boolean {
    return s.tier === "kubernetes" || (s.migration?.from === "kubernetes" && !s.migration.done);
}

function settleBackup(c: RawConfig): SettledBackup {
    const b = c.backup;
    if (!b.enabled || !keepsTier1Data(c.secrets)) return b;
    return { ...b, secretsExport: { recipient: required(b.secretsRecipient, "backup.secretsRecipient") } };
}

/**
 * Adds what the config decides but nobody writes (uiMode, the store name,
 * the database connection, the etcd encryption mechanism) and turns the
 * sections whose fields depend on another into one variant per case, so a
 * component reads what validation promised without checking it again.
 */
export function settle(c: RawConfig): SettledConfig {
    return {
        ...c,
        secrets: settleSecrets(c),
        postgres: settlePostgres(c.postgres),
        etcdEncryption: settleEtcdEncryption(c),
        ingress: { ...c.ingress, issuer: settleIssuer(c.ingress.issuer) },
        backup: settleBackup(c),
    };
}

/** The whole schema as one zod type (for tests and tools that want a single parse). */
export const stackConfig = rawConfig
    .superRefine((c, ctx) => {
        for (const p of crossFieldProblems(c)) ctx.addIssue({ code: "custom", path: p.path, message: p.message });
    })
    .transform(settle);

/** The validated, defaulted stack configuration every component reads. */
export type StackConfig = z.output<typeof stackConfig>;
/** What a user writes: every defaulted key optional. */
export type StackConfigInput = z.input<typeof stackConfig>;
