import { guarded, stackPolicy } from "../lib/policy";
import { describe } from "../lib/resources";
import { declaredTier, externalSecretSpec, storeRefs } from "../lib/stores";
import { storeOfTier, tierRank } from "../lib/names";

/**
 * After an upgrade to Tier 2 or 3 is declared, nothing may keep reading the
 * Tier 1 store: every ExternalSecret (and ClusterExternalSecret) points at
 * the new store in the same preview, so the upgrade is never half applied.
 */
export const externalSecretsUseActiveStore = stackPolicy(
    {
        name: "external-secrets-use-active-store",
        family: "tier-upgrades",
        description: "With a Tier 2 or Tier 3 store active, every ExternalSecret references that store and none references x1-local.",
        severity: "high",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Point every ExternalSecret's spec.secretStoreRef (and any data[].sourceRef.storeRef) at the active store named in the message.\n" +
            "2. Move each workspace secret into the new backend under the workspace prefix (x1agent/<id>/...) and set its remoteKey accordingly.\n" +
            "3. Keep x1agent-secrets until the migration is marked done (secrets.migration.done: true).",
    },
    (resources, { report }) => {
        const declared = declaredTier(resources);
        if (!declared || tierRank[declared.tier] < 2) return;
        const active = storeOfTier[declared.tier];
        const legacy = storeOfTier.kubernetes;
        for (const r of resources) {
            guarded(r, report, () => {
                for (const ref of storeRefs(externalSecretSpec(r)?.spec)) {
                    if (ref.name === active) continue;
                    const why = ref.name === legacy ? `still reads the Tier 1 store ${legacy}` : `reads store ${String(ref.name)}`;
                    report(
                        `${describe(r)} ${why} (${ref.path}) but the stack's active store is ${active} (tier ${declared.tier}, from ${declared.source}): ` +
                            `set ${ref.path}.name: ${active} and kind: ClusterSecretStore in the same change as the tier`,
                        r.urn,
                    );
                }
            });
        }
    },
);
