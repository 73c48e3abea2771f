/**
 * The policy check's results and the three reports written from them: a
 * Markdown summary for the pull request comment, JSON for tools, and SARIF
 * 2.1.0 for code scanning. Pure functions; scripts/policy-check.ts runs the
 * previews and writes the files.
 */
import type { X1Policy } from "./lib/policy";

export type StackStatus = "passed" | "failed" | "skipped" | "error";

export interface Finding {
    policy: string;
    /** `mandatory` fails the check; `advisory` is reported only. */
    level: "mandatory" | "advisory";
    severity: string;
    message: string;
    /** The resource the violation is about (absent for stack-wide findings). */
    urn?: string;
}

export interface StackResult {
    stack: string;
    status: StackStatus;
    /** Why the stack was skipped, or what went wrong besides policy violations. */
    reason?: string;
    findings: Finding[];
    /** Resource counts the preview reported (create/update/same/delete/replace). */
    counts?: Record<string, number>;
    durationMs?: number;
}

export interface CheckReport {
    pack: { name: string; version: string; policies: number };
    stacks: StackResult[];
    /** True when any stack has a mandatory violation or an error. */
    failed: boolean;
}

export function summarize(pack: CheckReport["pack"], stacks: StackResult[]): CheckReport {
    return { pack, stacks, failed: stacks.some((s) => s.status === "failed" || s.status === "error") };
}

/** A stack's status from its findings and whether the preview itself failed for another reason. */
export function statusOf(findings: Finding[], error?: string): StackStatus {
    if (findings.some((f) => f.level === "mandatory")) return "failed";
    return error ? "error" : "passed";
}

/** The resource's type and name from a URN, for humans: `kubernetes:core/v1:Namespace x1agent-secrets`. */
export function resourceLabel(urn: string | undefined): string {
    if (!urn) return "(stack)";
    const parts = urn.split("::");
    const type = (parts[2] ?? "").split("$").pop() ?? "";
    return `${type} ${parts[3] ?? ""}`.trim();
}

const icon: Record<StackStatus, string> = { passed: "✅", failed: "❌", skipped: "⏭️", error: "⚠️" };

function cell(s: string): string {
    return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export function toMarkdown(report: CheckReport): string {
    const lines: string[] = [];
    const verdict = report.failed ? "❌ **Policy check failed**" : "✅ **Policy check passed**";
    lines.push(
        `## x1agent policy check`,
        "",
        `${verdict}: pack \`${report.pack.name}@${report.pack.version}\` (${report.pack.policies} policies) on a real \`pulumi preview\` of each stack.`,
        "",
    );
    lines.push("| stack | result | mandatory | advisory | resources | note |", "|---|---|---|---|---|---|");
    for (const s of report.stacks) {
        const mandatory = s.findings.filter((f) => f.level === "mandatory").length;
        const advisory = s.findings.length - mandatory;
        const resources = s.counts ? Object.values(s.counts).reduce((a, b) => a + b, 0) : "";
        lines.push(
            `| \`${s.stack}\` | ${icon[s.status]} ${s.status} | ${s.status === "skipped" ? "" : mandatory} | ${s.status === "skipped" ? "" : advisory} | ${resources} | ${cell(s.reason ?? "")} |`,
        );
    }
    for (const s of report.stacks.filter((x) => x.findings.length > 0)) {
        lines.push("", `### \`${s.stack}\``, "", "| level | severity | policy | resource | what to change |", "|---|---|---|---|---|");
        const sorted = [...s.findings].sort((a, b) => (a.level === b.level ? a.policy.localeCompare(b.policy) : a.level === "mandatory" ? -1 : 1));
        for (const f of sorted) {
            lines.push(`| ${f.level} | ${f.severity} | \`${f.policy}\` | ${cell(resourceLabel(f.urn))} | ${cell(f.message)} |`);
        }
    }
    const skipped = report.stacks.filter((s) => s.status === "skipped");
    if (skipped.length > 0) {
        lines.push(
            "",
            "Skipped stacks were **not checked** by a preview here (the reason in the table names what is missing and how to get it); the pack's unit tests (test/policy) cover the cloud stacks' resources with fake policy arguments.",
        );
    }
    lines.push("", "How to fix each policy: docs/policies.md. Override a level for one run: `--policy-pack-config` (see README, Policy pack).", "");
    return lines.join("\n");
}

export function toJson(report: CheckReport): string {
    return `${JSON.stringify(report, null, 2)}\n`;
}

/** SARIF 2.1.0: one rule per policy, one result per finding, located at the stack's config file. */
export function toSarif(report: CheckReport, policies: X1Policy[]): string {
    const sarifLevel = { mandatory: "error", advisory: "warning" } as const;
    const securitySeverity: Record<string, string> = { low: "3.0", medium: "5.5", high: "8.0", critical: "9.5" };
    const sarif = {
        $schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: [
            {
                tool: {
                    driver: {
                        name: "x1agent-policy-pack",
                        version: report.pack.version,
                        informationUri: "https://www.pulumi.com/docs/using-pulumi/crossguard/",
                        rules: policies.map((p) => ({
                            id: p.name,
                            name: p.name,
                            shortDescription: { text: p.description },
                            fullDescription: { text: p.description },
                            help: { text: p.remediationSteps, markdown: p.remediationSteps },
                            defaultConfiguration: { level: p.enforcementLevel === "mandatory" || p.enforcementLevel === "remediate" ? "error" : "warning" },
                            properties: { tags: ["security", p.meta.family], "security-severity": securitySeverity[p.severity ?? "medium"] },
                        })),
                    },
                },
                results: report.stacks.flatMap((s) =>
                    s.findings.map((f) => ({
                        ruleId: f.policy,
                        level: sarifLevel[f.level],
                        message: { text: `[${s.stack}] ${f.message}` },
                        locations: [
                            {
                                physicalLocation: { artifactLocation: { uri: `stacks/Pulumi.${s.stack}.yaml` }, region: { startLine: 1 } },
                                logicalLocations: f.urn ? [{ fullyQualifiedName: f.urn, kind: "resource" }] : [{ fullyQualifiedName: s.stack, kind: "module" }],
                            },
                        ],
                        partialFingerprints: { "x1agentFinding/v1": `${s.stack}|${f.policy}|${f.urn ?? ""}|${f.message}` },
                    })),
                ),
                invocations: [
                    {
                        executionSuccessful: !report.stacks.some((s) => s.status === "error"),
                        toolExecutionNotifications: report.stacks
                            .filter((s) => s.status === "skipped" || s.status === "error")
                            .map((s) => ({ level: s.status === "error" ? "error" : "note", message: { text: `${s.stack}: ${s.status}: ${s.reason ?? ""}` } })),
                    },
                ],
            },
        ],
    };
    return `${JSON.stringify(sarif, null, 2)}\n`;
}
