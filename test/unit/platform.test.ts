import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Platform } from "../../components";
import { ofKind, resetRegistered, settled, setupMocks, stackConfig } from "../helpers/mocks";

// Components create nothing at import time, so a static import is safe; the
// mocks only need to be in place before the first resource is constructed.
beforeAll(() => setupMocks());
beforeEach(resetRegistered);

describe("platform under mocks", () => {
    it("Tier 1 gives the x1agent namespace, the x1-local store and the api Deployment", async () => {
        new Platform("x1agent", { config: stackConfig() });
        const all = await settled();
        expect(ofKind(all, "Namespace").map((r) => r.inputs.metadata.name)).toEqual(expect.arrayContaining(["x1agent", "x1agent-secrets"]));
        expect(ofKind(all, "ClusterSecretStore").map((r) => r.inputs.metadata.name)).toEqual(["x1-local"]);
        expect(ofKind(all, "Deployment").map((r) => r.inputs.metadata.name)).toContain("x1agent-api");
    });

    it("Tier 1 reader can read Secrets only in x1agent-secrets", async () => {
        new Platform("x1agent", { config: stackConfig() });
        const all = await settled();
        const roles = ofKind(all, "Role").filter((r) => r.inputs.metadata.name === "eso-reader");
        expect(roles).toHaveLength(1);
        expect(roles[0]!.inputs.metadata.namespace).toBe("x1agent-secrets");
        expect(roles[0]!.inputs.rules).toEqual([{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] }]);
        expect(ofKind(all, "ClusterRole").filter((r) => JSON.stringify(r.inputs.rules ?? []).includes("secrets"))).toEqual([]);
    });

    it("scopes the store to the x1agent namespaces only", async () => {
        new Platform("x1agent", { config: stackConfig() });
        const store = ofKind(await settled(), "ClusterSecretStore")[0]!;
        const regexes: string[] = store.inputs.spec.conditions[0].namespaceRegexes;
        const allowed = (ns: string) => regexes.some((r) => new RegExp(r).test(ns));
        expect(allowed("x1agent")).toBe(true);
        expect(allowed("x1agent-ws-demo")).toBe(true);
        expect(allowed("x1agent-secrets")).toBe(false);
        expect(allowed("kube-system")).toBe(false);
        expect(allowed("default")).toBe(false);
    });
});
