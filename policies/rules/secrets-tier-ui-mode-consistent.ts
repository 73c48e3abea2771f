import { guarded, stackPolicy } from "../lib/policy";
import { asKind, describe, get, workloadOf } from "../lib/resources";
import { declaredTier, platformResource, stackResource, x1Stores } from "../lib/stores";
import { storeOfTier, tierLabel, uiModeOf } from "../lib/names";

/**
 * The declared tier and everything that follows from it agree: capture mode
 * only in Tier 1, bind mode otherwise, the store named for its tier, and the
 * api told the same store and mode the stack exports.
 */
export const secretsTierUiModeConsistent = stackPolicy(
    {
        name: "secrets-tier-ui-mode-consistent",
        family: "tier-upgrades",
        description: "The declared secrets tier, its store (which exists) and the UI mode agree: capture only in Tier 1 (kubernetes), bind in Tiers 2 and 3.",
        severity: "high",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Set only `secrets.tier` in the stack config; uiMode and the store name are derived from it (remove a stale `secrets.uiMode`).\n" +
            `2. Keep the store's \`${tierLabel}\` label, its name (${Object.values(storeOfTier).join(", ")}) and the api's X1AGENT_SECRETS_STORE / X1AGENT_SECRETS_UI_MODE env in step: they all come from the same config.`,
    },
    (resources, { report }) => {
        const declared = declaredTier(resources);
        if (!declared) return;
        const { tier } = declared;
        const mode = uiModeOf(tier);
        const store = storeOfTier[tier];
        if (!declared.store) {
            report(
                `${declared.source} declares tier ${tier} but the program has no ClusterSecretStore ${store}: the new store must exist in the same update that declares the tier`,
            );
        }
        for (const s of x1Stores(resources)) {
            const expected = s.tier ? storeOfTier[s.tier] : undefined;
            if (expected && s.name !== expected) {
                report(
                    `ClusterSecretStore ${s.name} is labelled ${tierLabel}=${s.tier}, whose store is ${expected}: rename it ${expected} or fix the label`,
                    s.res.urn,
                );
            }
        }
        for (const [res, what] of [
            [platformResource(resources), "Platform output"],
            [stackResource(resources), "stack output"],
        ] as const) {
            if (!res) continue;
            guarded(res, report, () => {
                const outMode = get(res.props, "uiMode");
                if (outMode !== undefined && outMode !== mode) {
                    report(
                        mode === "bind"
                            ? `${what} uiMode is ${String(outMode)} but the secrets tier is ${tier}: capture mode exists only in Tier 1 (kubernetes); tier ${tier} must run in bind mode (remove secrets.uiMode or write uiMode: bind)`
                            : `${what} uiMode is ${String(outMode)} but the secrets tier is kubernetes (Tier 1), which runs in capture mode: remove secrets.uiMode or write uiMode: capture`,
                        res.urn,
                    );
                }
                const outStore = get(res.props, "storeName");
                if (outStore !== undefined && outStore !== store) {
                    report(
                        `${what} storeName is ${String(outStore)} but tier ${tier} uses store ${store}: every ExternalSecret and the api must use ${store}`,
                        res.urn,
                    );
                }
                const outTier = get(res.props, "tier");
                if (outTier !== undefined && outTier !== tier) {
                    report(
                        `${what} tier is ${String(outTier)} but ${declared.source} declares ${tier}: the tier, its store and the api must change together`,
                        res.urn,
                    );
                }
            });
        }
        const watched = new Set(["X1AGENT_SECRETS_UI_MODE", "X1AGENT_SECRETS_STORE"]);
        for (const r of resources) {
            guarded(r, report, () => {
                // Only the two watched names are read: other env values may be unknown and are none of this policy's business.
                const envs: { where: string; name: string; value: () => unknown }[] = [];
                const workload = workloadOf(r);
                const configMap = asKind(r, "core/ConfigMap");
                if (workload) {
                    for (const { c } of workload.containers) {
                        for (const e of c.env ?? []) {
                            if (watched.has(e.name)) envs.push({ where: `${workload.id} container ${c.name}`, name: e.name, value: () => e.value });
                        }
                    }
                } else if (configMap) {
                    const data = configMap.data ?? {};
                    for (const key of watched) if (key in data) envs.push({ where: describe(r), name: key, value: () => data[key] });
                }
                for (const e of envs) {
                    const value = e.value();
                    if (value === undefined) continue;
                    if (e.name === "X1AGENT_SECRETS_UI_MODE" && value !== mode) {
                        report(
                            `${e.where} sets X1AGENT_SECRETS_UI_MODE=${String(value)} but tier ${tier} runs in ${mode} mode (capture only in Tier 1): take the value from the derived secrets.uiMode`,
                            r.urn,
                        );
                    }
                    if (e.name === "X1AGENT_SECRETS_STORE" && value !== store) {
                        report(
                            `${e.where} sets X1AGENT_SECRETS_STORE=${String(value)} but tier ${tier} uses store ${store}: take the value from the derived secrets.storeName`,
                            r.urn,
                        );
                    }
                }
            });
        }
    },
);
