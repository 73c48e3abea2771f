/**
 * The whole pack on real previews: the real CLI, language host, Kubernetes
 * provider and policy pack (through policies/run-pack), on an isolated state
 * backend. Every example stack that can be previewed here passes; the cloud
 * stacks are reported as skipped with the reason; deliberately wrong configs
 * each fail with the right policy and message.
 *
 * Faults the stack schema refuses (an unscoped store, a plaintext secret in
 * env) are injected into the real program by a resource transform
 * (programs/faults). A wildcard IAM policy needs the aws provider, which
 * cannot run here: it is covered with fake policy args in
 * secret-scoping.test.ts.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type EngineEvent, LocalWorkspace } from "@pulumi/pulumi/automation";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackResult } from "../../policies/report";
import { projectRoot, validateStack } from "../../runtime/engine/project";
import { pulumiCommand } from "../../runtime/engine/stack-runner";
import { chartSkipReason, checkStack, clusterNeeded, exampleStacks, findingsFrom, policyPackPath, skipReason } from "../../scripts/policy-check";
import { chartMirrorFrom } from "../../components/addons/chart-source";
import { migrationTag, recordAfterUp, recordBeforeRun, tierFloorTag } from "../../policies/tier-state";
import { appliesToCluster } from "../../stacks/schema";
import { writeFixtureCharts, type FixtureAddon } from "../fixtures/charts";
import { engineSandbox, type EngineSandbox } from "../helpers/engine";
import { fakeApiKey } from "./programs/faults/fault-values";

let sandbox: EngineSandbox;
let scratch: string;
let charts: Record<FixtureAddon, string>;
const passphraseBefore = process.env.PULUMI_CONFIG_PASSPHRASE;

beforeAll(async () => {
    sandbox = await engineSandbox("policy");
    scratch = mkdtempSync(path.join(tmpdir(), "x1-policy-configs-"));
    charts = writeFixtureCharts(path.join(scratch, "charts"));
    // Throwaway stacks on a throwaway backend, holding no secret config.
    process.env.PULUMI_CONFIG_PASSPHRASE ??= "x1agent-policy-test";
});
afterAll(() => {
    if (passphraseBefore === undefined) delete process.env.PULUMI_CONFIG_PASSPHRASE;
    sandbox?.cleanup();
});

/** stacks/Pulumi.<base>.yaml with `edit` applied to its config map, as YAML (no passphrase salt: a new stack gets its own). */
function configText(base: string, edit: (config: Record<string, any>) => void): string {
    const doc = parse(readFileSync(path.join(projectRoot, "stacks", `Pulumi.${base}.yaml`), "utf8")) as {
        config: Record<string, any>;
        encryptionsalt?: string;
    };
    delete doc.encryptionsalt;
    edit(doc.config);
    return stringify(doc);
}

/** The same, written to a scratch file (for checkStack's configFile). */
function configVariant(base: string, name: string, edit: (config: Record<string, any>) => void): string {
    const file = path.join(scratch, `${name}.yaml`);
    writeFileSync(file, configText(base, edit));
    return file;
}

const mandatory = (r: StackResult) => r.findings.filter((f) => f.level === "mandatory");
const policiesOf = (r: StackResult) => [...new Set(mandatory(r).map((f) => f.policy))].sort();

/** Installed resource plugins as the engine sees them. */
async function installedPlugins(): Promise<Set<string>> {
    const ws = await LocalWorkspace.create({ workDir: projectRoot, pulumiCommand: await pulumiCommand() });
    return new Set((await ws.listPlugins()).filter((p) => p.kind === "resource").map((p) => p.name));
}

describe("every example stack", () => {
    it("passes when it can be previewed here, and is skipped with the reason when it cannot", async () => {
        const installed = await installedPlugins();
        const outcome: Record<string, string> = {};
        for (const stack of exampleStacks()) {
            const config = validateStack(stack);
            const skip = skipReason(config, installed);
            if (skip) {
                expect(skip).toMatch(/not previewed: needs the cloud provider plugin pulumi-resource-(aws|gcp|azure-native)/);
                outcome[stack] = "skipped (cloud plugins)";
                continue;
            }
            // The charts come from where the program takes them (X1_CHART_MIRROR, else upstream),
            // as policy:check decides; when they cannot be fetched here, the add-ons render from
            // fixture charts (test/fixtures/charts.ts). Everything the program itself writes is
            // previewed as is. A stack that applies to a cluster (local) is previewed rendering
            // instead: this tier runs no cluster (the cluster tier applies it), and the policies
            // see the same resources.
            const viaFixtures = (await chartSkipReason(config, chartMirrorFrom())) !== undefined;
            const rendered = appliesToCluster(config.cluster);
            const configFile =
                viaFixtures || rendered
                    ? configVariant(stack, `${stack}-previewable`, (c) => {
                          if (rendered) c["x1agent:cluster"] = { ...c["x1agent:cluster"], kubeContext: undefined, kubeconfig: undefined };
                          if (!viaFixtures) return;
                          const addons = (c["x1agent:addons"] ??= {});
                          for (const a of Object.keys(charts) as FixtureAddon[]) addons[a] = { ...(addons[a] ?? {}), chart: { path: charts[a] } };
                      })
                    : undefined;
            const r = await checkStack(stack, { isolated: true, configFile });
            console.log(
                `[policy preview] ${stack}${viaFixtures ? " (fixture charts)" : ""}: ${r.status}, ${r.findings.length} finding(s), ${JSON.stringify(r.counts)} in ${r.durationMs} ms`,
            );
            expect(r.findings, `${stack}: ${JSON.stringify(r.findings, null, 2)}`).toEqual([]);
            expect(r.status, r.reason).toBe("passed");
            outcome[stack] = viaFixtures ? "passed (fixture charts)" : "passed";
        }
        console.log(`[policy preview] example stacks: ${JSON.stringify(outcome)}`);
        expect(outcome.render).toBe("passed");
        expect(outcome.local).toMatch(/^passed/);
        expect(outcome.onprem).toMatch(/^passed/);
    });
});

describe("a stack that applies to a cluster", () => {
    it("against a cluster that does not answer is skipped, naming what the provider said and how to start the cluster", async () => {
        // A kubeconfig like the one `npm run cluster -- down` leaves behind: its API server's port is closed.
        const port = await new Promise<number>((resolve) => {
            const server = createServer();
            server.listen(0, "127.0.0.1", () => {
                const { port } = server.address() as AddressInfo;
                server.close(() => resolve(port));
            });
        });
        const kubeconfig = path.join(scratch, "stopped-cluster.kubeconfig");
        writeFileSync(
            kubeconfig,
            stringify({
                apiVersion: "v1",
                kind: "Config",
                clusters: [{ name: "stopped", cluster: { server: `https://127.0.0.1:${port}`, "insecure-skip-tls-verify": true } }],
                users: [{ name: "admin", user: { token: "unused" } }],
                contexts: [{ name: "x1agent-local", context: { cluster: "stopped", user: "admin" } }],
                "current-context": "x1agent-local",
            }),
        );
        const file = configVariant("local", "local-cluster-stopped", (c) => {
            c["x1agent:cluster"] = { ...c["x1agent:cluster"], kubeconfig };
            const addons = (c["x1agent:addons"] ??= {});
            for (const a of Object.keys(charts) as FixtureAddon[]) addons[a] = { ...(addons[a] ?? {}), chart: { path: charts[a] } };
        });
        const r = await checkStack("local", { isolated: true, configFile: file });
        expect(r.status, r.reason).toBe("skipped");
        expect(r.findings).toEqual([]);
        expect(r.reason).toMatch(
            new RegExp(
                `^not previewed: its cluster does not answer \\(configured Kubernetes cluster is unreachable: .*127\\.0\\.0\\.1:${port}.*connection refused\\)\\. `,
            ),
        );
        expect(r.reason).toContain(`${clusterNeeded}: start it (the local stack's: npm run cluster -- up)`);
    });
});

describe("deliberately wrong stack configs fail with the right policy", () => {
    const tier2 = (c: Record<string, any>) => {
        c["x1agent:secrets"] = { tier: "vault", vault: { server: "https://vault.example.com" } };
        c["x1agent:workspaces"] = [{ id: "demo", secrets: [{ name: "anthropic", remoteKey: "x1agent/demo/anthropic" }] }];
    };

    it("a half-done tier upgrade: Tier 2 declared on a stack that ran Tier 1, x1agent-secrets dropped", async () => {
        const file = configVariant("render", "half-done-upgrade", tier2);
        const r = await checkStack("render", { isolated: true, configFile: file, tags: { "x1agent:tier-floor": "kubernetes" } });
        expect(policiesOf(r)).toContain("tier1-data-retained-during-migration");
        const f = mandatory(r).find((x) => x.policy === "tier1-data-retained-during-migration")!;
        expect(f.message).toMatch(
            /Namespace x1agent-secrets is not in the program, so this update deletes the Tier 1 secret values while a migration away from Tier 1 is open \(.*the stack last ran Tier 1 \(x1agent:tier-floor=kubernetes\) and now declares tier vault\)/,
        );
        // The run itself recorded the open migration before the preview (runtime/engine/stack-runner.ts).
        expect(f.message).toContain("stack tag x1agent:migration=kubernetes-to-vault:in-progress");
        expect(r.status).toBe("failed");
    });

    it("(for contrast) the same upgrade with the migration recorded passes: x1agent-secrets is kept, protected", async () => {
        const file = configVariant("render", "recorded-upgrade", (c) => {
            tier2(c);
            c["x1agent:secrets"].migration = { from: "kubernetes" };
        });
        const r = await checkStack("render", {
            isolated: true,
            configFile: file,
            tags: { "x1agent:tier-floor": "kubernetes", "x1agent:migration": "kubernetes-to-vault:in-progress" },
        });
        expect(r.findings, JSON.stringify(r.findings, null, 2)).toEqual([]);
        expect(r.status, r.reason).toBe("passed");
    });

    it("a downgrade below the tier floor, and the same run allowed by policy config", async () => {
        const r = await checkStack("render", { isolated: true, tags: { "x1agent:tier-floor": "vault" } });
        expect(policiesOf(r)).toEqual(["secrets-tier-no-downgrade"]);
        expect(mandatory(r)[0]!.message).toMatch(
            /secrets tier kubernetes \(Tier 1, from Platform output `tier`\) is below this stack's floor vault \(Tier 2, stack tag x1agent:tier-floor\)/,
        );

        const allow = path.join(scratch, "allow-downgrade.json");
        writeFileSync(allow, JSON.stringify({ "secrets-tier-no-downgrade": { allowDowngradeTo: "kubernetes" } }));
        const allowed = await checkStack("render", { isolated: true, tags: { "x1agent:tier-floor": "vault" }, policyConfig: allow });
        expect(mandatory(allowed)).toEqual([]);
    });

    it("Tier 1 without etcd encryption", async () => {
        const file = configVariant("render", "no-etcd-encryption", (c) => {
            c["x1agent:etcdEncryption"] = { enabled: false };
        });
        const r = await checkStack("render", { isolated: true, configFile: file });
        expect(policiesOf(r)).toEqual(["tier1-requires-etcd-encryption"]);
        expect(mandatory(r)[0]!.message).toMatch(/the stack declares Tier 1 .*but etcd encryption is disabled \(etcdEncryption.enabled: false\)/);
    });
});

describe("faults the schema refuses, injected into the real program", () => {
    const faultsDir = path.join(__dirname, "programs", "faults");

    /** Previews the fault program (a temp copy: stack init writes next to its Pulumi.yaml) with the pack. */
    async function previewFault(
        fault: string,
        policyConfig?: Record<string, unknown>,
        editConfig: (config: Record<string, any>) => void = () => {},
    ): Promise<StackResult & { output: string }> {
        const stackName = `fault-${fault}${policyConfig ? "-remediate" : ""}`;
        const dir = path.join(scratch, stackName);
        mkdirSync(dir, { recursive: true });
        for (const f of ["Pulumi.yaml", "package.json", "index.ts", "fault-values.ts", "escapes.ts"]) copyFileSync(path.join(faultsDir, f), path.join(dir, f));
        symlinkSync(path.join(projectRoot, "node_modules"), path.join(dir, "node_modules"));
        // The stack's own settings file: stack init adds its passphrase salt there.
        writeFileSync(
            path.join(dir, `Pulumi.${stackName}.yaml`),
            configText("render", (c) => {
                c["policytest:fault"] = fault;
                editConfig(c);
            }),
        );
        const stack = await LocalWorkspace.createOrSelectStack(
            { stackName, workDir: dir },
            {
                pulumiCommand: await pulumiCommand(),
                envVars: { PULUMI_CONFIG_PASSPHRASE: "x1agent-policy-test", PULUMI_SKIP_UPDATE_CHECK: "true", X1_PROGRAM_ROOT: projectRoot },
            },
        );
        const events: EngineEvent[] = [];
        const output: string[] = [];
        const started = Date.now();
        let error: string | undefined;
        let policyPackConfigs: string[] | undefined;
        if (policyConfig) {
            const file = path.join(dir, "policy-config.json");
            writeFileSync(file, JSON.stringify(policyConfig));
            policyPackConfigs = [file];
        }
        try {
            await stack.preview({
                policyPacks: [policyPackPath],
                policyPackConfigs,
                onEvent: (e) => events.push(e),
                onOutput: (l) => output.push(l),
                diff: true,
                color: "never",
            });
        } catch (err) {
            error = (err as Error).message;
        }
        const findings = findingsFrom(events);
        console.log(`[policy preview] fault ${fault}${policyConfig ? " (remediate)" : ""}: ${findings.length} finding(s) in ${Date.now() - started} ms`);
        const status = findings.some((f) => f.level === "mandatory") ? "failed" : error ? "error" : "passed";
        return { stack: stackName, status, reason: status === "error" ? error : undefined, findings, output: output.join("") };
    }

    it("an unscoped ClusterSecretStore", async () => {
        const r = await previewFault("unscoped-store");
        expect(r.status, r.reason).toBe("failed");
        expect(policiesOf(r)).toEqual(["cluster-secret-store-scoped"]);
        expect(mandatory(r)[0]!.message).toMatch(
            /ClusterSecretStore x1-local has no spec.conditions, so every namespace in the cluster .* can read through it/,
        );
    });

    it("with enforcement level remediate, the engine adds the missing store conditions and the preview passes", async () => {
        const r = await previewFault("unscoped-store", { "cluster-secret-store-scoped": "remediate" });
        expect(r.status, r.reason).toBe("passed");
        expect(r.output).toMatch(/\[remediate\]\s+cluster-secret-store-scoped/);
        expect(r.output).toContain('"^x1agent-ws-[a-z0-9]([-a-z0-9]*[a-z0-9])?$"');
    });

    it("store conditions unknown during the preview fail the mandatory check as mandatory, not as the SDK's advisory note", async () => {
        const r = await previewFault("unknown-conditions");
        expect(r.status, r.reason).toBe("failed");
        expect(mandatory(r).map((f) => f.policy)).toEqual(["cluster-secret-store-scoped"]);
        expect(mandatory(r)[0]!.message).toMatch(
            /cannot be verified during preview: .* value at \.spec\.conditions can't be known during preview .*fails closed/,
        );
        expect(r.findings.filter((f) => f.level === "advisory")).toEqual([]);
    });

    it("the escape set (docs/threat-model.md): every path around the older rules is named by the policy that closes it", async () => {
        // Through stack config the schema accepts: workspace demo asks for demo-x's key, workspace eso for a name
        // that can be eso-reader's token Secret, and demo's egress names the cloud metadata endpoint (0.0.0.0/0 passes:
        // the component excepts the endpoint from it).
        const r = await previewFault("escape-set", undefined, (c) => {
            c["x1agent:workspaces"] = [
                {
                    id: "demo",
                    egressCidrs: ["0.0.0.0/0", "169.254.169.254/32"],
                    secrets: [
                        { name: "anthropic", remoteKey: "demo-anthropic" },
                        { name: "borrowed", remoteKey: "demo-x-anthropic" },
                    ],
                },
                { id: "demo-x", secrets: [{ name: "anthropic", remoteKey: "demo-x-anthropic" }] },
                { id: "eso", secrets: [{ name: "reader", remoteKey: "eso-reader-token" }] },
            ];
        });
        expect(r.status, r.reason).toBe("failed");
        const found = mandatory(r).map((f) => `${f.policy}: ${f.message}`);
        const expected: [string, RegExp][] = [
            ["eso-kind-allowed", /^SecretStore x1agent-ws-demo\/escape-secret-store: a SecretStore is a store with its own provider/],
            ["eso-kind-allowed", /^ClusterExternalSecret escape-cluster-external-secret: a ClusterExternalSecret writes ExternalSecrets into every namespace/],
            ["eso-kind-allowed", /^STSSessionToken x1agent-ws-demo\/escape-sts-token: a STSSessionToken mints AWS session credentials of ESO's AWS identity/],
            [
                "external-secret-store-allowed",
                /^ExternalSecret x1agent-ws-demo\/escape-generated takes spec.dataFrom\[0\] from generator STSSessionToken escape-sts-token/,
            ],
            [
                "external-secret-remote-key-prefix",
                /^ExternalSecret x1agent-ws-demo\/escape-find-all uses spec.dataFrom\[0\].find against x1-local \(tier kubernetes\), whose provider does not search by path/,
            ],
            [
                "external-secret-target-secret",
                /^ExternalSecret x1agent-ws-demo\/escape-token-template sets spec.target.template.type kubernetes.io\/service-account-token/,
            ],
            [
                "no-service-account-token-secrets",
                /^Secret x1agent\/escape-api-token is a kubernetes.io\/service-account-token Secret for ServiceAccount x1agent-api/,
            ],
            [
                "rbac-no-indirect-secret-access",
                /^RoleBinding x1agent-ws-demo\/escape-debug lets ServiceAccount x1agent-ws-demo\/x1agent-session run commands in.*\(enter-pods, mint-tokens\)$/,
            ],
            ["rbac-no-indirect-secret-access", /^ClusterRole escape-aggregated-view aggregates into view rules that read Secret values/],
            ["workspace-pod-confined", /^Pod x1agent-ws-demo\/escape-host-path in a workspace volume pods is a hostPath volume/],
            ["secrets-namespace-no-workloads", /^Deployment x1agent-secrets\/escape-dump runs in x1agent-secrets as ServiceAccount eso-reader/],
            [
                "external-secret-remote-key-own-workspace",
                /^ExternalSecret x1agent-ws-demo\/borrowed reads 'demo-x-anthropic' .* under workspace demo-x's prefix demo-x-/,
            ],
            [
                "external-secret-remote-key-own-workspace",
                /^ExternalSecret x1agent-ws-eso\/reader reads 'eso-reader-token' .* a name starting with ServiceAccount x1agent-secrets\/eso-reader/,
            ],
            [
                "workspace-egress-no-metadata",
                /^NetworkPolicy x1agent-ws-demo\/allow-session-egress spec.egress\[3\].to\[1\] allows 169.254.169.254\/32, which covers the cloud metadata endpoint/,
            ],
        ];
        for (const [policy, message] of expected) {
            expect(
                mandatory(r).filter((f) => f.policy === policy && message.test(f.message)),
                `${policy} ${message}\nfound:\n${found.join("\n")}`,
            ).toHaveLength(1);
        }
        // Nothing else: each escape is refused by the policy meant for it, and the program around it stays clean.
        expect(mandatory(r), found.join("\n")).toHaveLength(expected.length);
    });

    it("a credential in a proxy URL in the api ConfigMap", async () => {
        const r = await previewFault("proxy-credentials");
        expect(r.status, r.reason).toBe("failed");
        expect(policiesOf(r)).toEqual(["configmap-no-secrets"]);
        expect(mandatory(r)[0]!.message).toMatch(
            /ConfigMap x1agent\/x1agent-config data\.HTTPS_PROXY contains what looks like credentials in a URL \(<redacted, \d+ characters>\)/,
        );
        expect(JSON.stringify(r.findings)).not.toContain("hunter2hunter2");
    });

    it("a plaintext secret in a container's env", async () => {
        const r = await previewFault("plaintext-env");
        expect(r.status, r.reason).toBe("failed");
        expect(policiesOf(r)).toEqual(["secret-env-from-secret-ref"]);
        expect(mandatory(r)[0]!.message).toMatch(
            /Deployment x1agent\/x1agent-api containers api sets ANTHROPIC_API_KEY as a literal value \(<redacted, \d+ characters>\)/,
        );
        // The engine's own diff shows the literal (that is the problem); the policy's findings never repeat it.
        expect(JSON.stringify(r.findings)).not.toContain(fakeApiKey);
    });
});

describe("the deployer's tag writers", () => {
    it("record the migration before a run and the floor after an up, on a real stack", async () => {
        const dir = path.join(scratch, "tags-program");
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, "Pulumi.yaml"), "name: x1agent-tags-test\nruntime: nodejs\n");
        const stack = await LocalWorkspace.createOrSelectStack(
            { stackName: "tags", workDir: dir },
            { pulumiCommand: await pulumiCommand(), envVars: { PULUMI_CONFIG_PASSPHRASE: "x1agent-policy-test", PULUMI_SKIP_UPDATE_CHECK: "true" } },
        );
        expect(await recordAfterUp(stack, { tier: "kubernetes" })).toEqual({ [tierFloorTag]: "kubernetes" });
        expect(await recordBeforeRun(stack, { tier: "vault" })).toEqual({ [migrationTag]: "kubernetes-to-vault:in-progress" });
        expect(await recordAfterUp(stack, { tier: "vault" })).toEqual({ [tierFloorTag]: "vault" });
        expect(await recordBeforeRun(stack, { tier: "vault", migration: { from: "kubernetes", done: true } })).toEqual({
            [migrationTag]: "kubernetes-to-vault:done",
        });
        const tags = await stack.listTags();
        expect(tags[tierFloorTag]).toBe("vault");
        expect(tags[migrationTag]).toBe("kubernetes-to-vault:done");
    });
});
