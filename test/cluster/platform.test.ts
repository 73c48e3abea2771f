/**
 * The whole platform applied to the local cluster, as the README's main job
 * does it: a throwaway copy of the `local` stack (every add-on from its
 * upstream chart, read from the chart mirror folder, X1_CHART_MIRROR) through
 * the real engine and provider against the real API server. Then what only an
 * API server can show: CRDs established, custom resources admitted by their
 * schemas, workloads Available, the security model enforced by RBAC, Pod
 * Security, the session ValidatingAdmissionPolicy and the workspace caps, drift found
 * by a refresh through the CLI and undone by `up`, a Tier 1 -> Tier 2 upgrade
 * with three NATS servers (these two skipped until they have run), and a
 * `destroy` that leaves nothing stuck. One stack lifecycle, in order: the
 * charts are installed once.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stacksDir } from "../../runtime/engine/project";
import { runOperation } from "../../runtime/engine/stack-runner";
import { chartMirrorFolder } from "../fixtures/charts";
import { type EngineSandbox, engineSandbox, restoreEnv } from "../helpers/engine";
import { kubeconfig, kubectl, kubectlJson } from "./cluster";

const stack = "cluster-platform";
const stackFile = path.join(stacksDir, `Pulumi.${stack}.yaml`);
const env = { passphrase: process.env.PULUMI_CONFIG_PASSPHRASE, mirror: process.env.X1_CHART_MIRROR };
let sandbox: EngineSandbox;

/** The local stack's config with `edit` applied, written as this test's stack (its own passphrase: no salt). */
function writeStack(edit: (config: Record<string, any>) => void = () => undefined): void {
    const local = parse(readFileSync(path.join(stacksDir, "Pulumi.local.yaml"), "utf8")) as { config: Record<string, any> };
    // The cluster this tier runs against (X1_CLUSTER_DIR may move it from .x1/cluster/).
    local.config["x1agent:cluster"] = { ...local.config["x1agent:cluster"], kubeconfig };
    edit(local.config);
    writeFileSync(
        stackFile,
        `# Written by test/cluster/platform.test.ts and removed after it: the local stack on the local cluster.\n${stringify({ config: local.config })}`,
    );
}

/** Every object of a kind on the cluster. */
async function list<T = any>(kind: string, namespace?: string): Promise<T[]> {
    return (await kubectlJson<{ items: T[] }>(["get", kind, ...(namespace ? ["-n", namespace] : ["-A"])])).items;
}
const condition = (o: any, type: string) => o.status?.conditions?.find((c: { type: string }) => c.type === type)?.status;

/** Every CRD Established, every Deployment Available, every StatefulSet with all replicas ready; what is not, by name. */
async function notReady(): Promise<string[]> {
    const out: string[] = [];
    for (const crd of await list("crd")) if (condition(crd, "Established") !== "True") out.push(`CRD ${crd.metadata.name}`);
    for (const d of await list("deploy")) if (condition(d, "Available") !== "True") out.push(`Deployment ${d.metadata.namespace}/${d.metadata.name}`);
    for (const s of await list("sts"))
        if ((s.status.readyReplicas ?? 0) !== s.spec.replicas)
            out.push(`StatefulSet ${s.metadata.namespace}/${s.metadata.name} ${s.status.readyReplicas ?? 0}/${s.spec.replicas}`);
    return out;
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
    sandbox = await engineSandbox("cluster-platform");
    process.env.X1_CHART_MIRROR = chartMirrorFolder();
    process.env.PULUMI_CONFIG_PASSPHRASE = "cluster-platform";
    writeStack();
});

afterAll(async () => {
    try {
        // Left by a failed test: take it down so the next run starts clean (destroy is idempotent).
        await runOperation(stack, "destroy").catch((err: Error) =>
            console.error(`[cluster tier] cleanup destroy failed: ${err.message.split("\n").slice(-5).join("\n")}`),
        );
    } finally {
        rmSync(stackFile, { force: true });
        restoreEnv({ PULUMI_CONFIG_PASSPHRASE: env.passphrase, X1_CHART_MIRROR: env.mirror });
        sandbox.cleanup();
    }
});

const ws = "x1agent-ws-demo";
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

    it("a second up reports no changes", async () => {
        const result = await runOperation(stack, "up");
        console.log(`[cluster tier] second up ${stack}: ${JSON.stringify(result.counts)} in ${(result.durationMs / 1000).toFixed(1)}s`);
        expect(result.counts).toMatchObject({ create: 0, update: 0, delete: 0, replace: 0 });
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
});

describe("destroy", () => {
    it("leaves no namespace, no object being deleted and no CRD but those the charts keep", async () => {
        const result = await runOperation(stack, "destroy");
        console.log(`[cluster tier] destroy ${stack}: ${JSON.stringify(result.counts)} in ${(result.durationMs / 1000).toFixed(1)}s`);
        const ours = ["x1agent", "x1agent-secrets", ws, "cert-manager", "external-secrets", "cnpg-system"];
        const namespaces = await list("namespaces");
        expect(namespaces.filter((n) => ours.includes(n.metadata.name)).map((n) => `${n.metadata.name} ${n.status.phase}`)).toEqual([]);
        const crds = await list("crd");
        expect(crds.filter((c) => c.metadata.deletionTimestamp).map((c) => c.metadata.name)).toEqual([]);
        // cert-manager's and CloudNativePG's charts keep their CRDs (Helm's keep policy, which the provider honours
        // with retainOnDelete), so uninstalling never deletes every certificate or database with them: on purpose.
        expect(crds.map((c) => c.metadata.name).filter((n) => !n.endsWith(".cert-manager.io") && !n.endsWith(".postgresql.cnpg.io"))).toEqual([]);
    });
});
