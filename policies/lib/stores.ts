/**
 * The secrets stores of a stack and the tier it declares, read from what the
 * program sets on purpose: the ClusterSecretStore's name and its
 * `x1agent.dev/secrets-tier` label, and the stack outputs `tier`/`uiMode`.
 */
import type { IExternalSecretSpec } from "@kubernetes-models/external-secrets/external-secrets.io/v1";
import type { Res } from "./policy";
import { asKind, get, isKind, k8sType, meta } from "./resources";
import { isTier, tierLabel, tierOfStore, tierRank, type SecretTier } from "./names";

export const esoGroup = "external-secrets.io";
/** The group of ESO's generators (ECR/STS/GCR tokens, Webhook, VaultDynamicSecret, ...). */
export const esoGeneratorsGroup = "generators.external-secrets.io";

export interface Store {
    res: Res;
    name: string;
    /** The tier the store serves: its label, else what its name implies. */
    tier?: SecretTier;
    /** The ESO provider block's key: kubernetes, vault, aws, gcpsm, azurekv, ... */
    provider?: string;
}

/** Which ESO provider key serves which tier. */
export const providerTier: Record<string, SecretTier> = { kubernetes: "kubernetes", vault: "vault", aws: "aws", gcpsm: "gcp", azurekv: "azure" };

export function isClusterSecretStore(r: Pick<Res, "type">): boolean {
    return isKind(r, esoGroup, "ClusterSecretStore");
}

export function isExternalSecret(r: Pick<Res, "type">): boolean {
    return isKind(r, esoGroup, "ExternalSecret");
}

export function toStore(r: Res): Store {
    const m = meta(r);
    const label = m.labels[tierLabel];
    const providerBlock = (asKind(r, "external-secrets.io/ClusterSecretStore") ?? asKind(r, "external-secrets.io/SecretStore"))?.spec?.provider ?? {};
    const provider = Object.keys(providerBlock)[0];
    return { res: r, name: m.name, tier: isTier(label) ? label : tierOfStore[m.name], provider };
}

/** The x1agent stores (x1-* names or the tier label) among a stack's resources. */
export function x1Stores(resources: Res[]): Store[] {
    return resources
        .filter(isClusterSecretStore)
        .map(toStore)
        .filter((s) => s.name in tierOfStore || isTier(meta(s.res).labels[tierLabel]));
}

/** The root stack resource (its props are the stack outputs). */
export function stackResource(resources: Res[]): Res | undefined {
    return resources.find((r) => r.type === "pulumi:pulumi:Stack");
}

/** The Platform component (its props are its registered outputs: tier, storeName, uiMode, ...). */
export function platformResource(resources: Res[]): Res | undefined {
    return resources.find((r) => r.type === "x1agent:index:Platform");
}

export interface Declared {
    tier: SecretTier;
    /** Where the tier was read from, for messages. */
    source: string;
    store?: Store;
}

/**
 * The tier the stack declares: the Platform component's (or the stack's)
 * output `tier` when the program registers it, else the highest-ranked x1 store (during an upgrade the new
 * store sits beside the old one).
 */
export function declaredTier(resources: Res[]): Declared | undefined {
    const stores = x1Stores(resources).filter((s) => s.tier !== undefined);
    for (const [res, source] of [
        [platformResource(resources), "Platform output `tier`"],
        [stackResource(resources), "stack output `tier`"],
    ] as const) {
        const output = get(res?.props, "tier");
        if (isTier(output)) return { tier: output, source, store: stores.find((s) => s.tier === output) };
    }
    const top = [...stores].sort((a, b) => tierRank[b.tier!] - tierRank[a.tier!])[0];
    return top ? { tier: top.tier!, source: `ClusterSecretStore ${top.name} (label ${tierLabel})`, store: top } : undefined;
}

/**
 * The ExternalSecret spec of an ExternalSecret, or of a ClusterExternalSecret
 * (`spec.externalSecretSpec`), with where it sits for messages; undefined
 * for anything else.
 */
export function externalSecretSpec(r: Res): { spec: IExternalSecretSpec | undefined; at: "spec" | "spec.externalSecretSpec" } | undefined {
    const es = asKind(r, "external-secrets.io/ExternalSecret");
    if (es) return { spec: es.spec, at: "spec" };
    const ces = asKind(r, "external-secrets.io/ClusterExternalSecret");
    if (ces) return { spec: ces.spec?.externalSecretSpec, at: "spec.externalSecretSpec" };
    return undefined;
}

/** Every store an ExternalSecret spec references: the main one and per-item sourceRefs. */
export function storeRefs(spec: IExternalSecretSpec | undefined): { path: string; name: string | undefined; kind: string | undefined }[] {
    const out: { path: string; name: string | undefined; kind: string | undefined }[] = [];
    const main = spec?.secretStoreRef;
    if (main !== undefined) out.push({ path: "spec.secretStoreRef", name: main.name, kind: main.kind });
    for (const [field, items] of [
        ["data", spec?.data ?? []],
        ["dataFrom", spec?.dataFrom ?? []],
    ] as const) {
        items.forEach((item, i) => {
            const ref = item.sourceRef?.storeRef;
            if (ref !== undefined) out.push({ path: `spec.${field}[${i}].sourceRef.storeRef`, name: ref.name, kind: ref.kind });
        });
    }
    return out;
}

export interface RemoteKey {
    /** Where in the spec, e.g. `spec.data[0].remoteRef.key`. */
    path: string;
    /** The key, or a find's path (undefined: a find without a path searches the whole store). */
    key: string | undefined;
    /** A dataFrom.find (a search under `key`), not one named key. */
    find: boolean;
    /** The store the item reads through (its own sourceRef, else the main secretStoreRef). */
    storeName: string | undefined;
}

/** Every remote key an ExternalSecret spec reads, with its store; generator items have none. */
export function remoteKeys(spec: IExternalSecretSpec | undefined): RemoteKey[] {
    const mainStore = spec?.secretStoreRef?.name;
    const out: RemoteKey[] = [];
    (spec?.data ?? []).forEach((item, i) => {
        out.push({
            path: `spec.data[${i}].remoteRef.key`,
            key: item.remoteRef?.key,
            find: false,
            storeName: item.sourceRef?.storeRef?.name ?? mainStore,
        });
    });
    (spec?.dataFrom ?? []).forEach((item, i) => {
        if (item.sourceRef?.generatorRef !== undefined) return;
        const storeName = item.sourceRef?.storeRef?.name ?? mainStore;
        if (item.extract !== undefined) out.push({ path: `spec.dataFrom[${i}].extract.key`, key: item.extract.key, find: false, storeName });
        if (item.find !== undefined) out.push({ path: `spec.dataFrom[${i}].find.path`, key: item.find.path, find: true, storeName });
    });
    return out;
}

/** The store name an ESO `kind` field means: ESO defaults an omitted kind to the namespaced SecretStore. */
export function refKind(kind: unknown): string {
    return typeof kind === "string" && kind !== "" ? kind : "SecretStore";
}

export function isEsoObject(r: Pick<Res, "type">): boolean {
    return k8sType(r.type)?.group === esoGroup;
}
