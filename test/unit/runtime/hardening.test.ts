import { beforeAll, describe, expect, it } from "vitest";
import type { RegisteredResource } from "../../helpers/mocks";
import { validateStack } from "../../../runtime/engine/project";
import type { StackConfigInput } from "../../../stacks/schema";
import { named, podTemplates, render, ageRecipient } from "./render";
import { setupMocks, stackConfig } from "../../helpers/mocks";

beforeAll(() => setupMocks());

/** Every optional workload switched on: worker, maintenance jobs, backups (Tier 1 export too), proxy, OTLP, a mirror. */
const everything: Partial<StackConfigInput> = {
    api: { replicas: 3 },
    worker: { enabled: true, replicas: 2 },
    cronJobs: [{ name: "vacuum", schedule: "0 4 * * *", args: ["maintenance", "vacuum"] }],
    backup: { enabled: true, secretsRecipient: ageRecipient },
    proxy: { url: "http://proxy.corp.example.com:3128", noProxy: [".corp.example.com"] },
    observability: { otlpEndpoint: "http://otel-collector.observability.svc:4317" },
    images: { registry: "registry.corp.example.com/mirror", pullSecrets: ["corp-registry"] },
    workspaces: [{ id: "demo" }],
};

// The example stacks the README documents. Not listStackNames(): other tiers write throwaway stack files
// into stacks/ while they run, and a unit test must not depend on what runs beside it.
const exampleStacks = ["local", "dev", "staging", "prod", "onprem"];

const configs = [
    ...exampleStacks.map((s) => [`example stack ${s}`, validateStack(s)] as const),
    ["every optional workload on", stackConfig(everything)] as const,
];

describe.each(configs)("%s", (_, config) => {
    let all: RegisteredResource[];
    beforeAll(async () => {
        all = await render(config);
    });

    it("every container is non-root with a read-only root filesystem", () => {
        const templates = podTemplates(all);
        expect(templates.length).toBeGreaterThanOrEqual(2);
        for (const { owner, template } of templates) {
            const pod = template.spec;
            expect(pod.securityContext, owner).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
            expect(pod.volumes, owner).toContainEqual({ name: "tmp", emptyDir: { sizeLimit: "256Mi" } });
            for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
                const where = `${owner} container ${c.name}`;
                expect(c.securityContext, where).toMatchObject({
                    runAsNonRoot: true,
                    readOnlyRootFilesystem: true,
                    allowPrivilegeEscalation: false,
                    capabilities: { drop: ["ALL"] },
                    seccompProfile: { type: "RuntimeDefault" },
                });
                expect(c.securityContext.runAsUser, where).toBeGreaterThan(0);
                expect(c.volumeMounts, where).toContainEqual({ name: "tmp", mountPath: "/tmp" });
                expect(c.resources?.requests?.cpu, where).toBeDefined();
                expect(c.resources?.requests?.memory, where).toBeDefined();
                expect(c.resources?.limits?.memory, where).toBeDefined();
                // Log level/format, OTLP and proxy settings reach every container through the shared ConfigMap.
                expect(c.envFrom, where).toContainEqual({ configMapRef: { name: "x1agent-config" } });
                expect(c.image.startsWith(`${config.images.registry}/`), where).toBe(true);
            }
        }
    });

    it("every long-running pod has HTTP probes, a preStop drain and zone spread", () => {
        for (const { owner, kind, template } of podTemplates(all)) {
            if (kind !== "Deployment") continue;
            const pod = template.spec;
            for (const c of pod.containers) {
                expect(c.livenessProbe?.httpGet, owner).toEqual({ path: "/healthz", port: "http" });
                expect(c.readinessProbe?.httpGet, owner).toEqual({ path: "/readyz", port: "http" });
                expect(c.lifecycle?.preStop?.httpGet, owner).toEqual({ path: "/drain", port: "http" });
            }
            expect(
                pod.topologySpreadConstraints.map((t: { topologyKey: string }) => t.topologyKey),
                owner,
            ).toContain("topology.kubernetes.io/zone");
            expect(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey, owner).toBe(
                "topology.kubernetes.io/zone",
            );
            expect(pod.terminationGracePeriodSeconds, owner).toBeGreaterThanOrEqual(5);
        }
    });

    it("gives every pod the image pull Secrets of the mirror", () => {
        for (const { owner, template } of podTemplates(all)) {
            const expected = config.images.pullSecrets.map((name) => ({ name }));
            expect(template.spec.imagePullSecrets ?? [], owner).toEqual(expected);
        }
    });
});

describe("settings every container reads", () => {
    it("proxy, OTLP and log settings are in the shared ConfigMap, cluster traffic bypasses the proxy", async () => {
        const all = await render(everything);
        const data = named(all, "ConfigMap", "x1agent-config", "x1agent").inputs.data;
        expect(data).toMatchObject({
            HTTP_PROXY: "http://proxy.corp.example.com:3128",
            HTTPS_PROXY: "http://proxy.corp.example.com:3128",
            https_proxy: "http://proxy.corp.example.com:3128",
            X1AGENT_PROXY_URL: "http://proxy.corp.example.com:3128",
            OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector.observability.svc:4317",
            X1AGENT_LOG_LEVEL: "info",
            X1AGENT_LOG_FORMAT: "json",
        });
        expect(data.NO_PROXY.split(",")).toEqual(expect.arrayContaining([".svc", ".cluster.local", "localhost", ".corp.example.com"]));
    });

    it("pins an image by digest when one is given, under the mirror registry", async () => {
        const digest = `sha256:${"a".repeat(64)}`;
        const all = await render({ images: { registry: "mirror.example.com/x1", api: { repository: "x1agent/api", tag: "1.2.3", digest } } });
        const image = named(all, "Deployment", "x1agent-api").inputs.spec.template.spec.containers[0].image;
        expect(image).toBe(`mirror.example.com/x1/x1agent/api:1.2.3@${digest}`);
    });
});
