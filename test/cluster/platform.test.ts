/**
 * The whole platform applied to the local cluster, as the README's main job
 * does it: a throwaway copy of the `local` stack (platform-stack.ts) through
 * the real engine and provider against the real API server. Then what only an
 * API server can show: CRDs established, custom resources admitted by their
 * schemas, workloads Available; the security model enforced by RBAC, Pod
 * Security, the session ValidatingAdmissionPolicy, the workspace LimitRange
 * and ResourceQuota; drift made with kubectl, found by `x1 refresh` and by
 * the deployer's scheduled drift check on its own, shown in the console, and
 * undone by the check's remediation `up` (the stack's second up); and the
 * deployer's `destroy`, which leaves nothing stuck. The project's policy pack
 * is applied to the first up and to every deployer run, and finds nothing on
 * the whole platform. One stack lifecycle, in order: the charts are installed
 * once. The Tier 1 -> Tier 2 upgrade is tier-upgrade.test.ts.
 *
 * The deployer runs in this process over real HTTP on loopback (as the
 * runtime tier starts it), on its own copy of the project whose stack file
 * is kept equal to this test's, sharing this file's state backend: the CLI
 * and the deployer work on the same stack, as an operator's would.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certManagerNamespace, certManagerValues } from "../../components/addons/cert-manager";
import { deployerPaths } from "../../runtime/deployer/paths";
import { projectRoot } from "../../runtime/engine/project";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { runOperation } from "../../runtime/engine/stack-runner";
import { findingsFrom, policyPackPath } from "../../scripts/policy-check";
import { showDriftInConsole } from "../runtime/console-drift";
import { call, freshDatabase, projectCopy, type Service, startService, waitFor, waitForRun } from "../runtime/helpers";
import { kubectl, run } from "./cluster";
import { leftAfterDestroy, list, notReady, type PlatformStack, platformStack, ws } from "./platform-stack";

const stack = "cluster-platform";
let platform: PlatformStack;
let deployer: Service | undefined;
let copy: ReturnType<typeof projectCopy> | undefined;

/** How long a deployer run took, for the log. */
const took = (r: Record<string, any>) => `${((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1)}s`;

/** A run through the deployer's HTTP API, as the portal or `x1 <operation> --watch` asks for it, followed to its end. */
async function deployerRun(operation: "destroy"): Promise<Record<string, any>> {
    const svc = deployer!;
    const queued = await call(svc.url, "POST", `/v1/stacks/${stack}/runs`, {
        token: svc.adminToken,
        body: { operation, ...(operation === "destroy" ? { confirm: stack } : {}) },
    });
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    const ended = await waitForRun(svc.url, svc.adminToken, queued.body.run.id, 1_800_000);
    console.log(`[cluster tier] deployer ${operation} ${stack}: ${ended.status} ${JSON.stringify(ended.counts)} in ${took(ended)}`);
    expect(ended.status, ended.error ?? "").toBe("succeeded");
    return ended;
}

/** The deployer's latest drift report of the stack (GET /v1/stacks/{stack}/drift). */
async function driftReport(): Promise<Record<string, any>> {
    const r = await call(deployer!.url, "GET", `/v1/stacks/${stack}/drift`, { token: deployer!.adminToken });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
}

/** Sets (or with null removes) the stack's drift schedule, as an operator does. */
async function setSchedule(drift: { cron: string; remediate: boolean } | null): Promise<void> {
    const r = await call(deployer!.url, "PUT", `/v1/stacks/${stack}/schedule`, { token: deployer!.adminToken, body: { drift } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
}

/** A SubjectAccessReview the API server's authorizer answers: may this ServiceAccount `verb` Secrets in `namespace`? */
async function mayReadSecrets(serviceAccount: string, namespace: string, verb = "get"): Promise<boolean> {
    const [saNamespace, name] = serviceAccount.split("/");
    const review = {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
            user: `system:serviceaccount:${saNamespace}:${name}`,
            groups: ["system:serviceaccounts", `system:serviceaccounts:${saNamespace}`, "system:authenticated"],
            resourceAttributes: { namespace, verb, resource: "secrets" },
        },
    };
    return (JSON.parse(await kubectl(["create", "-f", "-", "-o", "json"], JSON.stringify(review))) as { status: { allowed: boolean } }).status.allowed;
}

/** Creates `pod` with a server-side dry run (every admission step runs, nothing is stored); the API server's refusal, or "" when admitted. */
async function admission(pod: Record<string, unknown>): Promise<string> {
    try {
        await kubectl(["create", "--dry-run=server", "-f", "-"], JSON.stringify(pod));
        return "";
    } catch (err) {
        return (err as Error).message;
    }
}

beforeAll(async () => {
    platform = await platformStack(stack);
    // Its project copy is made now, so it holds the stack file just written; the deployer applies that
    // copy's policy pack (policies/) to every run, as in production. A fresh database: no schedule, run or
    // drift report of an earlier run of this file.
    copy = projectCopy("cluster");
    deployer = await startService({ database: (await freshDatabase("embedded")).options, paths: deployerPaths(copy.paths.projectRoot), pollIntervalMs: 500 });
    platform.mirrors.push(deployer.stackFile(stack));
    // The stack's team: the scheduler queues its checks and remediations as the team's operator.
    const team = await call(deployer.url, "PUT", `/v1/stacks/${stack}/team`, { token: deployer.adminToken, body: { team: "platform" } });
    expect(team.status, JSON.stringify(team.body)).toBe(200);
});

afterAll(async () => {
    try {
        await deployer?.close();
    } finally {
        copy?.remove();
        await platform?.cleanup();
    }
});

const sessionPod = (overrides: { image?: string; serviceAccountName?: string; cpu?: string; privileged?: boolean } = {}) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "probe", namespace: ws },
    spec: {
        serviceAccountName: overrides.serviceAccountName ?? "x1agent-session",
        automountServiceAccountToken: false,
        securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
        containers: [
            {
                name: "session",
                image: overrides.image ?? "ghcr.io/x1agent/session:1.0.0",
                resources: { requests: { cpu: overrides.cpu ?? "100m", memory: "128Mi" }, limits: { cpu: overrides.cpu ?? "500m", memory: "256Mi" } },
                securityContext: overrides.privileged
                    ? { privileged: true }
                    : { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, readOnlyRootFilesystem: true },
            },
        ],
    },
});

describe("the whole platform on the local cluster", () => {
    it("up installs every add-on from its chart and the runtime, with the policy pack: CRDs established, custom resources admitted, workloads available", async () => {
        const events: EngineEvent[] = [];
        const result = await runOperation(stack, "up", { policyPacks: [policyPackPath], onEvent: (e) => events.push(e) });
        console.log(`[cluster tier] up ${stack} with the policy pack: ${JSON.stringify(result.counts)} in ${(result.durationMs / 1000).toFixed(1)}s`);
        expect(result.counts.create).toBeGreaterThan(100);
        // The pack on the whole platform, the charts' workloads included: every container has resources and
        // probes, and what no chart value can probe is in workload-probes' default exclude.
        expect(findingsFrom(events)).toEqual([]);
        expect(await notReady()).toEqual([]);
        const crds = (await list("crd")).map((c) => c.metadata.name);
        for (const crd of [
            "clustersecretstores.external-secrets.io",
            "externalsecrets.external-secrets.io",
            "certificates.cert-manager.io",
            "clusterissuers.cert-manager.io",
            "clusters.postgresql.cnpg.io",
        ]) {
            expect(crds).toContain(crd);
        }
        // Each custom resource exists on the server: the API server admitted it against its CRD's schema.
        expect((await list("clusterissuers.cert-manager.io")).map((i) => i.metadata.name).sort()).toEqual([
            "x1agent-local-ca",
            "x1agent-nats-ca",
            "x1agent-selfsigned",
        ]);
        expect((await list("certificates.cert-manager.io")).map((c) => `${c.metadata.namespace}/${c.metadata.name}`)).toEqual(
            expect.arrayContaining(["x1agent/x1agent-tls", "x1agent/x1agent-nats-server-tls", "x1agent/x1agent-nats-client", `${ws}/x1agent-nats-client`]),
        );
        expect((await list("clustersecretstores.external-secrets.io")).map((s) => [s.apiVersion, s.metadata.name])).toEqual([
            ["external-secrets.io/v1", "x1-local"],
        ]);
        expect((await list("externalsecrets.external-secrets.io", ws)).map((e) => e.spec.secretStoreRef.name)).toEqual(["x1-local"]);
        expect((await list("clusters.postgresql.cnpg.io", "x1agent")).map((c) => c.metadata.name)).toEqual(["x1agent-postgres"]);
        // The charts' webhook configurations are applied as a real cluster gets them; this cluster's API
        // server only does not call them (scripts/cluster.sh: nothing on kwok nodes could answer).
        const webhooks = (await list("validatingwebhookconfigurations")).flatMap((w) => (w.webhooks ?? []).map((h: { name: string }) => h.name));
        expect(webhooks).toEqual(expect.arrayContaining(["webhook.cert-manager.io", "validate.clustersecretstore.external-secrets.io", "vcluster.cnpg.io"]));
        // cert-manager's chart took our resources for its three Deployments (the engine tier cannot render it
        // without a cluster; it checks the other charts' values).
        const deployments = await list("deploy", certManagerNamespace);
        const resourcesOf = (name: string) => deployments.find((d) => d.metadata.name === name)?.spec.template.spec.containers[0].resources;
        expect(resourcesOf("cert-manager")).toEqual(certManagerValues.resources);
        expect(resourcesOf("cert-manager-webhook")).toEqual(certManagerValues.webhook.resources);
        expect(resourcesOf("cert-manager-cainjector")).toEqual(certManagerValues.cainjector.resources);
    }, 3_600_000);
});

describe("the security model, enforced by the API server", () => {
    it("RBAC: the session and api ServiceAccounts read no Secret anywhere, eso-reader only in x1agent-secrets", async () => {
        const elsewhere = ["x1agent", "x1agent-secrets", ws, "kube-system", "cert-manager"];
        for (const namespace of elsewhere) {
            for (const verb of ["get", "list", "watch"]) {
                expect(await mayReadSecrets(`${ws}/x1agent-session`, namespace, verb), `session ${verb} in ${namespace}`).toBe(false);
                expect(await mayReadSecrets("x1agent/x1agent-api", namespace, verb), `api ${verb} in ${namespace}`).toBe(false);
            }
        }
        // The reader ESO's Tier 1 store authenticates as: its own namespace, and nowhere else.
        expect(await mayReadSecrets("x1agent-secrets/eso-reader", "x1agent-secrets")).toBe(true);
        for (const namespace of ["x1agent", ws, "kube-system", "external-secrets"]) {
            expect(await mayReadSecrets("x1agent-secrets/eso-reader", namespace), `eso-reader in ${namespace}`).toBe(false);
        }
    });

    it("admission in a workspace namespace: the session pod is admitted; Pod Security, the session policy and the quota refuse the rest", async () => {
        expect(await admission(sessionPod())).toBe("");
        expect(await admission(sessionPod({ privileged: true }))).toMatch(/violates PodSecurity "restricted:latest"/);
        expect(await admission(sessionPod({ image: "docker.io/library/busybox:1.37" }))).toMatch(
            /ValidatingAdmissionPolicy 'x1agent-session-pods'.*denied request/,
        );
        expect(await admission(sessionPod({ serviceAccountName: "default" }))).toMatch(/ValidatingAdmissionPolicy 'x1agent-session-pods'.*denied request/);
        // The workspace's caps: a container over the LimitRange maximum is refused before it counts against the quota.
        expect(await admission(sessionPod({ cpu: "64" }))).toMatch(/maximum cpu usage per Container is 8, but limit is 64/);
    });

    it("the ResourceQuota caps the workspace as a whole: pods each inside the LimitRange are refused once their sum passes it", async () => {
        const [quota] = await list("resourcequotas", ws);
        expect(quota.status.hard).toMatchObject({ "requests.cpu": "8", "limits.cpu": "8", pods: "20" });
        // Two session pods of 5 CPUs: each is inside the LimitRange's 8 per container; together they are 10 of the quota's 8.
        const pod = (name: string) => ({ ...sessionPod({ cpu: "5" }), metadata: { name, namespace: ws } });
        expect(await admission(pod("quota-b"))).toBe("");
        await kubectl(["create", "-f", "-"], JSON.stringify(pod("quota-a")));
        try {
            const refused = await admission(pod("quota-b"));
            expect(refused).toMatch(/forbidden: exceeded quota: x1agent-workspace, requested: \S*requests\.cpu=5/);
            expect(refused).toMatch(/limited: \S*requests\.cpu=8/);
        } finally {
            await kubectl(["delete", "pod", "quota-a", "-n", ws, "--wait=true", "--timeout=300s"]);
        }
    });
});

/** `x1 <args>` as a user runs it (`npm run x1 -- ...` is this command under the toolchain's environment), locally: no deployer. */
function x1(...args: string[]) {
    const childEnv = { ...process.env };
    delete childEnv.X1_DEPLOYER_URL;
    return run(process.execPath, ["--import", "tsx", path.join(projectRoot, "runtime", "cli.ts"), ...args], { env: childEnv });
}

describe("drift: objects changed with kubectl, found by `x1 refresh` and by the deployer's scheduled check, undone by its remediation", () => {
    it("a ConfigMap deleted with kubectl shows up in `x1 refresh` as drift", async () => {
        await kubectl(["delete", "configmap", "x1agent-config", "-n", "x1agent"]);
        const refresh = await x1("refresh", stack);
        const summary = refresh.stdout.split("\n").find((l) => l.startsWith(`refresh ${stack}:`));
        console.log(
            `[cluster tier] x1 refresh ${stack} exited ${refresh.code}:\n${refresh.stdout
                .split("\n")
                .filter((l) => /drift/.test(l))
                .join("\n")}`,
        );
        expect(refresh.code, `${refresh.stderr}\n${refresh.stdout.slice(-3000)}`).toBe(0);
        expect(refresh.stdout).toMatch(/- drift: kubernetes:core\/v1:ConfigMap \S+ deleted outside Pulumi/);
        expect(summary).toMatch(/drift in \d+ resource\(s\): \d+ changed, [1-9]\d* deleted outside Pulumi/);
        // The state now records it gone, so the next up creates it again.
        const configMaps = (await platform.state()).filter((r) => r.type === "kubernetes:core/v1:ConfigMap" && r.outputs?.metadata?.name === "x1agent-config");
        expect(configMaps).toEqual([]);
    }, 1_800_000);

    let drifted: { op: string; type: string; name: string; urn: string; diffs: string[]; detailedDiff?: Record<string, string> }[] = [];
    let checkRunId = "";
    const quotaType = "kubernetes:core/v1:ResourceQuota";
    const policyType = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

    it("the scheduled check finds, on its own, a deleted NetworkPolicy and a ResourceQuota loosened with kubectl patch, each with its diff", async () => {
        // What a user relies on: a workspace's default-deny NetworkPolicy deleted, and its pod cap raised
        // with `kubectl patch` (kubectl's field manager then owns spec.hard.pods, see the remediation below).
        await kubectl(["delete", "networkpolicy", "default-deny", "-n", ws]);
        await kubectl(["patch", "resourcequota", "x1agent-workspace", "-n", ws, "--type", "merge", "-p", JSON.stringify({ spec: { hard: { pods: "200" } } })]);
        const stateBefore = JSON.stringify(await platform.state());
        // Every minute, remediating: the smallest interval the deployer allows (X1_DEPLOYER_SCHEDULE_MIN_INTERVAL_SECONDS, 60).
        await setSchedule({ cron: "* * * * *", remediate: true });
        const report = await waitFor(
            "the scheduled drift check to end",
            async () => {
                const r = await driftReport();
                return r.latest && r.latest.trigger === "schedule" && !["queued", "running"].includes(r.latest.status) ? r : undefined;
            },
            1_200_000,
            2_000,
        );
        const check = (await call(deployer!.url, "GET", `/v1/runs/${report.latest.runId}`, { token: deployer!.adminToken })).body.run;
        console.log(
            `[cluster tier] scheduled drift check ${check.id} (${check.operation}, ${report.schedule.cron}) in ${took(check)}: ${JSON.stringify(report.latest.resources.map((r: any) => [r.op, r.type, r.name, r.detailedDiff ?? r.diffs]))}`,
        );
        expect(report.latest, report.latest.error ?? "").toMatchObject({ status: "succeeded", trigger: "schedule", drifted: true });
        expect(check).toMatchObject({ operation: "drift", requestedBy: "scheduler" });
        drifted = report.latest.resources;
        checkRunId = report.latest.runId;
        const policy = drifted.find((r) => r.type === policyType);
        expect(policy, JSON.stringify(drifted)).toMatchObject({ op: "delete" });
        expect(policy!.name).toMatch(/default-deny/);
        const quota = drifted.find((r) => r.type === quotaType);
        expect(quota, JSON.stringify(drifted)).toMatchObject({ op: "update" });
        expect(Object.keys(quota!.detailedDiff ?? {})).toEqual([expect.stringMatching(/^spec\.hard(\.pods|\["pods"\])$/)]);
        // A drift report names properties, never their values.
        expect(JSON.stringify(report)).not.toContain('"200"');
        // refresh --preview-only: the state is as it was; the cluster still has both changes.
        expect(JSON.stringify(await platform.state())).toBe(stateBefore);
        expect((await list("resourcequotas", ws))[0].spec.hard.pods).toBe("200");
    }, 2_400_000);

    it("the console shows the scheduled check's drift report, naming both resources and what differs", async () => {
        expect(checkRunId, "the scheduled check ran").not.toBe("");
        const quota = drifted.find((r) => r.type === quotaType)!;
        const policy = drifted.find((r) => r.type === policyType)!;
        const shown = await showDriftInConsole({
            url: deployer!.url,
            token: deployer!.adminToken,
            stack,
            trigger: "schedule",
            expect: [
                { type: policyType, name: policy.name, drift: "deleted" },
                { type: quotaType, name: quota.name, drift: "changed", properties: Object.keys(quota.detailedDiff ?? {}) },
            ],
            screenshot: "cluster-platform-drift",
            timeoutMs: 300_000,
        });
        console.log(`[cluster tier] drift in the console: ${shown.summary}; screenshot ${shown.screenshot}`);
    }, 900_000);

    it("remediation: the scheduler's up puts back exactly what drifted, taking the patched field back from kubectl, with the policy pack applied", async () => {
        expect(checkRunId, "the scheduled check ran").not.toBe("");
        const queued = await waitFor(
            "the remediation to be queued",
            async () => {
                const r = await driftReport();
                return r.latest?.runId === checkRunId && r.latest.remediation ? r.latest.remediation : undefined;
            },
            300_000,
            1_000,
        );
        const up = await waitForRun(deployer!.url, deployer!.adminToken, queued.runId, 1_800_000);
        console.log(
            `[cluster tier] remediation ${up.operation} ${up.id}: ${up.status} ${JSON.stringify(up.counts)} in ${took(up)}; policy ${JSON.stringify({ applied: up.policy.applied, mandatory: up.policy.mandatory, advisory: up.policy.advisory })}`,
        );
        expect(up, up.error ?? "").toMatchObject({ operation: "up", trigger: "remediation", refresh: true, status: "succeeded", requestedBy: "scheduler" });
        expect(up.policy).toMatchObject({ applied: true, mandatory: 0 });
        // Exactly the drifted objects, and the ConfigMap `x1 refresh` recorded as gone: nothing else changes.
        expect(up.counts).toMatchObject({ create: 2, update: 1, delete: 0, replace: 0 });
        const changed = up.changes.map((c: { op: string; type: string }) => `${c.op} ${c.type}`).sort();
        expect(changed).toEqual(["create kubernetes:core/v1:ConfigMap", `create ${policyType}`, `update ${quotaType}`]);
        expect(
            up.changes
                .filter((c: { type: string }) => c.type !== "kubernetes:core/v1:ConfigMap")
                .map((c: { urn: string }) => c.urn)
                .sort(),
        ).toEqual(drifted.map((d) => d.urn).sort());
        const config = JSON.parse(await kubectl(["get", "configmap", "x1agent-config", "-n", "x1agent", "-o", "json"]));
        expect(config.data.X1AGENT_SECRETS_STORE).toBe("x1-local");
        const deny = JSON.parse(await kubectl(["get", "networkpolicy", "default-deny", "-n", ws, "-o", "json"]));
        expect(deny.spec).toMatchObject({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
        const [quota] = await list("resourcequotas", ws);
        expect(quota.spec.hard.pods).toBe("20");
        // The field is Pulumi's again: kubectl's field manager no longer owns it.
        const owners = JSON.parse(await kubectl(["get", "resourcequota", "x1agent-workspace", "-n", ws, "-o", "json", "--show-managed-fields"])).metadata
            .managedFields as { manager: string; fieldsV1?: { "f:spec"?: { "f:hard"?: Record<string, unknown> } } }[];
        expect(owners.filter((m) => m.fieldsV1?.["f:spec"]?.["f:hard"]?.["f:pods"]).map((m) => m.manager)).toEqual([
            expect.stringMatching(/^pulumi-kubernetes/),
        ]);
    }, 2_400_000);

    it("the next scheduled check finds no drift", async () => {
        const after = Date.now();
        const report = await waitFor(
            "a scheduled check after the remediation",
            async () => {
                const r = await driftReport();
                const l = r.latest;
                return l &&
                    l.runId !== checkRunId &&
                    l.trigger === "schedule" &&
                    l.checkedAt &&
                    Date.parse(l.checkedAt) > after - 5_000 &&
                    l.status !== "running"
                    ? r
                    : undefined;
            },
            900_000,
            2_000,
        );
        await setSchedule(null);
        expect(report.latest, JSON.stringify(report.latest)).toMatchObject({ status: "succeeded", drifted: false, resources: [], remediation: null });
    }, 1_200_000);
});

describe("destroy, through the deployer", () => {
    it("leaves no namespace, no object being deleted and no CRD but those the charts keep", async () => {
        const result = await deployerRun("destroy");
        expect(result.counts.delete).toBeGreaterThan(100);
        expect(await leftAfterDestroy()).toEqual({ namespaces: [], deleting: [], crds: [] });
        expect(await platform.state()).toEqual([]);
    }, 2_400_000);
});
