import { guarded, stackPolicy } from "../lib/policy";
import { isKind, meta } from "../lib/resources";
import { externalSecretSpec, isExternalSecret, remoteKeys } from "../lib/stores";
import { names, remoteKeyPrefix, tierOfStore, workspaceIdOf } from "../lib/names";

/**
 * Workspace ids may contain '-', so one workspace's prefix can start another
 * workspace's: Tier 1 keys of workspace `demo` start with `demo-`, which also
 * starts every key of workspace `demo-x` (`demo-x-anthropic`); on GCP and
 * Azure `x1agent-demo-` likewise covers `x1agent-demo-x-`. The prefix rule
 * (external-secret-remote-key-prefix) passes such a key, and the store
 * serves it, so workspace `demo` would read `demo-x`'s secret. A key belongs
 * to the workspace with the longest prefix it starts with; this checks that
 * this is the workspace whose ExternalSecret reads it, among every workspace
 * of the stack. In Tier 1 a key that starts with the name of a
 * ServiceAccount of x1agent-secrets could also be that account's token
 * Secret (anyone who may create Secrets there can make one), so those names
 * are refused too.
 */
export const externalSecretRemoteKeyOwnWorkspace = stackPolicy(
    {
        name: "external-secret-remote-key-own-workspace",
        family: "secret-scoping",
        description:
            "A workspace's remote key is not under the longer prefix of another workspace of the stack (demo's demo-x-key is demo-x's), and no Tier 1 key names a ServiceAccount of x1agent-secrets (its token Secret).",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Rename the secret in the backend so it sits under no other workspace's prefix (e.g. demo-anthropic, not demo-x-anthropic, while a workspace demo-x exists), and set workspaces[].secrets[].remoteKey to it.\n" +
            "2. Or pick workspace ids of which none is another's id followed by '-' (demo and demo-x share keys).\n" +
            `3. In Tier 1, never name a key after a ServiceAccount of ${names.secretsNamespace} (${names.esoReader}...).`,
    },
    (resources, { report }) => {
        const workspaces = new Set<string>();
        const secretsNamespaceAccounts = new Set<string>([names.esoReader]);
        for (const r of resources) {
            guarded(r, report, () => {
                if (isKind(r, "core", "Namespace")) {
                    const id = workspaceIdOf(meta(r).name);
                    if (id !== undefined) workspaces.add(id);
                } else if (isExternalSecret(r)) {
                    const id = workspaceIdOf(meta(r).namespace);
                    if (id !== undefined) workspaces.add(id);
                } else if (isKind(r, "core", "ServiceAccount") && meta(r).namespace === names.secretsNamespace) {
                    secretsNamespaceAccounts.add(meta(r).name);
                }
            });
        }
        for (const r of resources) {
            if (!isExternalSecret(r)) continue;
            guarded(r, report, () => {
                const m = meta(r);
                const id = workspaceIdOf(m.namespace);
                if (id === undefined) return;
                const where = `ExternalSecret ${m.namespace}/${m.name}`;
                for (const { path, key, storeName } of remoteKeys(externalSecretSpec(r)?.spec)) {
                    const tier = typeof storeName === "string" ? tierOfStore[storeName] : undefined;
                    if (tier === undefined || typeof key !== "string") continue; // other policies report these
                    const own = remoteKeyPrefix(tier, id);
                    if (!key.startsWith(own)) continue; // outside its own prefix: external-secret-remote-key-prefix
                    const owner = [...workspaces]
                        .filter((other) => other !== id)
                        .map((other) => ({ other, prefix: remoteKeyPrefix(tier, other) }))
                        .filter(({ prefix }) => prefix.length > own.length && key.startsWith(prefix))
                        .sort((a, b) => b.prefix.length - a.prefix.length)[0];
                    if (owner) {
                        report(
                            `${where} reads '${key}' (${path}) from ${storeName}, which is under workspace ${owner.other}'s prefix ${owner.prefix} (longer than ${id}'s ${own}): ` +
                                `that is ${owner.other}'s secret; keep ${id}'s secrets outside ${owner.prefix} (e.g. ${own}<name> with a name not starting with '${owner.prefix.slice(own.length)}')`,
                            r.urn,
                        );
                    }
                    if (tier === "kubernetes") {
                        const account = [...secretsNamespaceAccounts].find((sa) => key.startsWith(sa));
                        if (account) {
                            report(
                                `${where} reads '${key}' (${path}) from ${storeName}, a name starting with ServiceAccount ${names.secretsNamespace}/${account}, ` +
                                    `which can be that account's token Secret: choose a Tier 1 key (and workspace id) that does not start with ${account}`,
                                r.urn,
                            );
                        }
                    }
                }
            });
        }
    },
);
