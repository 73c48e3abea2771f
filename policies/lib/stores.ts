/**
 * The secrets stores of a stack and the tier it declares, read from what the
 * program sets on purpose: the ClusterSecretStore's name and its
 * `x1agent.dev/secrets-tier` label, and the stack outputs `tier`/`uiMode`.
 */
import type { Res } from "./policy";
import { get, isKind, k8sType, meta } from "./resources";
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
    const providerBlock = get(r.props, "spec", "provider") ?? {};
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

/** Every store an ExternalSecret-like spec references: the main one and per-item sourceRefs. */
export function storeRefs(spec: unknown): { path: string; name: unknown; kind: unknown }[] {
    const out: { path: string; name: unknown; kind: unknown }[] = [];
    const main = get(spec, "secretStoreRef");
    if (main !== undefined) out.push({ path: "spec.secretStoreRef", name: get(main, "name"), kind: get(main, "kind") });
    for (const field of ["data", "dataFrom"] as const) {
        const items = get(spec, field);
        if (!Array.isArray(items)) continue;
        items.forEach((item, i) => {
            const ref = get(item, "sourceRef", "storeRef");
            if (ref !== undefined) out.push({ path: `spec.${field}[${i}].sourceRef.storeRef`, name: get(ref, "name"), kind: get(ref, "kind") });
        });
    }
    return out;
}

export interface RemoteKey {
    /** Where in the spec, e.g. `spec.data[0].remoteRef.key`. */
    path: string;
    /** The key, or a find's path (undefined: a find without a path searches the whole store). */
    key: unknown;
    /** A dataFrom.find (a search under `key`), not one named key. */
    find: boolean;
    /** The store the item reads through (its own sourceRef, else the main secretStoreRef). */
    storeName: unknown;
}

/** Every remote key an ExternalSecret spec reads, with its store; generator items have none. */
export function remoteKeys(spec: unknown): RemoteKey[] {
    const mainStore = get(spec, "secretStoreRef", "name");
    const out: RemoteKey[] = [];
    const items = (field: string): unknown[] => {
        const v = get(spec, field);
        return Array.isArray(v) ? v : [];
    };
    items("data").forEach((item, i) => {
        out.push({
            path: `spec.data[${i}].remoteRef.key`,
            key: get(item, "remoteRef", "key"),
            find: false,
            storeName: get(item, "sourceRef", "storeRef", "name") ?? mainStore,
        });
    });
    items("dataFrom").forEach((item, i) => {
        if (get(item, "sourceRef", "generatorRef") !== undefined) return;
        const storeName = get(item, "sourceRef", "storeRef", "name") ?? mainStore;
        const extract = get(item, "extract");
        if (extract !== undefined) out.push({ path: `spec.dataFrom[${i}].extract.key`, key: get(extract, "key"), find: false, storeName });
        const find = get(item, "find");
        if (find !== undefined) out.push({ path: `spec.dataFrom[${i}].find.path`, key: get(find, "path"), find: true, storeName });
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
