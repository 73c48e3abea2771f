/**
 * The engine tier for the add-ons: a variant of the `local` stack with every
 * add-on installed, each from a fixture chart (test/fixtures/charts.ts),
 * through the real CLI, engine, Kubernetes provider and its Helm renderer,
 * rendering to a directory. Asserts on the rendered files: what each chart
 * was given, and the custom resources that depend on them.
 */
import { rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stacksDir } from "../../runtime/engine/project";
import { runOperation } from "../../runtime/engine/stack-runner";
import { type EngineSandbox, engineSandbox, renderedFiles } from "../helpers/engine";
import { type FixtureAddon, writeFixtureCharts } from "../fixtures/charts";

const stack = "engine-addons";
const stackFile = path.join(stacksDir, `Pulumi.${stack}.yaml`);
let sandbox: EngineSandbox;
let charts: Record<FixtureAddon, string>;
const passphraseBefore = process.env.PULUMI_CONFIG_PASSPHRASE;

beforeAll(async () => {
    sandbox = await engineSandbox("addons");
    charts = writeFixtureCharts(path.join(sandbox.dir, "charts"));
    // A throwaway stack with no secret config: the passphrase only unlocks its empty secrets.
    process.env.PULUMI_CONFIG_PASSPHRASE ??= "engine-addons-fixture";
    const addon = (a: FixtureAddon) => ({ install: true, chart: { path: charts[a] } });
    writeFileSync(
        stackFile,
        `# Written by test/engine/addons.test.ts and removed after it; the local stack with every add-on from a fixture chart.\n` +
            stringify({
                config: {
                    "x1agent:cluster": { provider: "local", name: "x1agent-engine" },
                    "x1agent:secrets": { tier: "kubernetes" },
                    "x1agent:ingress": { host: "x1agent.localtest.me", issuer: { type: "selfSigned" } },
                    "x1agent:nats": { replicas: 3 },
                    "x1agent:postgres": { vectorEnabled: true },
                    "x1agent:addons": {
                        externalSecrets: addon("externalSecrets"),
                        certManager: addon("certManager"),
                        nats: addon("nats"),
                        postgresOperator: addon("postgresOperator"),
                    },
                },
            }),
    );
});

afterAll(async () => {
    try {
        await runOperation(stack, "destroy");
    } finally {
        rmSync(stackFile, { force: true });
        if (passphraseBefore === undefined) delete process.env.PULUMI_CONFIG_PASSPHRASE;
        sandbox.cleanup();
    }
});

interface Manifest {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string> };
    spec?: Record<string, unknown>;
    data?: Record<string, string>;
}

function manifests(): Manifest[] {
    return renderedFiles(path.join(sandbox.renderRoot, stack)).flatMap((f) =>
        parseAllDocuments(f.text)
            .map((d) => d.toJS() as Manifest | null)
            .filter((m): m is Manifest => m !== null),
    );
}

/** The values a fixture chart was rendered with, by the chart's name. */
function valuesGivenTo(all: Manifest[], chart: string): Record<string, any> {
    const echo = all.find((m) => m.kind === "ConfigMap" && m.data?.chart === chart);
    if (!echo) throw new Error(`no rendered values of ${chart}; rendered: ${all.map((m) => `${m.kind}/${m.metadata.name}`).join(", ")}`);
    return parseAllDocuments(echo.data!["values.yaml"]!)[0]!.toJS() as Record<string, any>;
}

describe("the local stack with every add-on, from fixture charts", () => {
    it("up installs each add-on from its chart source with the values the component decides", async () => {
        const result = await runOperation(stack, "up");
        expect(result.counts.create).toBeGreaterThan(20);
        const all = manifests();

        expect(valuesGivenTo(all, "x1agent-fixture-external-secrets")).toMatchObject({ installCRDs: true });
        expect(valuesGivenTo(all, "x1agent-fixture-cert-manager")).toMatchObject({ crds: { enabled: true } });
        expect(valuesGivenTo(all, "x1agent-fixture-postgres-operator")).toMatchObject({ crds: { create: true } });
        const nats = valuesGivenTo(all, "x1agent-fixture-nats");
        expect(nats.config.nats.tls).toEqual({ enabled: true, secretName: "x1agent-nats-server-tls", merge: { verify: true } });
        expect(nats.config.cluster).toMatchObject({ enabled: true, replicas: 3 });
        expect(nats.tlsCA).toEqual({ enabled: true, secretName: "x1agent-nats-server-tls", key: "ca.crt" });

        // Each chart renders into its add-on's namespace (the release namespace).
        const ns = (chart: string) => all.find((m) => m.kind === "ConfigMap" && m.data?.chart === chart)!.metadata.namespace;
        expect(ns("x1agent-fixture-external-secrets")).toBe("external-secrets");
        expect(ns("x1agent-fixture-cert-manager")).toBe("cert-manager");
        expect(ns("x1agent-fixture-nats")).toBe("x1agent");
        expect(ns("x1agent-fixture-postgres-operator")).toBe("cnpg-system");
        // The EncryptionConfiguration a local cluster's API server needs, as a stack output.
        const etcd = result.outputs.etcdEncryption as { provider: string; encryptionConfiguration: string };
        expect(etcd.provider).toBe("kms-v2-plugin");
        expect(parseAllDocuments(etcd.encryptionConfiguration)[0]!.toJS()).toMatchObject({
            apiVersion: "apiserver.config.k8s.io/v1",
            kind: "EncryptionConfiguration",
            resources: [{ resources: ["secrets"], providers: [{ kms: { apiVersion: "v2" } }, { identity: {} }] }],
        });
        console.log(`[engine tier] up ${stack}: ${result.counts.create} created, ${all.length} manifests`);
    });

    it("renders the custom resources on the current APIs: ESO v1 store, cert-manager issuers and certificates, the CloudNativePG cluster", () => {
        const all = manifests();
        const kinds = (kind: string) => all.filter((m) => m.kind === kind);
        expect(kinds("ClusterSecretStore").map((m) => [m.apiVersion, m.metadata.name])).toEqual([["external-secrets.io/v1", "x1-local"]]);
        expect(
            kinds("ClusterIssuer")
                .map((m) => m.metadata.name)
                .sort(),
        ).toEqual(["x1agent-local-ca", "x1agent-nats-ca", "x1agent-selfsigned"]);
        const tls = kinds("Certificate").find((m) => m.metadata.name === "x1agent-tls")!;
        expect(tls.metadata.namespace).toBe("x1agent");
        expect(tls.spec).toMatchObject({ secretName: "x1agent-tls", dnsNames: ["x1agent.localtest.me"], issuerRef: { name: "x1agent-local-ca" } });
        const [cluster] = kinds("Cluster");
        expect(cluster!.apiVersion).toBe("postgresql.cnpg.io/v1");
        expect(cluster!.spec).toMatchObject({ bootstrap: { initdb: { postInitApplicationSQL: ["CREATE EXTENSION IF NOT EXISTS vector"] } } });
    });

    it("no rendered file carries a secret value", () => {
        const text = renderedFiles(path.join(sandbox.renderRoot, stack))
            .map((f) => f.text)
            .join("\n");
        expect(text).not.toMatch(/postgres(ql)?:\/\/[^\s:@]+:[^\s@]+@/);
        expect(text).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    });

    it("a second up reports no changes", async () => {
        const result = await runOperation(stack, "up");
        expect(result.counts).toMatchObject({ create: 0, update: 0, delete: 0, replace: 0 });
    });
});
