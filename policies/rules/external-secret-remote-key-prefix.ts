import { resourcePolicy } from "../lib/policy";
import { meta } from "../lib/resources";
import { externalSecretSpec, isExternalSecret, remoteKeys } from "../lib/stores";
import { remoteKeyPrefix, tierOfStore, workspaceIdOf } from "../lib/names";

/**
 * One store serves every workspace, so the store's identity can read every
 * workspace's secrets; what keeps workspace A out of workspace B's secrets
 * is that A's ExternalSecrets only ask for keys under A's own prefix, the
 * schema's rule: `x1agent/<id>/` in bind mode on Vault and AWS,
 * `x1agent-<id>-` on GCP and Azure (their names cannot hold '/'), `<id>-`
 * Secret names in Tier 1.
 *
 * A `dataFrom.find` is a search, held to the prefix by its `path`, and only
 * Vault and AWS search by path: ESO's Kubernetes provider ignores find.path
 * and lists every Secret of x1agent-secrets (every workspace's) that matches
 * the name or labels, and GCP/Azure names are not paths. There a find is
 * refused whatever its path says.
 */
/** Tiers whose ESO provider limits a find to `find.path`. */
const pathSearchTiers = new Set(["vault", "aws"]);

export const externalSecretRemoteKeyPrefix = resourcePolicy(
    {
        name: "external-secret-remote-key-prefix",
        family: "secret-scoping",
        description:
            "An ExternalSecret in workspace x1agent-ws-<id> reads only remote keys under that workspace's prefix (Vault/AWS: x1agent/<id>/...; GCP/Azure: x1agent-<id>-...; Tier 1: <id>-...).",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Store the workspace's secrets under its prefix in the backend (x1agent/<id>/anthropic in Vault/AWS, x1agent-<id>-anthropic in GCP/Azure, <id>-anthropic in Tier 1) and set workspaces[].secrets[].remoteKey to it.\n" +
            "2. Replace dataFrom.find without a path (a search of the whole backend) by explicit keys or a find.path under the prefix; in Tier 1, GCP and Azure list the keys explicitly (no find).",
    },
    (r, { report }) => {
        if (!isExternalSecret(r)) return;
        const m = meta(r);
        const id = workspaceIdOf(m.namespace);
        if (id === undefined) return;
        const where = `ExternalSecret ${m.namespace}/${m.name}`;
        for (const { path, key, find, storeName } of remoteKeys(externalSecretSpec(r)?.spec)) {
            const tier = typeof storeName === "string" ? tierOfStore[storeName] : undefined;
            if (find && key === undefined) {
                report(
                    `${where} uses ${path.slice(0, -".path".length)} without a path: that searches the whole backend, every workspace's secrets included; set find.path to the workspace prefix or list keys explicitly`,
                );
                continue;
            }
            if (tier === undefined) continue; // not an x1 store: external-secret-store-allowed reports it
            if (find && !pathSearchTiers.has(tier)) {
                report(
                    `${where} uses ${path.slice(0, -".path".length)} against ${String(storeName)} (tier ${tier}), whose provider does not search by path` +
                        `${tier === "kubernetes" ? " (ESO's Kubernetes provider ignores find.path and lists every Secret in x1agent-secrets, every workspace's)" : ""}: ` +
                        "list the workspace's keys explicitly (data[].remoteRef.key or dataFrom[].extract.key)",
                );
                continue;
            }
            const prefix = remoteKeyPrefix(tier, id);
            const k = String(key ?? "");
            if (!k.startsWith(prefix) || k.split("/").includes("..")) {
                report(
                    `${where} reads '${k}' (${path}) from ${String(storeName)}, outside workspace ${id}'s prefix ${prefix}: ` +
                        `a workspace may only read its own secrets; move the secret to ${prefix}<name> and set remoteKey accordingly`,
                );
            }
        }
    },
);
