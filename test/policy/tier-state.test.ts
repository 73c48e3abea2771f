import { describe, expect, it } from "vitest";
import { formatMigration, migrationTag, parseMigration, parseTierFloor, tagsAfterUp, tagsBeforeRun, tierFloorTag } from "../../policies/tier-state";

describe("stack tags that carry the previous deployment", () => {
    it("round-trips the migration tag and rejects anything else", () => {
        const m = { from: "kubernetes", to: "vault", state: "in-progress" } as const;
        expect(formatMigration(m)).toBe("kubernetes-to-vault:in-progress");
        expect(parseMigration("kubernetes-to-vault:in-progress")).toEqual({ ok: true, value: m });
        expect(parseMigration("kubernetes->vault")).toMatchObject({ ok: false, error: expect.stringContaining("is not <from>-to-<to>:in-progress|done") });
        expect(parseTierFloor("valt")).toMatchObject({ ok: false });
        expect(parseTierFloor("aws")).toEqual({ ok: true, value: "aws" });
    });

    it("opens a migration from config, and closes it only when config says done", () => {
        expect(tagsBeforeRun({}, { tier: "vault", migration: { from: "kubernetes", done: false } })).toEqual({
            [migrationTag]: "kubernetes-to-vault:in-progress",
        });
        const open = { [migrationTag]: "kubernetes-to-vault:in-progress", [tierFloorTag]: "vault" };
        expect(tagsBeforeRun(open, { tier: "vault", migration: { from: "kubernetes", done: false } })).toEqual({});
        expect(tagsBeforeRun(open, { tier: "vault", migration: { from: "kubernetes", done: true } })).toEqual({ [migrationTag]: "kubernetes-to-vault:done" });
    });

    it("never closes an open migration because the config forgot it (the half-done upgrade)", () => {
        expect(tagsBeforeRun({ [migrationTag]: "kubernetes-to-vault:in-progress" }, { tier: "vault" })).toEqual({});
    });

    it("opens a migration implicitly when a stack that ran Tier 1 declares a higher tier", () => {
        expect(tagsBeforeRun({ [tierFloorTag]: "kubernetes" }, { tier: "aws" })).toEqual({ [migrationTag]: "kubernetes-to-aws:in-progress" });
        expect(tagsBeforeRun({ [tierFloorTag]: "kubernetes", [migrationTag]: "kubernetes-to-aws:done" }, { tier: "aws" })).toEqual({});
        expect(tagsBeforeRun({ [tierFloorTag]: "kubernetes" }, { tier: "kubernetes" })).toEqual({});
    });

    it("raises the floor after an up, and lowers it only for an allowed downgrade", () => {
        expect(tagsAfterUp({}, { tier: "kubernetes" })).toEqual({ [tierFloorTag]: "kubernetes" });
        expect(tagsAfterUp({ [tierFloorTag]: "kubernetes" }, { tier: "vault" })).toEqual({ [tierFloorTag]: "vault" });
        expect(tagsAfterUp({ [tierFloorTag]: "vault" }, { tier: "vault" })).toEqual({});
        expect(tagsAfterUp({ [tierFloorTag]: "vault" }, { tier: "kubernetes" })).toEqual({});
        expect(tagsAfterUp({ [tierFloorTag]: "vault" }, { tier: "kubernetes" }, { downgradeAllowed: true })).toEqual({ [tierFloorTag]: "kubernetes" });
        expect(tagsAfterUp({ [tierFloorTag]: "aws" }, { tier: "gcp" })).toEqual({ [tierFloorTag]: "gcp" });
        expect(tagsAfterUp({ [tierFloorTag]: "garbage" }, { tier: "vault" })).toEqual({ [tierFloorTag]: "vault" });
    });
});
