import { beforeAll, describe, expect, it } from "vitest";
import { AppRuntime } from "../../../components";
import { ofKind, resetRegistered, settled, setupMocks, stackConfig } from "../../helpers/mocks";
import { deploymentTemplate, envOf, named, render } from "./render";

beforeAll(() => setupMocks());

describe("the api Deployment", () => {
    it("api with 3 replicas gets a PDB and leader election", async () => {
        const all = await render({ api: { replicas: 3 } });
        const deployment = named(all, "Deployment", "x1agent-api", "x1agent");
        expect(deployment.inputs.spec.replicas).toBe(3);

        const pdb = named(all, "PodDisruptionBudget", "x1agent-api", "x1agent");
        expect(pdb.inputs.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: { "app.kubernetes.io/name": "x1agent-api" } } });

        const lease = named(all, "Lease", "x1agent-api-leader", "x1agent");
        expect(lease.inputs.spec.leaseDurationSeconds).toBe(15);
        // The api may renew that one Lease and nothing else: no create, no other lease.
        const role = named(all, "Role", "x1agent-api-leader-election", "x1agent");
        expect(role.inputs.rules).toEqual([
            { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["x1agent-api-leader"], verbs: ["get", "watch", "update", "patch"] },
        ]);
        const binding = named(all, "RoleBinding", "x1agent-api-leader-election", "x1agent");
        expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: "x1agent-api", namespace: "x1agent" }]);

        const env = envOf(deploymentTemplate(all, "x1agent-api").spec.containers[0]);
        expect(env.X1AGENT_LEADER_ELECTION.value).toBe("true");
        expect(env.X1AGENT_LEADER_ELECTION_LEASE.value).toBe("x1agent-api-leader");
        expect(env.X1AGENT_LEADER_ELECTION_IDENTITY.valueFrom).toEqual({ fieldRef: { fieldPath: "metadata.name" } });
    });

    it("a single api replica runs without a PDB, a Lease or leader election", async () => {
        const all = await render({ api: { replicas: 1 } });
        expect(ofKind(all, "PodDisruptionBudget").filter((p) => p.inputs.metadata.name === "x1agent-api")).toEqual([]);
        expect(ofKind(all, "Lease")).toEqual([]);
        expect(ofKind(all, "Role").map((r) => r.inputs.metadata.name)).not.toContain("x1agent-api-leader-election");
        expect(envOf(deploymentTemplate(all, "x1agent-api").spec.containers[0]).X1AGENT_LEADER_ELECTION.value).toBe("false");
    });

    it("with an HPA the autoscaler owns the replica count and may scale past one, so leader election is on", async () => {
        const all = await render({ api: { replicas: 1, hpa: { enabled: true, minReplicas: 1, maxReplicas: 4, targetCPUUtilization: 60 } } });
        expect(named(all, "Deployment", "x1agent-api").inputs.spec).not.toHaveProperty("replicas");
        const hpa = named(all, "HorizontalPodAutoscaler", "x1agent-api");
        expect(hpa.type).toBe("kubernetes:autoscaling/v2:HorizontalPodAutoscaler");
        expect(hpa.inputs.spec).toMatchObject({
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "x1agent-api" },
            minReplicas: 1,
            maxReplicas: 4,
            metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 60 } } }],
        });
        named(all, "PodDisruptionBudget", "x1agent-api");
        named(all, "Lease", "x1agent-api-leader");
    });

    it.each([
        ["app", "x1agent-app", { app: { replicas: 2 } }],
        ["worker", "x1agent-worker", { worker: { enabled: true, replicas: 3 } }],
    ] as const)("the %s gets a PDB when it runs more than one pod", async (_, name, overrides) => {
        const all = await render(overrides);
        expect(named(all, "PodDisruptionBudget", name).inputs.spec.maxUnavailable).toBe(1);
    });

    it("mounts a ServiceAccount token only in the api, which talks to the Kubernetes API", async () => {
        const all = await render({ worker: { enabled: true }, cronJobs: [{ name: "vacuum", schedule: "0 4 * * *", args: ["maintenance", "vacuum"] }] });
        const byOwner = Object.fromEntries(
            ofKind(all, "Deployment").map((d) => [d.inputs.metadata.name, d.inputs.spec.template.spec.automountServiceAccountToken]),
        );
        expect(byOwner).toEqual({ "x1agent-api": true, "x1agent-app": false, "x1agent-worker": false });
        expect(named(all, "ServiceAccount", "x1agent-api", "x1agent").inputs.automountServiceAccountToken).toBe(false);
        expect(named(all, "CronJob", "x1agent-vacuum").inputs.spec.jobTemplate.spec.template.spec.automountServiceAccountToken).toBe(false);
    });

    it("carries the cloud identity annotations on the api ServiceAccount", async () => {
        resetRegistered();
        new AppRuntime("rt", { config: stackConfig(), apiServiceAccountAnnotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::111111111111:role/x" } });
        const sa = named(await settled(), "ServiceAccount", "x1agent-api");
        expect(sa.inputs.metadata.annotations).toEqual({ "eks.amazonaws.com/role-arn": "arn:aws:iam::111111111111:role/x" });
    });
});
