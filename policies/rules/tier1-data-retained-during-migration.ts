import { stackPolicy } from "../lib/policy";
import { asKind, meta } from "../lib/resources";
import { declaredTier, x1Stores } from "../lib/stores";
import { migrationFromLabel, names, tierRank } from "../lib/names";
import { migrationTag, parseMigration, parseTierFloor, tierFloorTag } from "../tier-state";

/**
 * Leaving Tier 1 moves secret values out of the `x1agent-secrets` namespace;
 * until someone says the copy is complete, the namespace (and every value in
 * it) must survive every update. A policy never sees the previous deployment,
 * so "a migration is open" comes from the stack tags the deployer records
 * (x1agent:migration, x1agent:tier-floor) and the store label the program
 * sets; "kept" is `protect: true` on the namespace, the one deletion guard
 * the analyzer protocol shows (retainOnDelete is not visible to policies).
 */
export const tier1DataRetainedDuringMigration = stackPolicy(
    {
        name: "tier1-data-retained-during-migration",
        family: "tier-upgrades",
        description: "While a migration away from Tier 1 is not marked done, the x1agent-secrets namespace stays in the program with protect: true.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Keep `secrets.migration: { from: kubernetes }` in the stack config until every workspace secret is copied to the new backend; the program then keeps x1agent-secrets, protected.\n" +
            "2. When the copy is verified, set `secrets.migration.done: true` (the deployer records x1agent:migration=<from>-to-<to>:done; with the CLI: pulumi stack tag set x1agent:migration kubernetes-to-<tier>:done) and run up.\n" +
            "3. Only then remove the namespace from the program.",
    },
    (resources, { report, stackTags }) => {
        const reasons: string[] = [];
        const tag = stackTags.get(migrationTag);
        let done = false;
        if (tag !== undefined) {
            const m = parseMigration(tag);
            if (!m.ok) {
                report(`${m.error}. The migration state cannot be read, so x1agent-secrets is treated as in use`);
                reasons.push(`stack tag ${migrationTag} is unreadable`);
            } else if (m.value.from === "kubernetes") {
                if (m.value.state === "in-progress") reasons.push(`stack tag ${migrationTag}=${tag}`);
                else done = true;
            }
        }
        for (const s of x1Stores(resources)) {
            const from = meta(s.res).labels[migrationFromLabel];
            if (from === "kubernetes" && !done) reasons.push(`ClusterSecretStore ${s.name} label ${migrationFromLabel}=kubernetes`);
        }
        const floorTag = stackTags.get(tierFloorTag);
        const floor = floorTag === undefined ? undefined : parseTierFloor(floorTag);
        const declared = declaredTier(resources);
        if (floor?.ok && floor.value === "kubernetes" && declared && tierRank[declared.tier] > 1 && !done) {
            reasons.push(`the stack last ran Tier 1 (${tierFloorTag}=kubernetes) and now declares tier ${declared.tier}`);
        }
        if (reasons.length === 0) return;

        const ns = resources.find((r) => asKind(r, "core/Namespace")?.metadata?.name === names.secretsNamespace);
        const why = `a migration away from Tier 1 is open (${reasons.join("; ")})`;
        if (!ns) {
            report(
                `Namespace ${names.secretsNamespace} is not in the program, so this update deletes the Tier 1 secret values while ${why}: ` +
                    `keep secrets.migration: { from: kubernetes, done: false } in the stack config so the program keeps the namespace (protected) until the copy is done, then set done: true`,
            );
        } else if (!ns.protect) {
            report(
                `Namespace ${names.secretsNamespace} holds the Tier 1 secret values and ${why}, but it is not protected: ` +
                    "create it with the resource option protect: true while the migration is open (retainOnDelete alone is invisible to this check)",
                ns.urn,
            );
        }
    },
);
