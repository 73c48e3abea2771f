import { stackPolicy } from "../lib/policy";
import { declaredTier } from "../lib/stores";
import { secretTiers, tierRank, type SecretTier } from "../lib/names";
import { parseTierFloor, tierFloorTag } from "../tier-state";

interface Config {
    /** The one tier this run may go down to (a deliberate, per-run override). */
    allowDowngradeTo?: SecretTier;
}

/**
 * Tiers go up (kubernetes -> vault -> cloud). Going back down moves secret
 * values to a weaker store and re-enables capture mode, so it needs an
 * explicit, per-run override. The floor comes from the stack tag
 * `x1agent:tier-floor` (the highest tier deployed so far), which the
 * deployer raises after every successful up.
 */
export const secretsTierNoDowngrade = stackPolicy<Config>(
    {
        name: "secrets-tier-no-downgrade",
        family: "tier-upgrades",
        description:
            "The declared secrets tier is not below the stack's tier floor (stack tag x1agent:tier-floor) unless this run explicitly allows that downgrade.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. If the downgrade is a mistake: set secrets.tier back to the floor's tier (or higher).\n" +
            '2. If it is intended: run this one update with the CLI and policy config {"secrets-tier-no-downgrade": {"allowDowngradeTo": "<tier>"}} ' +
            "(pulumi preview/up --policy-pack-config <file>), then lower the floor: pulumi stack tag set x1agent:tier-floor <tier>. " +
            "The deployer never downgrades (its secrets-tier requests only go up).",
        configSchema: {
            properties: {
                allowDowngradeTo: {
                    type: "string",
                    enum: [...secretTiers],
                    description: "Allow this run to declare exactly this tier below the floor.",
                },
            },
        },
    },
    (resources, { report, stackTags, config }) => {
        const floorTag = stackTags.get(tierFloorTag);
        if (floorTag === undefined) return;
        const floor = parseTierFloor(floorTag);
        if (!floor.ok) {
            report(`${floor.error}; without a readable floor a downgrade cannot be ruled out`);
            return;
        }
        const declared = declaredTier(resources);
        if (!declared || tierRank[declared.tier] >= tierRank[floor.value]) return;
        if (config.allowDowngradeTo === declared.tier) return;
        const override =
            config.allowDowngradeTo === undefined ? "" : ` (this run allows a downgrade to ${config.allowDowngradeTo} only, not to ${declared.tier})`;
        report(
            `secrets tier ${declared.tier} (Tier ${tierRank[declared.tier]}, from ${declared.source}) is below this stack's floor ${floor.value} ` +
                `(Tier ${tierRank[floor.value]}, stack tag ${tierFloorTag})${override}: a downgrade moves secret values to a weaker store. ` +
                `Set secrets.tier back to ${floor.value}, or allow it for this run with policy config {"secrets-tier-no-downgrade": {"allowDowngradeTo": "${declared.tier}"}}`,
        );
    },
);
