import { resourcePolicy } from "../lib/policy";
import { describe } from "../lib/resources";
import { externalSecretSpec, refKind, storeRefs } from "../lib/stores";
import { storeOfTier } from "../lib/names";

interface Config {
    /** ClusterSecretStore names ExternalSecrets may reference. */
    allowedStores: string[];
}

/**
 * An ExternalSecret reads through one of the x1agent ClusterSecretStores,
 * whose conditions and identity this pack checks. A namespaced SecretStore
 * (ESO's default when `kind` is omitted) or an unknown store carries its own
 * credentials and scope that nothing here reviews, and so does a generator
 * (`dataFrom[].sourceRef.generatorRef`): ECR/STS/GCR tokens minted with
 * ESO's own identity, a Webhook fetched from ESO's network position, any
 * Vault path (see eso-kind-allowed).
 */
export const externalSecretStoreAllowed = resourcePolicy<Config>(
    {
        name: "external-secret-store-allowed",
        family: "secret-scoping",
        description: `ExternalSecrets reference only the x1agent ClusterSecretStores (${Object.values(storeOfTier).join(", ")}), with kind: ClusterSecretStore, and no generator.`,
        severity: "high",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Set spec.secretStoreRef to { kind: ClusterSecretStore, name: <the stack's store> } (ESO defaults an omitted kind to the namespaced SecretStore).\n" +
            "2. Do not create SecretStores in workspaces; add a store to allowedStores in this policy's config only after reviewing its scope and identity.\n" +
            "3. Remove dataFrom[].sourceRef.generatorRef: a generator runs with ESO's identity or credentials no policy reviews.",
        configSchema: {
            properties: {
                allowedStores: {
                    type: "array",
                    items: { type: "string" },
                    default: Object.values(storeOfTier),
                    description: "ClusterSecretStore names ExternalSecrets may reference.",
                },
            },
        },
    },
    (r, { report, config }) => {
        const es = externalSecretSpec(r);
        if (!es) return;
        const { spec, at } = es;
        const where = describe(r);
        const refs = storeRefs(spec);
        if (refs.length === 0) {
            report(`${where} names no store: set spec.secretStoreRef: { kind: ClusterSecretStore, name: <one of ${config.allowedStores.join(", ")}> }`);
        }
        (spec?.dataFrom ?? []).forEach((item, i) => {
            const gen = item.sourceRef?.generatorRef;
            if (gen === undefined) return;
            report(
                `${where} takes ${at}.dataFrom[${i}] from generator ${gen.kind} ${gen.name}: ` +
                    `a generator acts with ESO's identity or credentials nothing here reviews; read the value from ${config.allowedStores.join(", ")} instead`,
            );
        });
        for (const ref of refs) {
            const kind = refKind(ref.kind);
            if (kind !== "ClusterSecretStore") {
                report(
                    `${where} references a ${kind}${ref.kind === undefined ? " (ESO's default when kind is omitted)" : ""} at ${ref.path}: ` +
                        `x1agent secrets come only from the ClusterSecretStores ${config.allowedStores.join(", ")}; set kind: ClusterSecretStore`,
                );
            } else if (typeof ref.name !== "string" || !config.allowedStores.includes(ref.name)) {
                report(
                    `${where} references ClusterSecretStore ${String(ref.name)} at ${ref.path}, which is not an x1agent store: use one of ${config.allowedStores.join(", ")}`,
                );
            }
        }
    },
);
