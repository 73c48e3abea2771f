import { describe, expect, it } from "vitest";
import { type Finding, type StackResult, resourceLabel, statusOf, summarize, toJson, toMarkdown, toSarif } from "../../policies/report";
import { allPolicies } from "../../policies/rules";
import { chartRepos, cloudPluginsFor, exampleStacks, findingsFrom, parseArgs, skipReason, violationText } from "../../scripts/policy-check";
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
        const repos = chartRepos(stackConfig({ addons: { nats: { install: true, chart: { path: "./charts/nats" } } } as never }));
        expect(repos.map((r) => r.addon)).toEqual(["externalSecrets", "certManager", "postgresOperator"]);
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
