/**
 * What a policy cannot see by itself: the previous deployment. Two stack tags
 * carry it, written on purpose by the deployer (or by hand with
 * `pulumi stack tag set`) and read by the tier-upgrade policies through
 * `stackTags`:
 *
 * - `x1agent:tier-floor` = the highest secrets tier this stack has run
 *   (`kubernetes` < `vault` < `aws`|`gcp`|`azure`). Raised after every
 *   successful `up`; lowered only by an `up` whose downgrade was explicitly
 *   allowed. A preview below the floor fails `secrets-tier-no-downgrade`.
 * - `x1agent:migration` = `<from>-to-<to>:in-progress` or `...:done`, e.g.
 *   `kubernetes-to-vault:in-progress`. Opened when a stack leaves Tier 1
 *   (from `secrets.migration` in config, or implicitly when the floor is
 *   still `kubernetes` and the config names a higher tier), closed only by
 *   `secrets.migration.done: true`. Removing `secrets.migration` from config
 *   never closes it: that is the half-done upgrade the policy exists for.
 *   While open, `tier1-data-retained-during-migration` requires the
 *   `x1agent-secrets` namespace to stay in the program, protected.
 *
 * The functions below compute the tags from the validated config and the
 * current tags (pure, tested) and write them through the Automation API.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { isTier, tierRank, type SecretTier } from "./lib/names";

export const tierFloorTag = "x1agent:tier-floor";
export const migrationTag = "x1agent:migration";

export type MigrationState = "in-progress" | "done";

export interface Migration {
    from: SecretTier;
    to: SecretTier;
    state: MigrationState;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** The part of a stack's validated `secrets` config the tags follow. */
export interface TierSettings {
    tier: SecretTier;
    migration?: { from: SecretTier; done: boolean };
}

export function formatMigration(m: Migration): string {
    return `${m.from}-to-${m.to}:${m.state}`;
}

export function parseMigration(value: string): Parsed<Migration> {
    const m = /^([a-z]+)-to-([a-z]+):(in-progress|done)$/.exec(value.trim());
    if (!m || !isTier(m[1]) || !isTier(m[2])) {
        return {
            ok: false,
            error: `stack tag ${migrationTag} = '${value}' is not <from>-to-<to>:in-progress|done with tiers kubernetes, vault, aws, gcp, azure (e.g. kubernetes-to-vault:in-progress)`,
        };
    }
    return { ok: true, value: { from: m[1], to: m[2], state: m[3] as MigrationState } };
}

export function parseTierFloor(value: string): Parsed<SecretTier> {
    const v = value.trim();
    if (!isTier(v)) {
        return { ok: false, error: `stack tag ${tierFloorTag} = '${value}' is not a secrets tier: write one of kubernetes, vault, aws, gcp, azure` };
    }
    return { ok: true, value: v };
}

/** Tag values to change before a preview or up of `secrets` (only the keys that change). */
export function tagsBeforeRun(current: Readonly<Record<string, string>>, secrets: TierSettings): Record<string, string> {
    const changes: Record<string, string> = {};
    const floorTag = current[tierFloorTag];
    const floor = floorTag === undefined ? undefined : parseTierFloor(floorTag);
    const openTag = current[migrationTag];
    const existing = openTag === undefined ? undefined : parseMigration(openTag);
    let next: Migration | undefined;
    if (secrets.migration) {
        next = { from: secrets.migration.from, to: secrets.tier, state: secrets.migration.done ? "done" : "in-progress" };
    } else if (floor?.ok && floor.value === "kubernetes" && tierRank[secrets.tier] > 1) {
        // Leaving Tier 1 without saying so: the data in x1agent-secrets still has to be kept.
        const same = existing?.ok && existing.value.from === "kubernetes" && existing.value.to === secrets.tier;
        if (!same) next = { from: "kubernetes", to: secrets.tier, state: "in-progress" };
    }
    if (next) {
        const value = formatMigration(next);
        if (value !== openTag) changes[migrationTag] = value;
    }
    return changes;
}

/**
 * Tag values to change after a successful `up` of `secrets`: the floor rises
 * to the deployed tier; it is lowered only when the run's downgrade was
 * explicitly allowed.
 */
export function tagsAfterUp(
    current: Readonly<Record<string, string>>,
    secrets: TierSettings,
    options: { downgradeAllowed?: boolean } = {},
): Record<string, string> {
    const floorTag = current[tierFloorTag];
    const floor = floorTag === undefined ? undefined : parseTierFloor(floorTag);
    const raise = !floor?.ok || tierRank[secrets.tier] >= tierRank[floor.value] || options.downgradeAllowed === true;
    // Same rank, other cloud (aws -> gcp): the floor names the tier now deployed.
    return raise && floorTag !== secrets.tier ? { [tierFloorTag]: secrets.tier } : {};
}

async function writeTags(stack: Stack, changes: Record<string, string>): Promise<Record<string, string>> {
    for (const [key, value] of Object.entries(changes)) await stack.setTag(key, value);
    return changes;
}

/** Records an open or finished tier migration on the stack before a run; returns what changed. */
export async function recordBeforeRun(stack: Stack, secrets: TierSettings): Promise<Record<string, string>> {
    return writeTags(stack, tagsBeforeRun(await stack.listTags(), secrets));
}

/** Records the deployed tier as the stack's floor after a successful `up`; returns what changed. */
export async function recordAfterUp(stack: Stack, secrets: TierSettings, options: { downgradeAllowed?: boolean } = {}): Promise<Record<string, string>> {
    return writeTags(stack, tagsAfterUp(await stack.listTags(), secrets, options));
}
