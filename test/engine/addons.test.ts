/**
 * The engine tier for the add-ons with their real upstream charts: the render
 * stack with all four add-ons installed (External Secrets, cert-manager, NATS
 * as a three-node cluster, CloudNativePG), each chart fetched from the chart
 * mirror served as a Helm repository on loopback (X1_CHART_MIRROR as a URL,
 * the path an air-gapped site takes), through the real CLI, engine,
 * Kubernetes provider and its Helm renderer, rendering to a directory. With
 * no cluster to ask, Helm renders for `cluster.kubernetesVersion` (default:
 * the local control plane's): cert-manager's chart requires >= 1.22 and
 * refuses the 1.20 Helm assumes otherwise. Asserts on what the charts
 * rendered from our values (resources and probes included, with the policy
 * pack applied to the up), on the version reaching Helm, and on the errors
 * when a chart cannot be had or the version is wrong.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { checkServerIdentity } from "node:tls";
import { parse, parseAllDocuments, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { upstreamCharts } from "../../components/addons/chart-source";
import { externalSecretsValues } from "../../components/addons/external-secrets";
import { natsEndpoint, natsValues } from "../../components/addons/nats";
import { postgresOperatorValues } from "../../components/addons/postgres";
import { projectRoot, stacksDir } from "../../runtime/engine/project";
import { runOperation } from "../../runtime/engine/stack-runner";
import { findingsFrom, policyPackPath } from "../../scripts/policy-check";
import { type EngineSandbox, engineSandbox, renderedFiles, restoreEnv } from "../helpers/engine";
import { chartMirrorFolder, serveChartRepository } from "../fixtures/charts";

const stack = "engine-addons";
const stackFile = path.join(stacksDir, `Pulumi.${stack}.yaml`);
const env = { passphrase: process.env.PULUMI_CONFIG_PASSPHRASE, mirror: process.env.X1_CHART_MIRROR };
let sandbox: EngineSandbox;
let repository: Awaited<ReturnType<typeof serveChartRepository>>;

/** Writes a throwaway copy of the render stack with `addons` (and extra config) over it. */
function writeStack(name: string, config: Record<string, unknown>): string {
    const file = path.join(stacksDir, `Pulumi.${name}.yaml`);
    const render = parse(readFileSync(path.join(stacksDir, "Pulumi.render.yaml"), "utf8")) as { config: Record<string, unknown> };
    writeFileSync(
        file,
        `# Written by test/engine/addons.test.ts and removed after it: the render stack with add-ons from real charts.\n` +
            stringify({ config: { ...render.config, "x1agent:cluster": { provider: "local", name: "x1agent-engine" }, ...config } }),
    );
    return file;
}

beforeAll(async () => {
    const folder = chartMirrorFolder();
    sandbox = await engineSandbox("addons");
    repository = await serveChartRepository(folder);
    process.env.X1_CHART_MIRROR = repository.url;
    // A throwaway stack with no secret config: the passphrase only unlocks its empty secrets.
    process.env.PULUMI_CONFIG_PASSPHRASE ??= "engine-addons";
    writeStack(stack, {
        "x1agent:nats": { replicas: 3 },
        "x1agent:postgres": { vectorEnabled: true },
        "x1agent:addons": { externalSecrets: { install: true }, certManager: { install: true }, nats: { install: true }, postgresOperator: { install: true } },
    });
});

afterAll(async () => {
    try {
        await runOperation(stack, "destroy");
    } finally {
        rmSync(stackFile, { force: true });
        await repository?.close();
        restoreEnv({ PULUMI_CONFIG_PASSPHRASE: env.passphrase, X1_CHART_MIRROR: env.mirror });
        sandbox.cleanup();
    }
});

interface Manifest {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string> };
    spec?: Record<string, any>;
    data?: Record<string, string>;
}

function manifests(): Manifest[] {
    return renderedFiles(path.join(sandbox.renderRoot, stack)).flatMap((f) =>
        parseAllDocuments(f.text)
            .map((d) => d.toJS() as Manifest | null)
            .filter((m): m is Manifest => m !== null),
    );
}

const find = (all: Manifest[], kind: string, name: string) => all.find((m) => m.kind === kind && m.metadata.name === name);

/** The host a route or client URL dials (`tls://host:port`). */
const hostOf = (url: string) => new URL(url).hostname;

/** Whether a certificate with these DNS names is accepted for `host`: Node's own RFC 6125 check, the rule nats-server's Go TLS applies too. */
function covers(dnsNames: string[], host: string): boolean {
    const cert = { subject: {}, subjectaltname: dnsNames.map((n) => `DNS:${n}`).join(", ") } as Parameters<typeof checkServerIdentity>[1];
    return checkServerIdentity(host, cert) === undefined;
}

describe("the add-ons from their real upstream charts, through a Helm repository on loopback", () => {
    it("up fetches each chart from the mirror and renders it with our values, and the policy pack finds nothing", async () => {
        const events: EngineEvent[] = [];
        const result = await runOperation(stack, "up", { policyPacks: [policyPackPath], onEvent: (e) => events.push(e) });
        const all = manifests();
        console.log(
            `[engine tier] up ${stack}: ${result.counts.create} created, ${all.length} manifests, chart requests ${JSON.stringify(repository.requests)}`,
        );
        // The pack's workload rules on the charts' own Deployments and StatefulSet: our values give each
        // container resources and probes, and what a chart cannot probe is in workload-probes' defaults.
        expect(findingsFrom(events)).toEqual([]);
        for (const chart of Object.values(upstreamCharts)) expect(repository.requests).toContain(`${chart.name}-${chart.version}.tgz`);
        expect(repository.requests).toContain("index.yaml");

        // cert-manager, rendered for the default Kubernetes version (its chart refuses 1.20): its CRDs and its three Deployments.
        const certManagerCrds = ["certificates", "certificaterequests", "clusterissuers", "issuers"].map((n) => `${n}.cert-manager.io`);
        for (const crd of [...certManagerCrds, "orders.acme.cert-manager.io", "challenges.acme.cert-manager.io"]) {
            expect(find(all, "CustomResourceDefinition", crd), crd).toBeDefined();
        }
        for (const name of ["cert-manager", "cert-manager-webhook", "cert-manager-cainjector"]) {
            expect(find(all, "Deployment", name)?.metadata.namespace, name).toBe("cert-manager");
        }
        expect(find(all, "ClusterIssuer", "x1agent-selfsigned")?.apiVersion).toBe("cert-manager.io/v1");
        // Helm hooks are left out, as helm.v4.Chart leaves them out when applying: no startupapicheck Job.
        expect(all.filter((m) => m.metadata.name.includes("startupapicheck"))).toEqual([]);

        // ESO 2.9.0 with installCRDs: its CRDs serve and store the v1 API our store is written in.
        const storeCrd = find(all, "CustomResourceDefinition", "clustersecretstores.external-secrets.io");
        expect(storeCrd?.spec?.versions.find((v: { name: string }) => v.name === "v1")).toMatchObject({ served: true, storage: true });
        expect(find(all, "ClusterSecretStore", "x1-local")?.apiVersion).toBe("external-secrets.io/v1");
        // Of ESO's own kinds (generators are another group), only those x1agent uses, and the SecretStore that chart
        // 2.9.0 always installs, are served (hardenedValues.crds).
        const esoCrds = all.filter((m) => m.kind === "CustomResourceDefinition" && m.spec?.group === "external-secrets.io");
        expect(esoCrds.map((m) => m.metadata.name).sort()).toEqual([
            "clustersecretstores.external-secrets.io",
            "externalsecrets.external-secrets.io",
            "secretstores.external-secrets.io",
        ]);
        expect(find(all, "Deployment", "external-secrets")?.metadata.namespace).toBe("external-secrets");
        // CloudNativePG: its CRDs (crds.create) and the operator, and our database Cluster on its v1 API.
        expect(find(all, "CustomResourceDefinition", "clusters.postgresql.cnpg.io")).toBeDefined();
        expect(all.some((m) => m.kind === "Deployment" && m.metadata.namespace === "cnpg-system")).toBe(true);
        expect(find(all, "Cluster", "x1agent-postgres")?.apiVersion).toBe("postgresql.cnpg.io/v1");
        // NATS: three servers that require client certificates.
        expect(find(all, "StatefulSet", "x1agent-nats")?.spec?.replicas).toBe(3);
    });

    it("the charts take our resources and probe values: none is silently ignored", () => {
        const all = manifests();
        const containerOf = (kind: string, namespace: string, name: string, container: string) => {
            const workload = all.find((m) => m.kind === kind && m.metadata.namespace === namespace && m.metadata.name === name);
            expect(workload, `${kind} ${namespace}/${name}`).toBeDefined();
            const found = (workload!.spec!.template.spec.containers as Record<string, any>[]).find((c) => c.name === container);
            expect(found, `${kind} ${namespace}/${name} container ${container}`).toBeDefined();
            return found!;
        };
        const probed = (c: Record<string, any>) => [c.livenessProbe !== undefined, c.readinessProbe !== undefined];
        const eso = (name: string, container: string) => containerOf("Deployment", "external-secrets", name, container);
        expect(eso("external-secrets", "external-secrets").resources).toEqual(externalSecretsValues.resources);
        expect(eso("external-secrets-webhook", "webhook").resources).toEqual(externalSecretsValues.webhook.resources);
        expect(eso("external-secrets-cert-controller", "cert-controller").resources).toEqual(externalSecretsValues.certController.resources);
        for (const [name, container] of [
            ["external-secrets", "external-secrets"],
            ["external-secrets-webhook", "webhook"],
            ["external-secrets-cert-controller", "cert-controller"],
        ] as const) {
            expect(probed(eso(name, container)), name).toEqual([true, true]);
        }
        const operator = containerOf("Deployment", "cnpg-system", "cnpg-cloudnative-pg", "manager");
        expect(operator.resources).toEqual(postgresOperatorValues.resources);
        expect(probed(operator)).toEqual([true, true]);
        const values = natsValues({ replicas: 3, mtls: true, jetstream: { enabled: true, storage: "10Gi" } }) as Record<string, any>;
        const nats = containerOf("StatefulSet", "x1agent", "x1agent-nats", "nats");
        expect(nats.resources).toEqual(values.container.resources);
        expect(nats.env).toContainEqual({ name: "GOMEMLIMIT", value: values.container.env.GOMEMLIMIT });
        expect(nats.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
        expect(probed(nats)).toEqual([true, true]);
        const reloader = containerOf("StatefulSet", "x1agent", "x1agent-nats", "reloader");
        expect(reloader.resources).toEqual(values.reloader.merge.resources);
        expect(reloader.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
    });

    it("the NATS server certificate covers every route the chart writes and the URL the api dials", () => {
        const all = manifests();
        const conf = find(all, "ConfigMap", "x1agent-nats-config")?.data?.["nats.conf"];
        expect(conf, "the chart's nats.conf").toBeDefined();
        const routes = [...(/"routes":\s*\[([^\]]*)\]/.exec(conf!)?.[1] ?? "").matchAll(/"([a-z]+:\/\/[^"]+)"/g)].map((m) => m[1]!);
        expect(routes).toHaveLength(3);
        expect(conf).toMatch(/"verify":\s*true/);
        const dnsNames = find(all, "Certificate", "x1agent-nats-server-tls")?.spec?.dnsNames as string[];
        for (const url of [...routes, natsEndpoint().url]) {
            expect(covers(dnsNames, hostOf(url)), `${url} against ${dnsNames.join(", ")}`).toBe(true);
        }
        // What the chart writes by default (short route hosts) would not be: the check can fail.
        expect(covers(dnsNames, "x1agent-nats-0.x1agent-nats-headless")).toBe(false);
        console.log(`[engine tier] NATS routes ${routes.join(", ")} covered by ${dnsNames.join(", ")}`);
    });

    it("no rendered file carries a secret value", () => {
        const text = renderedFiles(path.join(sandbox.renderRoot, stack))
            .map((f) => f.text)
            .join("\n");
        expect(text).not.toMatch(/postgres(ql)?:\/\/[^\s:@]+:[^\s@]+@/);
        // Key material, not the placeholder ESO's CRD documentation shows (`-----BEGIN PRIVATE KEY-----\n<private-key>`).
        expect(text).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----(\\n|\s)+[A-Za-z0-9+/=]{40}/);
    });

    it("a second up reports no changes", async () => {
        const result = await runOperation(stack, "up");
        expect(result.counts).toMatchObject({ create: 0, update: 0, delete: 0, replace: 0 });
    });

    it("destroy removes every rendered file but those of objects the charts mark helm.sh/resource-policy: keep", async () => {
        const kept = manifests()
            .filter((m) => (m.metadata as { annotations?: Record<string, string> }).annotations?.["helm.sh/resource-policy"] === "keep")
            .map((m) => `${m.kind} ${m.metadata.name}`)
            .sort();
        expect(kept).toEqual(expect.arrayContaining(["CustomResourceDefinition certificates.cert-manager.io"]));
        await runOperation(stack, "destroy");
        expect(
            manifests()
                .map((m) => `${m.kind} ${m.metadata.name}`)
                .sort(),
        ).toEqual(kept);
        console.log(`[engine tier] destroy ${stack}: ${kept.length} kept files (${kept.join(", ")})`);
    });
});

describe("the Kubernetes version the charts are rendered for", () => {
    const certManagerOnly = {
        externalSecrets: { install: false },
        certManager: { install: true },
        nats: { install: false },
        postgresOperator: { install: false },
    };
    const names = ["engine-kube-badversion", "engine-kube-oldversion"];
    afterAll(() => {
        for (const name of names) rmSync(path.join(stacksDir, `Pulumi.${name}.yaml`), { force: true });
    });

    it("a cluster.kubernetesVersion that is no version fails before Pulumi starts, naming the key, the value and the fix", async () => {
        writeStack(names[0]!, {
            "x1agent:cluster": { provider: "local", name: "x1agent-engine", kubernetesVersion: "1.36" },
            "x1agent:addons": certManagerOnly,
        });
        await expect(runOperation(names[0]!, "preview")).rejects.toThrow(
            'x1agent:cluster.kubernetesVersion = "1.36": must be a Kubernetes version major.minor.patch such as 1.36.3',
        );
    });

    it("a version the chart does not support reaches Helm, which refuses it; the CLI says which key sets it", async () => {
        writeStack(names[1]!, {
            "x1agent:cluster": { provider: "local", name: "x1agent-engine", kubernetesVersion: "1.21.0" },
            "x1agent:addons": certManagerOnly,
        });
        // Asynchronously: the repository is served from this process, which must keep answering while the CLI runs.
        const cli = await runCli(["preview", names[1]!], { X1_CHART_MIRROR: repository.url });
        expect(cli.status).toBe(1);
        expect(cli.stderr).toContain("chart requires kubeVersion: >= 1.22.0-0 which is incompatible with Kubernetes v1.21.0");
        expect(cli.stderr).toContain("cluster.kubernetesVersion");
        console.log(`[engine tier] cert-manager's chart for Kubernetes 1.21.0, as the CLI says it:\n${cli.stderr.trim()}`);
    });
});

/** The project's CLI (`npm run x1 -- ...`) in a child process, with its exit status and stderr. */
function runCli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(path.join(projectRoot, "node_modules", ".bin", "tsx"), ["runtime/cli.ts", ...args], {
            cwd: projectRoot,
            env: { ...process.env, ...env },
            stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, stderr }));
    });
}

describe("a chart that cannot be had says what to do", () => {
    const only = { externalSecrets: { install: false }, certManager: { install: false }, nats: { install: true }, postgresOperator: { install: false } };
    const names = ["engine-nochart-dir", "engine-nochart-url"];
    afterAll(() => {
        for (const name of names) rmSync(path.join(stacksDir, `Pulumi.${name}.yaml`), { force: true });
    });

    it("a mirror folder without the chart fails before anything is registered, naming X1_CHART_MIRROR and the file", async () => {
        const empty = path.join(sandbox.dir, "empty-mirror");
        mkdirSync(empty, { recursive: true });
        writeStack(names[0]!, { "x1agent:addons": only });
        process.env.X1_CHART_MIRROR = empty;
        try {
            await expect(runOperation(names[0]!, "preview")).rejects.toThrow(`X1_CHART_MIRROR=${empty} is a folder without nats-2.12.3.tgz (addons.nats)`);
        } finally {
            process.env.X1_CHART_MIRROR = repository.url;
        }
    });

    it("a repository that does not serve it fails naming the chart, the version and the source; the CLI adds X1_CHART_MIRROR", async () => {
        const emptyRepo = path.join(sandbox.dir, "empty-repo");
        mkdirSync(emptyRepo, { recursive: true });
        writeFileSync(path.join(emptyRepo, "index.yaml"), "apiVersion: v1\nentries: {}\n");
        const served = await serveChartRepository(emptyRepo);
        writeStack(names[1]!, { "x1agent:addons": only });
        try {
            // Asynchronously: the repository is served from this process, which must keep answering while the CLI runs.
            const cli = await runCli(["preview", names[1]!], { X1_CHART_MIRROR: served.url });
            expect(cli.status).toBe(1);
            expect(cli.stderr).toContain(`chart "nats" version "2.12.3" not found in ${served.url} repository`);
            expect(cli.stderr).toContain("Without network, set X1_CHART_MIRROR to a folder of packaged charts or a Helm repository URL");
            // The error, not the transcript: no resource diff in what the CLI prints as the failure.
            expect(cli.stderr).not.toContain("Previewing update");
            console.log(`[engine tier] a chart the mirror lacks, as the CLI says it:\n${cli.stderr.trim()}`);
        } finally {
            await served.close();
        }
    });
});
