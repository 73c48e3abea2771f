/**
 * The runtime through the real engine and Kubernetes provider: the render
 * stack (the local platform without a cluster) renders every runtime object,
 * and a 10-workspace variant renders ten isolated workspaces. Asserts on the
 * manifests the provider wrote, not on program inputs.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stacksDir } from "../../runtime/engine/project";
import { runOperation } from "../../runtime/engine/stack-runner";
import { type EngineSandbox, engineSandbox, renderedFiles } from "../helpers/engine";

type Manifest = {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
    spec?: any;
    [k: string]: any;
};

let sandbox: EngineSandbox;
beforeAll(async () => {
    sandbox = await engineSandbox("runtime");
});
afterAll(() => sandbox.cleanup());

function manifests(dir: string): Manifest[] {
    return renderedFiles(dir).flatMap((f) =>
        parseAllDocuments(f.text)
            .map((d) => d.toJS() as Manifest)
            .filter((m) => m?.kind),
    );
}
const kindsOf = (ms: Manifest[]) => ms.reduce<Record<string, number>>((acc, m) => ({ ...acc, [m.kind]: (acc[m.kind] ?? 0) + 1 }), {});
const find = (ms: Manifest[], kind: string, name: string, namespace?: string) =>
    ms.find((m) => m.kind === kind && m.metadata.name === name && (namespace === undefined || m.metadata.namespace === namespace));

function checkHardened(ms: Manifest[]) {
    const pods = [
        ...ms.filter((m) => m.kind === "Deployment").map((m) => [m.metadata.name, m.spec.template.spec] as const),
        ...ms.filter((m) => m.kind === "CronJob").map((m) => [m.metadata.name, m.spec.jobTemplate.spec.template.spec] as const),
    ];
    expect(pods.length).toBeGreaterThanOrEqual(2);
    for (const [name, pod] of pods) {
        expect(pod.securityContext.runAsNonRoot, name).toBe(true);
        for (const c of pod.containers) {
            expect(c.securityContext, name).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
        }
    }
}

describe("the render stack renders the whole runtime", () => {
    const dir = () => path.join(sandbox.renderRoot, "render");

    it("up writes the runtime's manifests through the real provider", async () => {
        const result = await runOperation("render", "up");
        const ms = manifests(dir());
        const kinds = kindsOf(ms);
        console.log(`[engine tier] up render: ${result.counts.create} resources created, ${ms.length} manifests: ${JSON.stringify(kinds)}`);

        expect(find(ms, "Namespace", "x1agent")?.metadata).toMatchObject({ labels: { "pod-security.kubernetes.io/enforce": "restricted" } });
        for (const name of ["x1agent-api", "x1agent-app"]) {
            expect(find(ms, "Deployment", name, "x1agent"), name).toBeDefined();
            expect(find(ms, "Service", name, "x1agent"), name).toBeDefined();
        }
        expect(find(ms, "ConfigMap", "x1agent-config", "x1agent")?.data.X1AGENT_SECRETS_STORE).toBe("x1-local");
        expect(find(ms, "Ingress", "x1agent", "x1agent")?.spec.tls[0].secretName).toBe("x1agent-tls");
        expect(ms.filter((m) => m.kind === "NetworkPolicy" && m.metadata.namespace === "x1agent").length).toBeGreaterThanOrEqual(6);
        // The demo workspace, isolated, with its ExternalSecret against the Tier 1 store.
        expect(find(ms, "Namespace", "x1agent-ws-demo")).toBeDefined();
        expect(find(ms, "NetworkPolicy", "default-deny", "x1agent-ws-demo")?.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        expect(find(ms, "ResourceQuota", "x1agent-workspace", "x1agent-ws-demo")).toBeDefined();
        expect(find(ms, "ExternalSecret", "anthropic", "x1agent-ws-demo")?.spec.secretStoreRef).toEqual({ kind: "ClusterSecretStore", name: "x1-local" });
        expect(find(ms, "ValidatingAdmissionPolicy", "x1agent-session-pods")).toBeDefined();
        checkHardened(ms);

        // The pod template's checksum annotations reach the rendered manifest.
        const api = find(ms, "Deployment", "x1agent-api", "x1agent")!;
        expect(api.spec.template.metadata.annotations["x1agent.dev/config-checksum"]).toMatch(/^[0-9a-f]{64}$/);
        expect(result.outputs).toMatchObject({
            url: "https://x1agent.localtest.me",
            tier: "kubernetes",
            storeName: "x1-local",
            workspaceNamespaces: ["x1agent-ws-demo"],
        });
    });

    it("destroy removes it again", async () => {
        const result = await runOperation("render", "destroy");
        expect(result.counts.delete).toBeGreaterThan(20);
        expect(renderedFiles(dir())).toEqual([]);
    });
});

describe("a stack with ten workspaces", () => {
    const stack = "engine-ws10";
    const file = path.join(stacksDir, `Pulumi.${stack}.yaml`);
    const dir = () => path.join(sandbox.renderRoot, stack);
    const passphrase = process.env.PULUMI_CONFIG_PASSPHRASE;

    beforeAll(() => {
        // The render stack's config with ten workspaces and every optional workload (worker, a maintenance
        // job, backups); a passphrase of its own (it holds no secret values).
        process.env.PULUMI_CONFIG_PASSPHRASE = "x1agent-engine-ws10";
        const local = parse(readFileSync(path.join(stacksDir, "Pulumi.render.yaml"), "utf8"));
        // The render stack's salt belongs to its own passphrase.
        delete local.encryptionsalt;
        local.config["x1agent:api"] = { replicas: 3 };
        local.config["x1agent:worker"] = { enabled: true };
        local.config["x1agent:cronJobs"] = [{ name: "session-gc", schedule: "*/15 * * * *", args: ["maintenance", "gc-sessions"] }];
        local.config["x1agent:backup"] = { enabled: true, secretsRecipient: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p" };
        local.config["x1agent:workspaces"] = Array.from({ length: 10 }, (_, i) => ({
            id: `team-${i}`,
            egressCidrs: i % 2 ? ["10.0.0.0/8"] : [],
            secrets: [{ name: "anthropic", remoteKey: `team-${i}-anthropic` }],
        }));
        writeFileSync(file, `# Temporary: written by test/engine/runtime.test.ts, removed after it.\n${JSON.stringify(local, null, 2)}\n`);
    });
    afterAll(async () => {
        try {
            await runOperation(stack, "destroy");
        } finally {
            rmSync(file, { force: true });
            if (passphrase === undefined) delete process.env.PULUMI_CONFIG_PASSPHRASE;
            else process.env.PULUMI_CONFIG_PASSPHRASE = passphrase;
        }
    });

    it("renders ten isolated workspaces beside the runtime", async () => {
        const result = await runOperation(stack, "up");
        const ms = manifests(dir());
        console.log(`[engine tier] up ${stack}: ${result.counts.create} resources created, ${ms.length} manifests: ${JSON.stringify(kindsOf(ms))}`);
        const namespaces = ms.filter((m) => m.kind === "Namespace" && m.metadata.name.startsWith("x1agent-ws-")).map((m) => m.metadata.name);
        expect(namespaces.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `x1agent-ws-team-${i}`).sort());
        for (const ns of namespaces) {
            expect(find(ms, "NetworkPolicy", "default-deny", ns), ns).toBeDefined();
            expect(
                find(ms, "Role", "x1agent-api-sessions", ns)?.rules.flatMap((r: { resources: string[] }) => r.resources),
                ns,
            ).not.toContain("secrets");
            expect(find(ms, "ExternalSecret", "anthropic", ns)?.spec.dataFrom[0].extract.key, ns).toBe(`${ns.replace("x1agent-ws-", "")}-anthropic`);
        }
        expect(result.outputs.workspaceNamespaces).toHaveLength(10);
        for (const [kind, name] of [
            ["Lease", "x1agent-api-leader"],
            ["PodDisruptionBudget", "x1agent-api"],
            ["Deployment", "x1agent-worker"],
            ["CronJob", "x1agent-session-gc"],
            ["CronJob", "x1agent-backup-postgres"],
            ["CronJob", "x1agent-backup-secrets"],
        ]) {
            expect(find(ms, kind!, name!, "x1agent"), `${kind} ${name}`).toBeDefined();
        }
        checkHardened(ms);
    });
});
