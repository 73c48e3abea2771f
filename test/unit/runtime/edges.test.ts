import { beforeAll, describe, expect, it } from "vitest";
import { AppRuntime } from "../../../components";
import { Platform } from "../../../components";
import { ofKind, resetRegistered, settled, setupMocks, stackConfig, valueOf } from "../../helpers/mocks";
import { named, render } from "./render";

beforeAll(() => setupMocks());

describe("the Ingress", () => {
    it("routes the host to the app and /api to the api, with TLS from the cert-manager Secret", async () => {
        const all = await render({
            ingress: {
                host: "x1agent.example.com",
                className: "nginx",
                tlsSecretName: "x1agent-tls",
                issuer: { type: "acme", email: "ops@example.com" },
                annotations: { "nginx.ingress.kubernetes.io/proxy-body-size": "10m" },
            },
        });
        const ingress = named(all, "Ingress", "x1agent", "x1agent").inputs;
        expect(ingress.spec.ingressClassName).toBe("nginx");
        expect(ingress.spec.tls).toEqual([{ hosts: ["x1agent.example.com"], secretName: "x1agent-tls" }]);
        expect(ingress.spec.rules[0].host).toBe("x1agent.example.com");
        expect(ingress.spec.rules[0].http.paths.map((p: { path: string; backend: { service: { name: string } } }) => [p.path, p.backend.service.name])).toEqual(
            [
                ["/api", "x1agent-api"],
                ["/", "x1agent-app"],
            ],
        );
        // The add-ons' Certificate owns x1agent-tls: no ingress-shim annotation competes with it.
        expect(ingress.metadata.annotations).toEqual({ "nginx.ingress.kubernetes.io/proxy-body-size": "10m" });
    });

    it("asks cert-manager's ingress-shim for the certificate when given an issuer instead", async () => {
        resetRegistered();
        new AppRuntime("rt", { config: stackConfig(), ingressIssuer: { kind: "ClusterIssuer", name: "corp-ca" } });
        expect(named(await settled(), "Ingress", "x1agent").inputs.metadata.annotations).toEqual({ "cert-manager.io/cluster-issuer": "corp-ca" });
    });

    it("is not created when ingress.enabled is false", async () => {
        const all = await render({ ingress: { enabled: false, host: "x1agent.localtest.me", issuer: { type: "selfSigned" } } });
        expect(ofKind(all, "Ingress")).toEqual([]);
    });
});

describe("the ServiceMonitor", () => {
    it.each([
        [true, 1],
        [false, 0],
    ])("exists when prometheusOperator.present is %s: %i", async (present, count) => {
        const all = await render({ addons: { prometheusOperator: { present } } as never });
        const monitors = ofKind(all, "ServiceMonitor");
        expect(monitors).toHaveLength(count);
        if (present) {
            expect(monitors[0]!.type).toBe("kubernetes:monitoring.coreos.com/v1:ServiceMonitor");
            expect(monitors[0]!.inputs.spec).toMatchObject({
                selector: { matchLabels: { "app.kubernetes.io/name": "x1agent-api" } },
                endpoints: [{ port: "metrics", path: "/metrics" }],
            });
            expect(named(all, "Service", "x1agent-api").inputs.spec.ports).toContainEqual({
                name: "metrics",
                port: 9090,
                targetPort: "metrics",
                protocol: "TCP",
            });
        }
    });
});

describe("the maintenance CronJobs", () => {
    it("run the api image with their arguments, never overlapping, with the database wired", async () => {
        const all = await render({ cronJobs: [{ name: "vacuum", schedule: "0 4 * * *", args: ["maintenance", "vacuum"], activeDeadlineSeconds: 600 }] });
        const job = named(all, "CronJob", "x1agent-vacuum", "x1agent").inputs.spec;
        expect(job).toMatchObject({
            schedule: "0 4 * * *",
            concurrencyPolicy: "Forbid",
            jobTemplate: { spec: { activeDeadlineSeconds: 600, backoffLimit: 2 } },
        });
        const pod = job.jobTemplate.spec.template.spec;
        expect(pod.restartPolicy).toBe("Never");
        expect(pod.serviceAccountName).toBe("x1agent-maintenance");
        expect(pod.containers[0]).toMatchObject({ image: "ghcr.io/x1agent/api:1.0.0", args: ["maintenance", "vacuum"] });
        expect(pod.containers[0].env.map((e: { name: string }) => e.name)).toContain("X1AGENT_DATABASE_URL");
        expect(pod.containers[0]).not.toHaveProperty("livenessProbe");
    });
});

describe("stack outputs for the portal", () => {
    it("give the URL, tier, store, workspace namespaces and the config without secret values", async () => {
        resetRegistered();
        const config = stackConfig({
            workspaces: [{ id: "a" }, { id: "b" }],
            postgres: { bundled: { enabled: false, storage: "1Gi", instances: 1 }, url: { secretName: "db", key: "url" } },
        });
        const platform = new Platform("x1agent", { config });
        await settled();
        expect(await valueOf(platform.url)).toBe("https://x1agent.localtest.me");
        expect(await valueOf(platform.tier)).toBe("kubernetes");
        expect(await valueOf(platform.storeName)).toBe("x1-local");
        expect(await valueOf(platform.workspaceNamespaces)).toEqual(["x1agent-ws-a", "x1agent-ws-b"]);
        const out = await valueOf(platform.config);
        expect(out.workspaces.map((w) => w.id)).toEqual(["a", "b"]);
        // A secret field names a Secret; there is no value to leak.
        expect(out.postgres).toMatchObject({ connection: "url", url: { secretName: "db", key: "url" } });
    });
});
