import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { prodLike } from "../../runtime/deployer/core/approvals";
import { atLeast, parseGroupRoles, rolesOfGroups } from "../../runtime/deployer/core/roles";
import { readSettings } from "../../runtime/deployer/server";
import { revisionOf } from "../../runtime/deployer/store/stack-files";
import { projectRoot } from "../../runtime/engine/project";

const stackText = (stack: string) => readFileSync(path.join(projectRoot, "stacks", `Pulumi.${stack}.yaml`), "utf8");

describe("deployer roles", () => {
    it("orders roles: each includes the ones before it", () => {
        expect(atLeast("admin", "approver")).toBe(true);
        expect(atLeast("approver", "operator")).toBe(true);
        expect(atLeast("operator", "approver")).toBe(false);
        expect(atLeast(undefined, "viewer")).toBe(false);
    });

    it("maps OIDC groups to team roles through X1_OIDC_GROUP_ROLES; the highest role wins; unlisted groups grant nothing", () => {
        const mapping = parseGroupRoles("shop-devs=shop:operator, shop-leads=shop:approver,shop-leads=pay:viewer");
        expect(rolesOfGroups(["shop-devs", "shop-leads", "everyone"], mapping)).toEqual({ shop: "approver", pay: "viewer" });
        // Without a mapping every group is a team with the operator role, as before roles existed.
        expect(rolesOfGroups(["shop", "pay"], undefined)).toEqual({ shop: "operator", pay: "operator" });
    });

    it("refuses a group mapping it cannot read, naming the entry and the fix", () => {
        expect(() => parseGroupRoles("shop-devs:operator")).toThrow(
            "X1_OIDC_GROUP_ROLES entry 'shop-devs:operator' is not group=team:role (e.g. payments-leads=payments:approver)",
        );
        expect(() => parseGroupRoles("shop-devs=shop:owner")).toThrow(
            "X1_OIDC_GROUP_ROLES entry 'shop-devs=shop:owner': role 'owner' is not one of viewer, operator, approver, admin",
        );
        expect(() => readSettings({ X1_OIDC_GROUP_ROLES: "a=b" })).toThrow(/X1_OIDC_GROUP_ROLES: X1_OIDC_GROUP_ROLES entry 'a=b' is not group=team:role/);
    });
});

describe("prod-like stacks (gated by default)", () => {
    it("are those whose name or cluster.name has the word prod or production", () => {
        expect(prodLike("prod", stackText("prod"))).toBe(true);
        for (const stack of ["dev", "staging", "local", "render", "onprem"]) expect(prodLike(stack, stackText(stack)), stack).toBe(false);
        // A copy of prod under another name is still on the prod cluster.
        expect(prodLike("payments", stackText("prod"))).toBe(true);
        expect(prodLike("payments-prod", stackText("render"))).toBe(true);
        expect(prodLike("production.eu", stackText("render"))).toBe(true);
        // A word, not a substring.
        expect(prodLike("product-demo", stackText("render"))).toBe(false);
        // A file that does not parse: the name alone decides.
        expect(prodLike("shop-prod", "config: [")).toBe(true);
    });
});

describe("stack file revisions", () => {
    it("ignore the salt the engine appends to a new stack's file (a blank line, then encryptionsalt), so a preview's revision still holds", () => {
        const created = "# Created by the x1agent deployer.\nconfig:\n  x1agent:secrets:\n    tier: kubernetes\n";
        const afterInit = `${created}\nencryptionsalt: v1:eWXsUGbTIr0=:v1:1pXXy9C2S70hdP2Z:uRiO92fPJTGUu97hMRRacOJFD3rUiQ==\n`;
        expect(revisionOf(afterInit)).toBe(revisionOf(created));
        expect(revisionOf(created.replace("kubernetes", "vault"))).not.toBe(revisionOf(created));
    });
});
