import { admittedSamples, checkCondition, conditionsAdmit } from "../lib/namespaces";
import { kindPolicy } from "../lib/kind-policy";
import { meta } from "../lib/resources";
import { names, storeNamespaceRegexes, workspaceNamespacePattern } from "../lib/names";

/**
 * A ClusterSecretStore serves every namespace unless its conditions say
 * otherwise; an unscoped x1agent store hands every secret the api can read to
 * any namespace, including kube-system and whatever a tenant creates. The
 * conditions are evaluated against sample names: x1agent and x1agent-ws-*
 * admitted, x1agent-secrets, system and add-on namespaces and near-misses of
 * the prefix refused.
 *
 * Remediation: a store with no conditions at all gets the program's default
 * conditions (the app namespace and workspaces). That only narrows who may
 * use it, and it is exactly what the program writes. Wrong conditions are
 * not rewritten: what the author meant is not knowable.
 */
export const clusterSecretStoreScoped = kindPolicy(
    "external-secrets.io/ClusterSecretStore",
    {
        name: "cluster-secret-store-scoped",
        family: "secret-scoping",
        description:
            "Every ClusterSecretStore has conditions admitting only the x1agent namespace and x1agent-ws-* workspaces, never x1agent-secrets or a system namespace.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            `1. Set spec.conditions: [{ namespaceRegexes: ${JSON.stringify(storeNamespaceRegexes)} }] (the SecretsBackend default).\n` +
            "2. Anchor every regex (^...$); do not use namespaceSelector on labels (anyone who creates a namespace sets its labels).\n" +
            "3. Never admit x1agent-secrets, kube-*, default, or the add-ons' namespaces.",
    },
    (store, r, { report }) => {
        const name = meta(r).name;
        const conditions = store.spec?.conditions ?? [];
        if (conditions.length === 0) {
            report(
                `ClusterSecretStore ${name} has no spec.conditions, so every namespace in the cluster (kube-system, ${names.secretsNamespace}, any tenant's) can read through it: ` +
                    `add conditions: [{ namespaceRegexes: ${JSON.stringify(storeNamespaceRegexes)} }]`,
            );
            return;
        }
        const findings = conditions.flatMap((c, i) => checkCondition(c, i));
        for (const f of findings) {
            report(
                `ClusterSecretStore ${name}: ${f.path} ${f.problem}. Admit only ${names.appNamespace} and x1agent-ws-<id>, e.g. namespaceRegexes ${JSON.stringify(storeNamespaceRegexes)}`,
            );
        }
        if (findings.length === 0) {
            const missing = admittedSamples.filter((ns) => !conditionsAdmit(conditions, ns) && ns !== names.appNamespace);
            if (missing.length === admittedSamples.length - 1) {
                report(
                    `ClusterSecretStore ${name}: the conditions admit no workspace namespace (tried ${missing.join(", ")}), so no workspace can use the store: admit ${workspaceNamespacePattern}`,
                );
            }
        }
    },
    (store, r) => {
        if ((store.spec?.conditions ?? []).length > 0) return undefined;
        // Edit in place: the props carry secret values whose secretness a copy would lose.
        const conditions = [{ namespaceRegexes: [...storeNamespaceRegexes] }];
        if (store.spec === undefined) (r.props as { spec?: { conditions: typeof conditions } }).spec = { conditions };
        else store.spec.conditions = conditions;
        return r.props;
    },
);
