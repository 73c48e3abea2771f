import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { listStackNames, projectRoot, readStackFile } from "../../runtime/engine/project";
import { defaultKubernetesVersion } from "../../stacks/schema";
import { validateStackConfig } from "../../stacks/validate";
import { problemsOf } from "./config-problems";

const required = {
    "x1agent:cluster": { provider: "local", name: "x1agent-test" },
    "x1agent:secrets": { tier: "kubernetes" },
    "x1agent:ingress": { host: "x1agent.localtest.me", issuer: { type: "selfSigned" } },
};

describe("stack config", () => {
    it.each(listStackNames())("example stack %s validates", (name) => {
        expect(() => validateStackConfig(name, readStackFile(name).config)).not.toThrow();
    });

    it("ships the five example stacks the design names", () => {
        expect(listStackNames()).toEqual(expect.arrayContaining(["local", "dev", "staging", "prod", "onprem"]));
        const tiers = Object.fromEntries(listStackNames().map((n) => [n, validateStackConfig(n, readStackFile(n).config).secrets.tier]));
        expect(tiers).toMatchObject({ local: "kubernetes", dev: "kubernetes", staging: "gcp", prod: "aws", onprem: "vault" });
    });

    it("reports five different mistakes at once, each naming its key, value and fix", () => {
        const problems = problemsOf({
            "x1agent:cluster": { provider: "eks", name: "x1agent-prod" }, // missing cloud.aws
            "x1agent:secrets": { tier: "valt" }, // typo
            "x1agent:ingress": { host: "https://x1agent.example.com" }, // scheme in host
            "x1agent:postgres": { bundled: { enabled: false } }, // no connection
            "x1agent:nats": { replicas: 2 }, // even cluster
        });
        const keys = problems.map((p) => p.key);
        expect(keys).toEqual(
            expect.arrayContaining(["x1agent:cloud.aws", "x1agent:secrets.tier", "x1agent:ingress.host", "x1agent:postgres", "x1agent:nats.replicas"]),
        );
        const tier = problems.find((p) => p.key === "x1agent:secrets.tier")!;
        expect(tier.value).toBe('"valt"');
        expect(tier.message).toMatch(/kubernetes, vault, aws, gcp, azure/);
        expect(problems.find((p) => p.key === "x1agent:postgres")!.message).toMatch(/postgres\.urlFile or postgres\.url/);
    });

    it("derives uiMode and the store from the tier", () => {
        const tier1 = validateStackConfig("t", required);
        expect(tier1.secrets).toMatchObject({ uiMode: "capture", storeName: "x1-local" });
        const vault = validateStackConfig("t", {
            ...required,
            "x1agent:secrets": { tier: "vault", vault: { server: "https://vault.example.com" } },
        });
        expect(vault.secrets).toMatchObject({ uiMode: "bind", storeName: "x1-vault" });
    });

    it("refuses capture mode outside Tier 1", () => {
        const problems = problemsOf({ ...required, "x1agent:secrets": { tier: "vault", uiMode: "capture", vault: { server: "https://v.example.com" } } });
        expect(problems).toEqual([expect.objectContaining({ key: "x1agent:secrets.uiMode", message: expect.stringMatching(/must be bind/) })]);
    });

    it("allows a Tier 3 backend only on the matching cloud", () => {
        const problems = problemsOf({ ...required, "x1agent:secrets": { tier: "aws" } });
        expect(problems).toEqual([
            expect.objectContaining({ key: "x1agent:secrets.tier", message: expect.stringMatching(/needs cluster.provider eks .*use kubernetes or vault/) }),
        ]);
    });

    it("follows the connection precedence urlFile > url > bundled", () => {
        const both = validateStackConfig("t", {
            ...required,
            "x1agent:postgres": { url: { secretName: "db", key: "url" }, urlFile: { secretName: "db-file", key: "url" } },
        });
        expect(both.postgres.connection).toBe("urlFile");
        const url = validateStackConfig("t", { ...required, "x1agent:postgres": { url: { secretName: "db" } } });
        expect(url.postgres.connection).toBe("url");
        expect(validateStackConfig("t", required).postgres.connection).toBe("bundled");
    });

    it("never echoes a secret value it rejects", () => {
        const problems = problemsOf({ ...required, "x1agent:postgres": { url: "postgres://admin:hunter2@db:5432/x1" } });
        expect(problems).toHaveLength(1);
        expect(JSON.stringify(problems)).not.toContain("hunter2");
        expect(problems[0]!.message).toMatch(/must name a Kubernetes Secret/);
    });

    it("suggests the key a typo meant", () => {
        const problems = problemsOf({ ...required, "x1agent:workspace": [] });
        expect(problems[0]!.message).toMatch(/did you mean 'workspaces'/);
    });

    it("reads JSON strings the way the Pulumi runtime passes config", () => {
        const raw = Object.fromEntries(Object.entries(required).map(([k, v]) => [k, JSON.stringify(v)]));
        expect(validateStackConfig("t", raw).cluster.name).toBe("x1agent-test");
    });

    it("rejects duplicate workspace ids", () => {
        const problems = problemsOf({ ...required, "x1agent:workspaces": [{ id: "a" }, { id: "a" }] });
        expect(problems).toEqual([expect.objectContaining({ key: "x1agent:workspaces[1].id" })]);
    });

    it("still finds a duplicate workspace id when an unrelated workspace is invalid", () => {
        const problems = problemsOf({ ...required, "x1agent:workspaces": [{ id: "a" }, { id: "b", quota: { pods: 0 } }, { id: "a" }] });
        expect(problems.map((p) => p.key)).toEqual(["x1agent:workspaces[1].quota.pods", "x1agent:workspaces[2].id"]);
        expect(problems[1]!.message).toMatch(/duplicates workspaces\[0\]\.id/);
    });

    it("still compares api.replicas with its HPA range when another api key is invalid", () => {
        const problems = problemsOf({
            ...required,
            "x1agent:api": { replicas: 9, terminationGracePeriodSeconds: 1, hpa: { enabled: true, minReplicas: 2, maxReplicas: 4 } },
        });
        expect(problems.map((p) => [p.key, p.message])).toEqual([
            ["x1agent:api.terminationGracePeriodSeconds", "must be at least 5: write a number >= 5"],
            ["x1agent:api.replicas", "9 is outside api.hpa 2..4; the HPA owns the count: set replicas within that range (it is the starting size)"],
        ]);
    });

    it("cluster.kubernetesVersion: a version Helm can render for, only where the stack renders; by default the local control plane's", () => {
        const cluster = (extra: Record<string, unknown>) =>
            problemsOf({ ...required, "x1agent:cluster": { provider: "local", name: "x1agent-test", ...extra } });
        expect(cluster({ kubernetesVersion: "1.36" }).map((p) => [p.key, p.value, p.message])).toEqual([
            [
                "x1agent:cluster.kubernetesVersion",
                '"1.36"',
                "must be a Kubernetes version major.minor.patch such as 1.36.3 (the version of the cluster the manifests are for)",
            ],
        ]);
        expect(cluster({ kubernetesVersion: "1.31.4" })).toEqual([]);
        expect(cluster({ kubernetesVersion: "v1.30.4-eks-a737599" })).toEqual([]);
        expect(cluster({ kubeconfig: ".x1/cluster/kubeconfig", kubernetesVersion: "1.31.4" }).map((p) => [p.key, p.message])).toEqual([
            [
                "x1agent:cluster.kubernetesVersion",
                "only applies when rendering to a folder, but cluster.kubeconfig is set and Helm renders for that cluster's own version: " +
                    "remove cluster.kubernetesVersion, or remove cluster.kubeconfig to render",
            ],
        ]);
        // The default is the version of the control plane the toolchain builds (scripts/cluster.sh runs it).
        const goMod = readFileSync(path.join(projectRoot, "toolchain", "kube-control-plane", "go.mod"), "utf8");
        expect(`v${defaultKubernetesVersion}`).toBe(/^require k8s\.io\/kubernetes (v\S+)$/m.exec(goMod)?.[1]);
    });

    it("says what to write for every mistake, never a validator's own words", () => {
        const problems = problemsOf({
            ...required,
            "x1agent:cluster": { provider: "local", name: "x1agent-test", kubeContext: "" },
            "x1agent:api": { replicas: -1, hpa: { enabled: true, minReplicas: 0, targetCPUUtilization: 150 } },
            "x1agent:postgres": { bundled: { instances: 9 }, maxConnections: 0 },
            "x1agent:cronJobs": [{ name: "vacuum", schedule: "0 4 * * *", args: [] }],
            "x1agent:workspaces": [{ id: "a", secrets: [{ name: "Bad Name", remoteKey: "" }] }],
            "x1agent:observability": { otlpEndpoint: "the collector" },
            "x1agent:sessions": { admissionPolicy: "yes" },
        });
        const byKey = Object.fromEntries(problems.map((p) => [p.key, p.message]));
        expect(byKey).toMatchObject({
            "x1agent:cluster.kubeContext": "must not be empty: write a value, or remove the key to take the default",
            "x1agent:api.replicas": "must be at least 0: write a number >= 0",
            "x1agent:api.hpa.targetCPUUtilization": "must be at most 100: write a number <= 100",
            "x1agent:postgres.bundled.instances": "must be at most 5: write a number <= 5",
            "x1agent:cronJobs[0].args": "must list at least one entry",
            "x1agent:observability.otlpEndpoint": "must be a URL with its scheme, such as https://host.example.com",
            "x1agent:sessions.admissionPolicy": "must be true or false, not a string",
        });
        expect(byKey["x1agent:workspaces[0].secrets[0].name"]).toMatch(/^must be a Kubernetes Secret name/);
        // zod's defaults read "Too small: expected number to be >=1", "Invalid URL", "Invalid input: ...".
        for (const p of problems) expect(p.message, p.key).not.toMatch(/^(Too (small|big)|Invalid)\b/);
    });
});
