import { describe, expect, it } from "vitest";
import { natsClientCertVerification } from "../../policies/rules/nats-client-cert-verification";
import { pdbForMultiReplica } from "../../policies/rules/pdb-for-multi-replica";
import { tier1RequiresEtcdEncryption } from "../../policies/rules/tier1-requires-etcd-encryption";
import { workloadNonRootReadOnly } from "../../policies/rules/workload-non-root-read-only";
import { unprobeableChartContainers, workloadProbes } from "../../policies/rules/workload-probes";
import { workloadResources } from "../../policies/rules/workload-resources";
import { workspaceDefaultDenyNetworkPolicy } from "../../policies/rules/workspace-default-deny-network-policy";
import { workspacePodSecurityRestricted } from "../../policies/rules/workspace-pod-security-restricted";
import { expectEachPolicyBothWays, remediate, run, runResource, runStack, UNKNOWN, type FakeResource } from "./fakes";
import { configMap, container, defaultDeny, deployment, etcdEncryption, namespace, networkPolicy, pdb, platform, store, workspaceNamespace } from "./fixtures";

expectEachPolicyBothWays([
    "tier1-requires-etcd-encryption",
    "workload-probes",
    "workload-resources",
    "workload-non-root-read-only",
    "pdb-for-multi-replica",
    "workspace-pod-security-restricted",
    "workspace-default-deny-network-policy",
    "nats-client-cert-verification",
]);

describe("tier1-requires-etcd-encryption", () => {
    const policy = tier1RequiresEtcdEncryption();
    const tier1 = [platform("kubernetes"), store("kubernetes"), namespace("x1agent-secrets")];

    it("passes Tier 1 with KMS-backed encryption (KMS v2 plugin, cloud KMS)", async () => {
        expect(await runStack(policy, [...tier1, etcdEncryption({ enabled: true, provider: "kms-v2-plugin", encryptionConfiguration: "..." })])).toEqual([]);
        expect(await runStack(policy, [...tier1, etcdEncryption({ enabled: true, provider: "aws-kms", keyId: "arn:aws:kms:..." })])).toEqual([]);
    });

    it("does not apply to Tier 2/3 stacks without Tier 1 data", async () => {
        expect(await runStack(policy, [platform("vault"), store("vault")])).toEqual([]);
    });

    it("fails Tier 1 without etcd encryption, and with it disabled", async () => {
        const none = await runStack(policy, tier1);
        expect(none[0]!.message).toMatch(
            /the stack declares Tier 1 \(Platform output `tier`\), but there is no etcd encryption \(x1agent:encryption:EtcdEncryption\) in the stack/,
        );
        const off = await runStack(policy, [...tier1, etcdEncryption({ enabled: false })]);
        expect(off[0]!.message).toMatch(/etcd encryption is disabled \(etcdEncryption.enabled: false\)/);
    });

    it("keeps requiring it while x1agent-secrets still holds Tier 1 data after an upgrade", async () => {
        const v = await runStack(policy, [platform("vault"), store("vault"), namespace("x1agent-secrets", {}, true)]);
        expect(v[0]!.message).toMatch(/Namespace x1agent-secrets \(Tier 1 values\) is in the program, but there is no etcd encryption/);
    });

    it("an unknown output at preview: a KMS key inside the component is the evidence, otherwise it fails closed (mandatory)", async () => {
        const key: FakeResource = { type: "aws:kms/key:Key", name: "x1agent-etcd-key", props: { enableKeyRotation: true }, parent: "x1agent-etcd" };
        expect(await runStack(policy, [...tier1, etcdEncryption(UNKNOWN), key])).toEqual([]);
        const v = await runStack(policy, [...tier1, etcdEncryption(UNKNOWN)]);
        expect(v).toHaveLength(1);
        expect(v[0]!.enforcementLevel).toBe("mandatory");
        expect(v[0]!.message).toMatch(
            /outputs are unknown during this preview and no KMS key is created inside it, so KMS-backed encryption cannot be verified \(fails closed\)/,
        );
    });

    it("prefers the plain top-level outputs when the component registers them", async () => {
        expect(await runStack(policy, [...tier1, etcdEncryption(UNKNOWN, { enabled: true, provider: "gcp-kms" })])).toEqual([]);
    });
});

describe("workload-probes", () => {
    const policy = workloadProbes();
    it("passes containers with both probes, and Jobs without probes", async () => {
        expect(await runResource(policy, deployment("x1agent", "x1agent-api"))).toEqual([]);
        const job: FakeResource = {
            type: "kubernetes:batch/v1:Job",
            name: "j",
            props: { metadata: { name: "j", namespace: "x1agent" }, spec: { template: { spec: { containers: [container({ probes: false })] } } } },
        };
        expect(await runResource(policy, job)).toEqual([]);
    });
    it("fails a container without probes; exclude config skips a named workload", async () => {
        const d = deployment("x1agent", "x1agent-app", { containers: [container({ name: "app", probes: false })] });
        expect((await runResource(policy, d))[0]!.message).toBe(
            "Deployment x1agent/x1agent-app container app has no readinessProbe and no livenessProbe: add readinessProbe and livenessProbe (e.g. httpGet /readyz and /healthz on the http port)",
        );
        expect(await runResource(policy, d, { config: { exclude: ["Deployment x1agent/x1agent-app"] } })).toEqual([]);
    });
    it("by default skips only the chart containers that cannot be probed: their neighbours and our own workloads stay checked", async () => {
        const nats = (probed: boolean): FakeResource => ({
            type: "kubernetes:apps/v1:StatefulSet",
            name: "x1agent-nats",
            props: {
                metadata: { name: "x1agent-nats", namespace: "x1agent" },
                spec: { template: { spec: { containers: [container({ name: "nats", probes: probed }), container({ name: "reloader", probes: false })] } } },
            },
        });
        expect(unprobeableChartContainers).toContain("StatefulSet x1agent/x1agent-nats containers reloader");
        expect(await runResource(policy, nats(true))).toEqual([]);
        expect((await runResource(policy, nats(false))).map((v) => v.message)).toEqual([
            "StatefulSet x1agent/x1agent-nats container nats has no readinessProbe and no livenessProbe: add readinessProbe and livenessProbe (e.g. httpGet /readyz and /healthz on the http port)",
        ]);
        const controller = deployment("cert-manager", "cert-manager", { containers: [{ ...container({ name: "cert-manager-controller", probes: false }) }] });
        expect(await runResource(policy, controller)).toEqual([]);
        // The same container name elsewhere, and our own workloads, are not skipped.
        expect(
            await runResource(policy, deployment("x1agent", "cert-manager", { containers: [container({ name: "cert-manager-controller", probes: false })] })),
        ).toHaveLength(1);
        expect(await runResource(policy, deployment("x1agent", "x1agent-api", { containers: [container({ name: "reloader", probes: false })] }))).toHaveLength(
            1,
        );
        // A config's own exclude replaces the default list.
        expect(await runResource(policy, nats(true), { config: { exclude: [] } })).toHaveLength(1);
    });
});

describe("workload-resources", () => {
    const policy = workloadResources();
    it("passes requests and a memory limit", async () => {
        expect(await runResource(policy, deployment("x1agent", "x1agent-api"))).toEqual([]);
    });
    it("an exclude entry may name one container of a workload: the others stay checked", async () => {
        const d = deployment("x1agent", "x1agent-api", {
            containers: [container({ name: "api", resources: {} }), container({ name: "sidecar", resources: {} })],
        });
        const v = await runResource(policy, d, { config: { exclude: ["Deployment x1agent/x1agent-api containers sidecar"] } });
        expect(v.map((x) => x.message)).toEqual([
            "Deployment x1agent/x1agent-api containers api sets no resources.requests.cpu, resources.requests.memory, resources.limits.memory: set requests.cpu, requests.memory and limits.memory",
        ]);
    });
    it("fails a container with no resources, init containers included", async () => {
        const d = deployment("x1agent", "x1agent-api");
        d.props.spec.template.spec.initContainers = [{ name: "migrate", image: "i" }];
        expect((await runResource(policy, d))[0]!.message).toBe(
            "Deployment x1agent/x1agent-api initContainers migrate sets no resources.requests.cpu, resources.requests.memory, resources.limits.memory: set requests.cpu, requests.memory and limits.memory",
        );
    });
});

describe("workload-non-root-read-only", () => {
    const policy = workloadNonRootReadOnly();
    it("passes the runtime's hardened pod", async () => {
        expect(await runResource(policy, deployment("x1agent", "x1agent-api"))).toEqual([]);
    });
    it("fails a root, writable, escalating container and names each problem", async () => {
        const d = deployment("x1agent", "x1agent-api", { podSecurityContext: {}, containers: [container({ name: "api", securityContext: { runAsUser: 0 } })] });
        expect((await runResource(policy, d))[0]!.message).toBe(
            "Deployment x1agent/x1agent-api containers api: runAsNonRoot is not true; runAsUser is 0 (root); readOnlyRootFilesystem is not true; allowPrivilegeEscalation is not false; capabilities.drop does not include ALL. " +
                "Set securityContext { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: [ALL] } }",
        );
    });
    it("remediates missing security-context fields without overturning explicit ones", async () => {
        const d = deployment("x1agent", "x1agent-api", { podSecurityContext: {}, containers: [container({ name: "api", securityContext: {} })] });
        const fixed = await remediate(policy, d);
        const spec = fixed!.spec.template.spec;
        expect(spec.securityContext.runAsNonRoot).toBe(true);
        expect(spec.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
        expect(await runResource(policy, { ...d, props: fixed! })).toEqual([]);
        const explicit = deployment("x1agent", "x1agent-api", {
            containers: [container({ securityContext: { readOnlyRootFilesystem: false, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } })],
        });
        expect(await remediate(policy, explicit)).toBeUndefined();
        expect(await runResource(policy, explicit, { config: "remediate" })).toHaveLength(1);
    });
    it("remediates every container the checks walk (a CronJob's init and ephemeral ones too) and leaves excluded workloads alone", async () => {
        const bare = (name: string) => ({ ...container({ name }), securityContext: undefined });
        const job: FakeResource = {
            type: "kubernetes:batch/v1:CronJob",
            name: "cron-vacuum",
            props: {
                metadata: { name: "x1agent-vacuum", namespace: "x1agent" },
                spec: {
                    schedule: "0 3 * * *",
                    jobTemplate: {
                        spec: { template: { spec: { containers: [bare("run")], initContainers: [bare("wait")], ephemeralContainers: [bare("debug")] } } },
                    },
                },
            },
        };
        expect(await runResource(policy, job)).toHaveLength(3);
        const fixed = await remediate(policy, job);
        const spec = fixed!.spec.jobTemplate.spec.template.spec;
        expect(spec.securityContext).toEqual({ runAsNonRoot: true });
        for (const c of [...spec.containers, ...spec.initContainers, ...spec.ephemeralContainers]) {
            expect(c.securityContext, c.name).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
        }
        expect(await runResource(policy, { ...job, props: fixed! })).toEqual([]);
        expect(await remediate(policy, job, { config: { exclude: ["CronJob x1agent/x1agent-vacuum"] } })).toBeUndefined();
    });
});

describe("pdb-for-multi-replica", () => {
    const policy = pdbForMultiReplica();
    const labels = { "app.kubernetes.io/name": "x1agent-api" };
    it("passes a single replica without a PDB, and three replicas with one", async () => {
        expect(await runStack(policy, [deployment("x1agent", "x1agent-api")])).toEqual([]);
        expect(await runStack(policy, [deployment("x1agent", "x1agent-api", { replicas: 3 }), pdb("x1agent", "x1agent-api", labels)])).toEqual([]);
    });
    it("fails multiple replicas without a PDB selecting them, counting an HPA's minimum", async () => {
        const v = await runStack(policy, [
            deployment("x1agent", "x1agent-api", { replicas: 3 }),
            pdb("x1agent", "other", { "app.kubernetes.io/name": "x1agent-app" }),
        ]);
        expect(v[0]!.message).toMatch(/Deployment x1agent\/x1agent-api runs 3 replicas but no PodDisruptionBudget in x1agent selects its pods/);
        const hpa: FakeResource = {
            type: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
            name: "hpa",
            props: {
                metadata: { name: "x1agent-api", namespace: "x1agent" },
                spec: { minReplicas: 2, maxReplicas: 5, scaleTargetRef: { kind: "Deployment", name: "x1agent-api" } },
            },
        };
        expect((await runStack(policy, [deployment("x1agent", "x1agent-api"), hpa]))[0]!.message).toMatch(/runs 2 replicas/);
    });
});

describe("workspace-pod-security-restricted", () => {
    const policy = workspacePodSecurityRestricted();
    it("passes restricted workspaces and ignores other namespaces", async () => {
        expect(await runResource(policy, workspaceNamespace("demo"))).toEqual([]);
        expect(await runResource(policy, namespace("monitoring"))).toEqual([]);
    });
    it("fails a workspace without the label or with baseline; remediates only the missing label", async () => {
        const bare = namespace("x1agent-ws-demo");
        expect((await runResource(policy, bare))[0]!.message).toMatch(/Namespace x1agent-ws-demo has no pod-security.kubernetes.io\/enforce label/);
        expect((await remediate(policy, bare))!.metadata.labels).toEqual({ "pod-security.kubernetes.io/enforce": "restricted" });
        const baseline = namespace("x1agent-ws-demo", { "pod-security.kubernetes.io/enforce": "baseline" });
        expect((await runResource(policy, baseline))[0]!.message).toMatch(/enforces Pod Security baseline/);
        expect(await remediate(policy, baseline)).toBeUndefined();
    });
});

describe("workspace-default-deny-network-policy", () => {
    const policy = workspaceDefaultDenyNetworkPolicy();
    it("passes a workspace with a default-deny policy (one or two objects)", async () => {
        expect(
            await runStack(policy, [
                workspaceNamespace("demo"),
                defaultDeny("x1agent-ws-demo"),
                networkPolicy("x1agent-ws-demo", "allow-dns", {
                    podSelector: {},
                    policyTypes: ["Egress"],
                    egress: [{ ports: [{ port: 53, protocol: "UDP" }] }],
                }),
            ]),
        ).toEqual([]);
        expect(
            await runStack(policy, [
                workspaceNamespace("demo"),
                networkPolicy("x1agent-ws-demo", "deny-in", { podSelector: {}, policyTypes: ["Ingress"] }),
                networkPolicy("x1agent-ws-demo", "deny-out", { podSelector: {}, policyTypes: ["Egress"], egress: [] }),
            ]),
        ).toEqual([]);
    });
    it("fails a workspace with only allow rules, or none", async () => {
        const v = await runStack(policy, [
            workspaceNamespace("demo"),
            networkPolicy("x1agent-ws-demo", "allow-all-egress", { podSelector: {}, policyTypes: ["Egress"], egress: [{}] }),
            workspaceNamespace("research"),
        ]);
        expect(v.map((x) => x.message)).toEqual([
            expect.stringMatching(/^Namespace x1agent-ws-demo has no default-deny Ingress and Egress NetworkPolicy/),
            expect.stringMatching(/^Namespace x1agent-ws-research has no default-deny Ingress and Egress NetworkPolicy/),
        ]);
    });
});

describe("nats-client-cert-verification", () => {
    const policy = natsClientCertVerification();
    // A helm.v3 Release shows its values to policies; a helm.v4 Chart does not (its props reach the analyzer as {}).
    const release = (tls: Record<string, unknown>, chart = "nats"): FakeResource => ({
        type: "kubernetes:helm.sh/v3:Release",
        name: "x1agent-nats-release",
        props: { chart, version: "2.12.3", values: { config: { nats: { tls } } } },
    });
    const component = (outputs: Record<string, unknown>): FakeResource => ({
        type: "x1agent:addons:Nats",
        name: "x1agent-nats",
        props: { url: "tls://nats.x1agent-nats.svc:4222", ...outputs },
    });
    const v4Chart: FakeResource = { type: "kubernetes:helm.sh/v4:Chart", name: "x1agent-nats-chart", props: {}, parent: "x1agent-nats" };

    it("passes on the component's output, a verifying nats.conf, or verifying release values", async () => {
        expect(await run(policy, [component({ clientCertificateVerification: true }), v4Chart])).toEqual([]);
        const conf = JSON.stringify({ port: 4222, tls: { cert_file: "/c", key_file: "/k", ca_file: "/ca", verify: true } });
        expect(await run(policy, [component({}), v4Chart, configMap("x1agent-nats", "nats-config", { "nats.conf": conf })])).toEqual([]);
        expect(await run(policy, [release({ enabled: true, secretName: "nats-server-tls", merge: { verify: true } })])).toEqual([]);
        // NATS not installed by this stack (addons.nats.install: false): nothing to check.
        expect(await run(policy, [component({})])).toEqual([]);
    });

    it("fails nats.mtls: false, a nats.conf without verify, and release values without TLS", async () => {
        expect((await run(policy, [component({ clientCertificateVerification: false }), v4Chart]))[0]!.message).toBe(
            "NATS (x1agent-nats) does not verify client certificates (clientCertificateVerification: false): set nats.mtls: true in the stack config",
        );
        const conf = JSON.stringify({ port: 4222, tls: { cert_file: "/c", key_file: "/k" } });
        expect((await run(policy, [configMap("x1agent-nats", "nats-config", { "nats.conf": conf })]))[0]!.message).toMatch(/enables TLS without verify: true/);
        expect((await run(policy, [release({})]))[0]!.message).toMatch(/has no TLS on the client port/);
        expect((await run(policy, [release({ enabled: true, merge: { verify: false } }, "/charts/nats-2.12.3.tgz")]))[0]!.message).toMatch(
            /does not verify client certificates/,
        );
    });

    it("recognises a mirrored chart by its Nats parent, and fails closed when a NATS chart gives no evidence", async () => {
        const mirrored: FakeResource = { ...release({ enabled: true, merge: { verify: false } }, "/mirror/x1agent-fixture-nats"), parent: "x1agent-nats" };
        expect((await run(policy, [component({}), mirrored]))[0]!.message).toMatch(/does not verify client certificates/);
        const v = await run(policy, [component({}), v4Chart]);
        expect(v).toHaveLength(1);
        expect(v[0]!.enforcementLevel).toBe("mandatory");
        expect(v[0]!.message).toMatch(/nothing in the stack shows whether it verifies client certificates .*fails closed/);
    });
});
