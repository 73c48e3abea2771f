/**
 * The whole platform applied to the local cluster, as the README's main job
 * does it: a throwaway copy of the `local` stack (platform-stack.ts) through
 * the real engine and provider against the real API server. Then what only an
 * API server can show: CRDs established, custom resources admitted by their
 * schemas, workloads Available, the security model enforced by RBAC, Pod
 * Security, the session ValidatingAdmissionPolicy, the workspace LimitRange
 * and ResourceQuota; drift made with kubectl, found by a refresh through the
 * CLI and through the deployer service, and undone by the deployer's `up`
 * (the stack's second up); and the deployer's `destroy`, which leaves nothing
 * stuck. One stack lifecycle, in order: the charts are installed once. The
 * Tier 1 -> Tier 2 upgrade is tier-upgrade.test.ts.
 *
 * The deployer runs in this process over real HTTP on loopback (as the
 * runtime tier starts it), on its own copy of the project whose stack file
 * is kept equal to this test's, sharing this file's state backend: the CLI
 * and the deployer work on the same stack, as an operator's would.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployerPaths } from "../../runtime/deployer/paths";
import { projectRoot } from "../../runtime/engine/project";
import { runOperation } from "../../runtime/engine/stack-runner";
import { call, freshDatabase, projectCopy, type Service, startService, waitForRun } from "../runtime/helpers";
import { kubectl, run } from "./cluster";
import { leftAfterDestroy, list, notReady, type PlatformStack, platformStack, ws } from "./platform-stack";

const stack = "cluster-platform";
let platform: PlatformStack;
let deployer: Service | undefined;
let copy: ReturnType<typeof projectCopy> | undefined;

/** A run through the deployer's HTTP API, as the portal or `x1 <operation> --watch` asks for it, followed to its end. */
async function deployerRun(operation: "up" | "refresh" | "destroy"): Promise<Record<string, any>> {
    const svc = deployer!;
    const queued = await call(svc.url, "POST", `/v1/stacks/${stack}/runs`, {
        token: svc.adminToken,
        body: { operation, ...(operation === "destroy" ? { confirm: stack } : {}) },
    });
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    const ended = await waitForRun(svc.url, svc.adminToken, queued.body.run.id, 1_800_000);
    console.log(
        `[cluster tier] deployer ${operation} ${stack}: ${ended.status} ${JSON.stringify(ended.counts)} in ${((Date.parse(ended.finishedAt) - Date.parse(ended.startedAt)) / 1000).toFixed(1)}s`,
    );
    expect(ended.status, ended.error ?? "").toBe("succeeded");
    return ended;
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
    // Its project copy is made now, so it holds the stack file just written. The policy pack is not applied
    // to this stack's runs (the run records say so): its workload rules require CPU and memory requests and
    // a memory limit on every workload's containers (policies/rules/workload-resources.ts), and the four
    // upstream charts set none by default (`resources: {}` in each chart's values.yaml) nor does `local` give
    // them any. The policy tier runs the pack, on fixture charts.
    copy = projectCopy("cluster");
    const paths = deployerPaths(copy.paths.projectRoot, { policyPackDir: path.join(copy.paths.projectRoot, "no-policy-pack") });
    deployer = await startService({ database: (await freshDatabase("embedded")).options, paths, pollIntervalMs: 500 });
    platform.mirrors.push(deployer.stackFile(stack));
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
    it("up installs every add-on from its chart and the runtime: CRDs established, custom resources admitted, workloads available", async () => {
        const result = await runOperation(stack, "up");
        console.log(`[cluster tier] up ${stack}: ${JSON.stringify(result.counts)} in ${(result.durationMs / 1000).toFixed(1)}s`);
        expect(result.counts.create).toBeGreaterThan(100);
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
    });
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

describe("drift: objects changed with kubectl, found by a refresh through the CLI and the deployer, undone by up", () => {
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
    });

    it("a workspace's default-deny NetworkPolicy deleted with kubectl shows up in the deployer's refresh", async () => {
        await kubectl(["delete", "networkpolicy", "default-deny", "-n", ws]);
        const refresh = await deployerRun("refresh");
        expect(refresh.drift.map((d: { op: string; type: string }) => `${d.op} ${d.type}`)).toContain("delete kubernetes:networking.k8s.io/v1:NetworkPolicy");
        expect(refresh.drift.some((d: { name: string }) => d.name.endsWith("default-deny"))).toBe(true);
        expect(refresh.counts.delete).toBeGreaterThanOrEqual(1);
    });

    it("the deployer's up (the second up of the stack) recreates exactly the two deleted objects and changes nothing else", async () => {
        const up = await deployerRun("up");
        expect(up.policy).toMatchObject({ applied: false });
        // Every other resource is unchanged: an up of the applied platform is idempotent.
        expect(up.counts).toMatchObject({ create: 2, update: 0, delete: 0, replace: 0 });
        expect(up.changes.map((c: { op: string; type: string }) => `${c.op} ${c.type}`).sort()).toEqual([
            "create kubernetes:core/v1:ConfigMap",
            "create kubernetes:networking.k8s.io/v1:NetworkPolicy",
        ]);
        const config = JSON.parse(await kubectl(["get", "configmap", "x1agent-config", "-n", "x1agent", "-o", "json"]));
        expect(config.data.X1AGENT_SECRETS_STORE).toBe("x1-local");
        const deny = JSON.parse(await kubectl(["get", "networkpolicy", "default-deny", "-n", ws, "-o", "json"]));
        expect(deny.spec).toMatchObject({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    });
});

describe("destroy, through the deployer", () => {
    it("leaves no namespace, no object being deleted and no CRD but those the charts keep", async () => {
        const result = await deployerRun("destroy");
        expect(result.counts.delete).toBeGreaterThan(100);
        expect(await leftAfterDestroy()).toEqual({ namespaces: [], deleting: [], crds: [] });
        expect(await platform.state()).toEqual([]);
    });
});
