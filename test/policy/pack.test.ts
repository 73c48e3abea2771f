import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { allPolicies, policyFactories } from "../../policies/rules";

const policies = allPolicies();

describe("the pack as a whole", () => {
    it("has at least 18 policies with unique kebab-case names", () => {
        expect(policies.length).toBeGreaterThanOrEqual(18);
        const names = policies.map((p) => p.name);
        expect(new Set(names).size).toBe(names.length);
        for (const n of names) expect(n).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    });

    it.each(policies.map((p) => [p.name, p] as const))("%s declares description, severity, remediation steps and a default level", (_, p) => {
        expect(p.description.length).toBeGreaterThan(20);
        expect(["low", "medium", "high", "critical"]).toContain(p.severity);
        expect(p.remediationSteps).toMatch(/^1\. /);
        expect(["advisory", "mandatory", "remediate", "disabled"]).toContain(p.enforcementLevel);
        expect(p.meta.family).toMatch(/^(tier-upgrades|secret-scoping|no-plaintext-secrets|production-checklist)$/);
        // The SDK refuses an enforcementLevel property in a config schema: it is always overridable.
        expect(p.configSchema?.properties?.enforcementLevel).toBeUndefined();
    });

    it("every factory takes an enforcement-level override (other packs, tests)", () => {
        for (const make of policyFactories) expect(make({ enforcementLevel: "advisory" }).enforcementLevel).toBe("advisory");
    });

    it("docs/policies.md lists every policy with its severity", () => {
        const doc = readFileSync(path.join(__dirname, "..", "..", "docs", "policies.md"), "utf8");
        for (const p of policies) {
            expect(doc, `docs/policies.md lacks ${p.name}`).toContain(`\`${p.name}\``);
            const row = doc.split("\n").find((l) => l.startsWith(`| \`${p.name}\``));
            expect(row, `docs/policies.md has no table row for ${p.name}`).toBeDefined();
            expect(row).toContain(p.severity);
        }
    });
});
