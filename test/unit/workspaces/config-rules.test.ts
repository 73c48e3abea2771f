import { describe, expect, it } from "vitest";
import { ConfigError, validateStackConfig } from "../../../stacks/validate";

const base = {
    "x1agent:cluster": { provider: "local", name: "unit" },
    "x1agent:ingress": { host: "x1agent.localtest.me", issuer: { type: "selfSigned" } },
};

function problems(raw: Record<string, unknown>) {
    try {
        validateStackConfig("unit", { ...base, ...raw });
        return [];
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
}

const ws = (remoteKey: string) => [{ id: "demo", secrets: [{ name: "anthropic", remoteKey }] }];

describe("workspace secret keys stay inside the workspace", () => {
    it.each([
        ["kubernetes", {}, "demo-anthropic", true],
        ["kubernetes", {}, "other-anthropic", false],
        ["kubernetes", {}, "x1agent/demo/anthropic", false],
        ["vault", { vault: { server: "https://vault.example.com" } }, "x1agent/demo/anthropic", true],
        ["vault", { vault: { server: "https://vault.example.com" } }, "x1agent/other/anthropic", false],
        ["vault", { vault: { server: "https://vault.example.com" } }, "x1agent/demo-evil/anthropic", false],
        ["vault", { vault: { server: "https://vault.example.com" } }, "secret/anthropic", false],
    ] as const)("tier %s, remoteKey %s: accepted=%s", (tier, extra, remoteKey, ok) => {
        const found = problems({ "x1agent:secrets": { tier, ...extra }, "x1agent:workspaces": ws(remoteKey) });
        if (ok) expect(found).toEqual([]);
        else expect(found).toEqual([expect.objectContaining({ key: "x1agent:workspaces[0].secrets[0].remoteKey" })]);
    });

    it("says which prefix to use in bind mode", () => {
        const [p] = problems({
            "x1agent:secrets": { tier: "vault", vault: { server: "https://vault.example.com" } },
            "x1agent:workspaces": ws("shared/anthropic"),
        });
        expect(p!.message).toContain("must sit under this workspace's prefix x1agent/demo/");
        expect(p!.message).toContain("write x1agent/demo/anthropic");
    });

    it("uses x1agent-<id>- where names cannot hold '/' (GCP Secret Manager)", () => {
        const raw = {
            "x1agent:cluster": { provider: "gke", name: "unit" },
            "x1agent:cloud": { gcp: { project: "x1agent-unit", region: "europe-west1" } },
            "x1agent:secrets": { tier: "gcp" },
        };
        expect(problems({ ...raw, "x1agent:workspaces": ws("x1agent-demo-anthropic") })).toEqual([]);
        const [p] = problems({ ...raw, "x1agent:workspaces": ws("x1agent/demo/anthropic") });
        expect(p!.message).toContain("x1agent-demo-");
    });
});

describe("other workspace and runtime rules", () => {
    it("refuses LimitRange defaults that no quota could admit", () => {
        const found = problems({
            "x1agent:secrets": { tier: "kubernetes" },
            "x1agent:workspaces": [{ id: "small", quota: { cpu: "500m", memory: "512Mi", pods: 2 } }],
        });
        expect(found.map((p) => p.key)).toEqual(["x1agent:workspaces[0].limits.default.cpu", "x1agent:workspaces[0].limits.default.memory"]);
        expect(found[0]!.message).toContain("exceeds the workspace quota cpu 500m");
    });

    it("requires an age recipient for the Tier 1 secrets backup", () => {
        const [p] = problems({ "x1agent:secrets": { tier: "kubernetes" }, "x1agent:backup": { enabled: true } });
        expect(p!.key).toBe("x1agent:backup.secretsRecipient");
    });

    it("keeps the api's replica count within its HPA", () => {
        const [p] = problems({
            "x1agent:secrets": { tier: "kubernetes" },
            "x1agent:api": { replicas: 1, hpa: { enabled: true, minReplicas: 2, maxReplicas: 4 } },
        });
        expect(p!.key).toBe("x1agent:api.replicas");
    });

    it("refuses two maintenance jobs with one name", () => {
        const job = { name: "vacuum", schedule: "0 4 * * *", args: ["vacuum"] };
        const [p] = problems({ "x1agent:secrets": { tier: "kubernetes" }, "x1agent:cronJobs": [job, job] });
        expect(p!.key).toBe("x1agent:cronJobs[1].name");
    });
});
