import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { upstreamCharts } from "../../components/addons/chart-source";
import { type Finding, type StackResult, resourceLabel, statusOf, summarize, toJson, toMarkdown, toSarif } from "../../policies/report";
import { allPolicies } from "../../policies/rules";
import {
    chartRepos,
    chartSkipReason,
    cloudPluginsFor,
    clusterNeeded,
    clusterUnreachable,
    exampleStacks,
    findingsFrom,
    kubeconfigSkipReason,
    parseArgs,
    skipReason,
    violationText,
} from "../../scripts/policy-check";
import { stackConfig } from "../helpers/mocks";

const urn =
    "urn:pulumi:local::x1agent-platform::x1agent:index:Platform$x1agent:secrets:SecretsBackend$kubernetes:external-secrets.io/v1:ClusterSecretStore::x1agent-secrets-store";
const finding = (over: Partial<Finding> = {}): Finding => ({
    policy: "cluster-secret-store-scoped",
    level: "mandatory",
    severity: "critical",
    message: "ClusterSecretStore x1-local has no spec.conditions",
    urn,
    ...over,
});

const stacks: StackResult[] = [
    {
        stack: "local",
        status: statusOf([finding()]),
        findings: [finding(), finding({ level: "advisory", policy: "workload-probes", severity: "medium", message: "a | pipe" })],
    },
    { stack: "onprem", status: "passed", findings: [], counts: { create: 70, update: 0, same: 0, delete: 0, replace: 0 } },
    { stack: "prod", status: "skipped", reason: "not previewed: needs the cloud provider plugin pulumi-resource-aws v7.48.0", findings: [] },
];
const report = summarize({ name: "x1agent", version: "0.1.0", policies: allPolicies().length }, stacks);

describe("the PR report", () => {
    it("fails on a mandatory finding, not on advisory ones or skips", () => {
        expect(report.failed).toBe(true);
        expect(statusOf([finding({ level: "advisory" })])).toBe("passed");
        expect(statusOf([], "boom")).toBe("error");
        expect(summarize(report.pack, stacks.slice(1)).failed).toBe(false);
    });

    it("renders a Markdown comment: verdict, one row per stack, findings mandatory first, skips with their reason", () => {
        const md = toMarkdown(report);
        expect(md).toContain("❌ **Policy check failed**");
        expect(md).toContain("| `local` | ❌ failed | 1 | 1 |");
        expect(md).toContain("| `onprem` | ✅ passed | 0 | 0 | 70 |");
        expect(md).toContain("| `prod` | ⏭️ skipped |  |  |  | not previewed: needs the cloud provider plugin pulumi-resource-aws v7.48.0 |");
        expect(md).toContain(
            "| mandatory | critical | `cluster-secret-store-scoped` | kubernetes:external-secrets.io/v1:ClusterSecretStore x1agent-secrets-store | ClusterSecretStore x1-local has no spec.conditions |",
        );
        expect(md.indexOf("| mandatory |")).toBeLessThan(md.indexOf("| advisory |"));
        expect(md).toContain("a \\| pipe");
        expect(md).toMatch(/Skipped stacks were \*\*not checked\*\*/);
    });

    it("writes SARIF 2.1.0 with one rule per policy and results located at the stack file", () => {
        const sarif = JSON.parse(toSarif(report, allPolicies()));
        expect(sarif.version).toBe("2.1.0");
        const run = sarif.runs[0];
        expect(run.tool.driver.rules).toHaveLength(allPolicies().length);
        expect(run.tool.driver.rules.find((r: { id: string }) => r.id === "cluster-secret-store-scoped").properties["security-severity"]).toBe("9.5");
        expect(run.results).toHaveLength(2);
        expect(run.results[0]).toMatchObject({
            ruleId: "cluster-secret-store-scoped",
            level: "error",
            locations: [{ physicalLocation: { artifactLocation: { uri: "stacks/Pulumi.local.yaml" } }, logicalLocations: [{ fullyQualifiedName: urn }] }],
        });
        expect(run.results[1].level).toBe("warning");
        expect(run.invocations[0].toolExecutionNotifications[0].message.text).toMatch(/^prod: skipped: /);
        expect(JSON.parse(toJson(report)).stacks).toHaveLength(3);
    });

    it("names resources by type and name", () => {
        expect(resourceLabel(urn)).toBe("kubernetes:external-secrets.io/v1:ClusterSecretStore x1agent-secrets-store");
        expect(resourceLabel(undefined)).toBe("(stack)");
    });
});

describe("policy:check plumbing", () => {
    it("turns engine policy events into findings, without the description prefix, deduplicated", () => {
        const policy = allPolicies().find((p) => p.name === "secret-env-from-secret-ref")!;
        const event = {
            sequence: 1,
            timestamp: 0,
            policyEvent: {
                resourceUrn: urn,
                message: `${policy.description}\nDeployment x1agent/x1agent-api ...`,
                color: "never",
                policyName: policy.name,
                policyPackName: "x1agent",
                policyPackVersion: "0.1.0",
                policyPackVersionTag: "0.1.0",
                enforcementLevel: "mandatory" as const,
            },
        };
        expect(findingsFrom([event, event])).toEqual([
            { policy: policy.name, level: "mandatory", severity: "critical", message: "Deployment x1agent/x1agent-api ...", urn },
        ]);
        expect(violationText("other text", policy.description)).toBe("other text");
    });

    it("knows which stacks need cloud plugins and says why it skips them", () => {
        expect(cloudPluginsFor(stackConfig())).toEqual([]);
        const eks = stackConfig({
            cluster: { provider: "eks", name: "x1agent-dev" },
            cloud: {
                aws: {
                    region: "us-east-1",
                    accountId: "111111111111",
                    oidcProviderArn: "arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X",
                },
            },
        });
        expect(cloudPluginsFor(eks)).toEqual(["aws"]);
        expect(skipReason(eks, new Set(["kubernetes"]), { PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" })).toMatch(
            /pulumi-resource-aws v7\.48\.0, which is not installed/,
        );
        // Online, the engine installs plugins itself: nothing to skip.
        expect(skipReason(eks, new Set(), {})).toBeUndefined();
        expect(skipReason(eks, new Set(["aws"]), { PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" })).toBeUndefined();
    });

    it("lists the chart repositories a stack installs from, not local chart paths", () => {
        const repos = chartRepos(stackConfig({ addons: { nats: { install: true, chart: { path: "./charts/nats" } } } as never }), undefined);
        expect(repos).toEqual([
            { addon: "externalSecrets", repo: "https://charts.external-secrets.io", from: "upstream" },
            { addon: "certManager", repo: "https://charts.jetstack.io", from: "upstream" },
            { addon: "postgresOperator", repo: "https://cloudnative-pg.github.io/charts", from: "upstream" },
        ]);
    });

    describe("with a chart mirror (X1_CHART_MIRROR), settles each chart as the program does", () => {
        const folder = mkdtempSync(path.join(tmpdir(), "x1-pc-mirror-"));
        afterAll(() => rmSync(folder, { recursive: true, force: true }));
        for (const { name, version } of Object.values(upstreamCharts)) writeFileSync(path.join(folder, `${name}-${version}.tgz`), "");
        const ownNats = stackConfig({ addons: { nats: { chart: { repo: "https://charts.corp.example.com" } } } as never });

        it("a mirror folder: every chart is a local file, nothing to fetch, so the stack is previewed (no DNS asked)", async () => {
            expect(chartRepos(stackConfig(), folder)).toEqual([]);
            expect(await chartSkipReason(stackConfig(), folder)).toBeUndefined();
            // The stack's own addons.<name>.chart wins over the mirror, as in the program.
            expect(chartRepos(ownNats, folder)).toEqual([{ addon: "nats", repo: "https://charts.corp.example.com", from: "stack" }]);
        });

        it("a mirror folder without a chart the stack installs: the program's own error, naming the file and the fix", () => {
            const partial = mkdtempSync(path.join(tmpdir(), "x1-pc-mirror-"));
            try {
                expect(() => chartRepos(stackConfig(), partial)).toThrow(
                    `X1_CHART_MIRROR=${partial} is a folder without external-secrets-${upstreamCharts.externalSecrets.version}.tgz (addons.externalSecrets)`,
                );
            } finally {
                rmSync(partial, { recursive: true, force: true });
            }
        });

        it("a mirror URL: the charts come from it, and a mirror host that does not resolve is the reason named, with the fix", async () => {
            // .invalid never resolves (RFC 6761), on any machine.
            const mirror = "http://charts.mirror.invalid/x1";
            expect(chartRepos(ownNats, mirror).map((r) => [r.addon, r.repo, r.from])).toEqual([
                ["externalSecrets", mirror, "mirror"],
                ["certManager", mirror, "mirror"],
                ["nats", "https://charts.corp.example.com", "stack"],
                ["postgresOperator", mirror, "mirror"],
            ]);
            const reason = await chartSkipReason(stackConfig(), mirror);
            expect(reason).toContain(`addons.certManager from ${mirror} (X1_CHART_MIRROR=${mirror})`);
            expect(reason).toContain("the host does not resolve");
            expect(reason).toContain("set X1_CHART_MIRROR to a folder of packaged charts or a Helm repository URL");
        });
    });

    it("skips a stack whose kubeconfig file does not exist before previewing, naming the key, the value and the fix", () => {
        const root = mkdtempSync(path.join(tmpdir(), "x1-pc-root-"));
        try {
            const local = stackConfig({
                cluster: { provider: "local", name: "x1agent-local", kubeContext: "x1agent-local", kubeconfig: ".x1/cluster/kubeconfig" },
            });
            expect(kubeconfigSkipReason(local, root)).toBe(
                'not previewed: x1agent:cluster.kubeconfig = ".x1/cluster/kubeconfig": no such file; start the cluster it belongs to ' +
                    `(the local one: npm run cluster -- up), or point the key at the cluster's kubeconfig. ${clusterNeeded}`,
            );
            mkdirSync(path.join(root, ".x1/cluster"), { recursive: true });
            writeFileSync(path.join(root, ".x1/cluster/kubeconfig"), "");
            expect(kubeconfigSkipReason(local, root)).toBeUndefined();
            expect(kubeconfigSkipReason(stackConfig(), root)).toBeUndefined(); // renders to a folder: no cluster needed
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });

    it("recognizes the Kubernetes provider's words for a cluster that does not answer", () => {
        // Verbatim from a preview of the local stack whose kubeconfig names a stopped API server.
        const line =
            "error: kubernetes:helm.sh/v4:Chart resource 'x1agent-external-secrets-chart' has a problem: configured Kubernetes cluster is unreachable: " +
            'unable to load schema information from the API server: Get "https://127.0.0.1:7/openapi/v2?timeout=32s": dial tcp 127.0.0.1:7: connect: connection refused';
        expect(clusterUnreachable(line)).toBe(
            'configured Kubernetes cluster is unreachable: unable to load schema information from the API server: Get "https://127.0.0.1:7/openapi/v2?timeout=32s": dial tcp 127.0.0.1:7: connect: connection refused',
        );
        expect(clusterUnreachable("error: kubernetes:helm.sh/v4:Chart resource 'x' has a problem: grpc: the client connection is closing")).toBeUndefined();
    });

    it("parses its arguments and refuses bad ones with the fix", () => {
        expect(parseArgs(["--stack", "local", "--tag", "x1agent:tier-floor=vault"])).toMatchObject({
            stacks: ["local"],
            tags: { "x1agent:tier-floor": "vault" },
        });
        expect(parseArgs(["--all"]).stacks).toEqual(exampleStacks());
        expect(exampleStacks()).toEqual(expect.arrayContaining(["dev", "local", "onprem", "prod", "staging"]));
        expect(() => parseArgs([])).toThrow(/name a stack with --stack <name>, or use --all/);
        expect(() => parseArgs(["--stack", "nope"])).toThrow(/unknown stack nope: known stacks are/);
        expect(() => parseArgs(["--tag", "novalue", "--all"])).toThrow(/--tag wants key=value/);
    });
});
