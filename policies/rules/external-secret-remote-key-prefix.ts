import { resourcePolicy } from "../lib/policy";
import { get, list, meta } from "../lib/resources";
import { isExternalSecret, tierOfStore } from "../lib/stores";
import { remoteKeyPrefixes, workspaceIdOf } from "../lib/tiers";

/**
 * One store serves every workspace, so the store's identity can read every
 * workspace's secrets; what keeps workspace A out of workspace B's secrets
 * is that A's ExternalSecrets only ask for keys under A's own prefix, the
 * schema's rule: `x1agent/<id>/` in bind mode on Vault and AWS,
 * `x1agent-<id>-` on GCP and Azure (their names cannot hold '/'), `<id>-`
 * Secret names in Tier 1.
 */
export const externalSecretRemoteKeyPrefix = resourcePolicy(
    {
        name: "external-secret-remote-key-prefix",
        family: "secret-scoping",
        description: "An ExternalSecret in workspace x1agent-ws-<id> reads only remote keys under that workspace's prefix (Vault/AWS: x1agent/<id>/...; GCP/Azure: x1agent-<id>-...; Tier 1: <id>-...).",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Store the workspace's secrets under its prefix in the backend (x1agent/<id>/anthropic in Vault/AWS, x1agent-<id>-anthropic in GCP/Azure, <id>-anthropic in Tier 1) and set workspaces[].secrets[].remoteKey to it.\n" +
            "2. Replace dataFrom.find without a path (a search of the whole backend) by explicit keys or a find.path under the prefix.",
    },
    (r, { report }) => {
        if (!isExternalSecret(r)) return;
        const m = meta(r);
        const id = workspaceIdOf(m.namespace);
        if (id === undefined) return;
        const mainStore = get(r.props, "spec", "secretStoreRef", "name");
        const where = `ExternalSecret ${m.namespace}/${m.name}`;
        const check = (path: string, key: unknown, storeName: unknown) => {
            const tier = typeof storeName === "string" ? tierOfStore[storeName] : undefined;
            if (tier === undefined) return; // not an x1 store: external-secret-store-allowed reports it
            const prefixes = remoteKeyPrefixes(tier, id);
            const k = String(key ?? "");
            if (!prefixes.some((p) => k.startsWith(p)) || k.split("/").includes("..")) {
                report(
                    `${where} reads '${k}' (${path}) from ${String(storeName)}, outside workspace ${id}'s prefix ${prefixes.join(" or ")}: ` +
                        `a workspace may only read its own secrets; move the secret to ${prefixes[0]}<name> and set remoteKey accordingly`,
                );
            }
        };
        list(r.props, "spec", "data").forEach((item, i) => {
            check(`spec.data[${i}].remoteRef.key`, get(item, "remoteRef", "key"), get(item, "sourceRef", "storeRef", "name") ?? mainStore);
        });
        list(r.props, "spec", "dataFrom").forEach((item, i) => {
            if (get(item, "sourceRef", "generatorRef") !== undefined) return; // generated values, no remote key
            const storeName = get(item, "sourceRef", "storeRef", "name") ?? mainStore;
            const extract = get(item, "extract");
            if (extract !== undefined) check(`spec.dataFrom[${i}].extract.key`, get(extract, "key"), storeName);
            const find = get(item, "find");
            if (find !== undefined) {
                const path = get(find, "path");
                if (path === undefined) {
                    report(`${where} uses spec.dataFrom[${i}].find without a path: that searches the whole backend, every workspace's secrets included; set find.path to the workspace prefix or list keys explicitly`);
                } else {
                    check(`spec.dataFrom[${i}].find.path`, path, storeName);
                }
            }
        });
    },
);
