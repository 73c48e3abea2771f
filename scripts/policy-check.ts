/**
 * `npm run policy:check -- --stack <name> [--stack <name>...] | --all`
 *
 * Runs a real `pulumi preview` of each stack with the x1agent policy pack,
 * through the Automation API (runtime/engine/stack-runner.ts), and writes a
 * Markdown report (the pull-request comment), JSON and SARIF. Exits 1 when a
 * stack has a mandatory violation or its preview fails for another reason,
 * 2 on bad usage, 0 otherwise.
 *
 * Options:
 *   --out <dir>            where the reports go (default policy-report/)
 *   --policy-config <file> policy pack config (levels, per-policy config), as --policy-pack-config
 *   --tag key=value        stack tag on the previewed stack (isolated backend only), e.g.
 *                          --tag x1agent:tier-floor=vault to preview against a recorded floor
 *   --require-all          a stack that cannot be previewed here fails the check instead of being skipped
 *
 * State: unless PULUMI_BACKEND_URL is set, each run uses a fresh file backend
 * in a temp folder (the preview then compares against nothing deployed, and
 * the stack has only the tags given with --tag). Point PULUMI_BACKEND_URL at
 * the real state backend in CI to preview against the deployed stacks and
 * their recorded tags (x1agent:tier-floor, x1agent:migration); the check
 * never writes tags there. Manifests render into a temp folder either way.
 *
 * Stacks that need a cloud provider plugin (aws, gcp, azure-native) that is
 * not installed, where plugins cannot be acquired automatically (offline
 * toolchains set PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION), are reported
 * as skipped with that reason, never as passed. So are stacks whose charts
 * come from hosts that do not resolve (settled as the program settles them:
 * the stack's own chart, else X1_CHART_MIRROR, else upstream) and stacks
 * that apply to a cluster that is not running (no kubeconfig file, or the
 * provider finds the cluster unreachable): their preview needs the cluster.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { lookup } from "node:dns/promises";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { allPolicies } from "../policies/rules";
import { type Finding, type StackResult, statusOf, summarize, toJson, toMarkdown, toSarif } from "../policies/report";
import {
    type ChartedAddon,
    chartInstalls,
    chartMirrorFrom,
    chartMirrorVariable,
    chartUnavailableHint,
    upstreamCharts,
    withChartMirror,
} from "../components/addons/chart-source";
import { listStackNames, projectRoot, validateStack } from "../runtime/engine/project";
import { openStack, pulumiCommand, runOperation } from "../runtime/engine/stack-runner";
import { missingKubeconfig } from "../stacks/load";
import type { StackConfig } from "../stacks/schema";

/** The pack's launcher: works with every language host (see policies/run-pack). */
export const policyPackPath = path.join(projectRoot, "policies", "run-pack");

interface Args {
    stacks: string[];
    out: string;
    policyConfig?: string;
    tags: Record<string, string>;
    requireAll: boolean;
}

const usage = `usage: npm run policy:check -- (--stack <name> [--stack <name>...] | --all) [--out <dir>] [--policy-config <file>] [--tag key=value]... [--require-all]`;

export function parseArgs(argv: string[]): Args {
    const args: Args = { stacks: [], out: path.join(projectRoot, "policy-report"), tags: {}, requireAll: false };
    let all = false;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i]!;
        const value = () => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new UsageError(`${a} needs a value`);
            return v;
        };
        if (a === "--all") all = true;
        else if (a === "--stack") args.stacks.push(value());
        else if (a === "--out") args.out = path.resolve(value());
        else if (a === "--policy-config") args.policyConfig = path.resolve(value());
        else if (a === "--require-all") args.requireAll = true;
        else if (a === "--tag") {
            const [k, ...rest] = value().split("=");
            if (!k || rest.length === 0) throw new UsageError(`--tag wants key=value, e.g. --tag x1agent:tier-floor=vault`);
            args.tags[k] = rest.join("=");
        } else throw new UsageError(`unknown option ${a}`);
    }
    if (all) args.stacks = exampleStacks();
    if (args.stacks.length === 0) throw new UsageError("name a stack with --stack <name>, or use --all");
    const known = listStackNames();
    const unknown = args.stacks.filter((s) => !known.includes(s));
    if (unknown.length > 0) throw new UsageError(`unknown stack ${unknown.join(", ")}: known stacks are ${known.join(", ")}`);
    if (args.policyConfig && !existsSync(args.policyConfig)) throw new UsageError(`--policy-config ${args.policyConfig} does not exist`);
    return args;
}

class UsageError extends Error {}

/**
 * The stacks `--all` means: the stack files committed to the repository.
 * Tests and the deployer create short-lived stack files in stacks/ too
 * (copies of a stack for a run); those are not the project's stacks.
 * Outside a git checkout: every stacks/Pulumi.<name>.yaml.
 */
export function exampleStacks(): string[] {
    try {
        const tracked = execFileSync("git", ["ls-files", "stacks"], { cwd: projectRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
        const names = tracked
            .split("\n")
            .map((f) => /^stacks\/Pulumi\.([a-z0-9][-a-z0-9_.]*)\.yaml$/.exec(f)?.[1])
            .filter((n): n is string => n !== undefined);
        if (names.length > 0) return names.sort();
    } catch {
        // not a git checkout
    }
    return listStackNames();
}

/** A chart a stack installs from a repository, and who chose it: the stack (`addons.<name>.chart`), the mirror, or the pinned upstream. */
export interface ChartRepo {
    addon: ChartedAddon;
    repo: string;
    from: "stack" | "mirror" | "upstream";
}

/**
 * The repositories a stack's add-on charts come from, settled exactly as the
 * program settles them (withChartMirror, with the same mirror): charts from a
 * local path (the stack's or a mirror folder's) are not listed. A mirror
 * folder without a chart the stack installs throws the program's own error.
 */
export function chartRepos(config: StackConfig, mirror: string | undefined): ChartRepo[] {
    const installs = chartInstalls(config);
    const settled = withChartMirror(config.addons, mirror, installs);
    const out: ChartRepo[] = [];
    for (const addon of Object.keys(upstreamCharts) as ChartedAddon[]) {
        const chart = settled[addon].chart;
        if (!installs[addon] || chart?.path) continue;
        const from = config.addons[addon].chart ? "stack" : chart ? "mirror" : "upstream";
        out.push({ addon, repo: chart?.repo ?? upstreamCharts[addon].repo, from });
    }
    return out;
}

/** Why a stack's add-on charts cannot be fetched from here (their repository hosts do not resolve), or undefined. */
export async function chartSkipReason(config: StackConfig, mirror: string | undefined): Promise<string | undefined> {
    const unreachable: string[] = [];
    for (const { addon, repo, from } of chartRepos(config, mirror)) {
        const host = new URL(repo.replace(/^oci:\/\//, "https://")).hostname;
        try {
            await lookup(host);
        } catch {
            const by = from === "stack" ? `addons.${addon}.chart` : from === "mirror" ? `${chartMirrorVariable}=${mirror}` : "the pinned upstream";
            unreachable.push(`addons.${addon} from ${repo} (${by})`);
        }
    }
    if (unreachable.length === 0) return undefined;
    return `not previewed: its charts cannot be fetched from this machine (${unreachable.join(", ")}: the host does not resolve). ${chartUnavailableHint}`;
}

/**
 * Why a stack that applies to a cluster needs it running to be previewed,
 * and the way out. Found on this machine: against a cluster that does not
 * answer, the Kubernetes provider fails the preview of each add-on's
 * helm.v4.Chart ("configured Kubernetes cluster is unreachable: unable to load
 * schema information from the API server"), since Helm renders the chart
 * with that cluster's version and API groups.
 */
export const clusterNeeded =
    "A stack that applies to a cluster is previewed against that cluster (Helm renders its add-on charts with the running cluster's API), so its preview needs the cluster running";

/** Why a stack cannot be previewed before anything runs because its kubeconfig file is missing (the program's own check), or undefined. */
export function kubeconfigSkipReason(config: StackConfig, root: string = projectRoot): string | undefined {
    const missing = missingKubeconfig(config.cluster, root);
    return missing && `not previewed: ${missing}. ${clusterNeeded}`;
}

/** The Kubernetes provider's words for a cluster that does not answer, from an engine line, or undefined. */
export function clusterUnreachable(line: string): string | undefined {
    return /configured Kubernetes cluster is unreachable.*/.exec(line)?.[0];
}

/** Cloud provider plugins a stack's program needs, from its validated config. */
export function cloudPluginsFor(config: StackConfig): string[] {
    const need = new Set<string>();
    const byCluster: Record<string, string> = { eks: "aws", gke: "gcp", aks: "azure-native" };
    const byTier: Record<string, string> = { aws: "aws", gcp: "gcp", azure: "azure-native" };
    const c = byCluster[config.cluster.provider];
    if (c) need.add(c);
    const t = byTier[config.secrets.tier];
    if (t) need.add(t);
    return [...need];
}

/** Versions pinned in package.json for the cloud SDKs (the plugin version they ask for). */
function pinnedVersion(pkg: string): string {
    const json = JSON.parse(readFileSync(path.join(projectRoot, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    return json.dependencies[`@pulumi/${pkg}`] ?? "?";
}

/** Resource plugins installed for the engine (`pulumi plugin ls --json`). */
async function installedPlugins(): Promise<Set<string>> {
    const cmd = await pulumiCommand();
    try {
        const out = execFileSync(cmd.command, ["plugin", "ls", "--json"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
        return new Set((JSON.parse(out) as { name: string; kind: string }[]).filter((p) => p.kind === "resource").map((p) => p.name));
    } catch {
        return new Set();
    }
}

/** Why a stack cannot be previewed on this machine, or undefined when it can. */
export function skipReason(config: StackConfig, installed: Set<string>, env: NodeJS.ProcessEnv = process.env): string | undefined {
    const missing = cloudPluginsFor(config).filter((p) => !installed.has(p));
    if (missing.length === 0) return undefined;
    const offline = env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION === "true" || env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION === "1";
    if (!offline) return undefined; // the engine installs them the normal way
    const list = missing.map((p) => `pulumi-resource-${p} v${pinnedVersion(p)}`).join(", ");
    return (
        `not previewed: needs the cloud provider plugin ${list}, which is not installed and cannot be acquired on this machine ` +
        "(offline toolchain; these plugins cannot be built here). Its cloud resources are covered by the unit tests in test/policy with fake policy args; " +
        "run this check where the plugins can be installed (CI with network) to preview it"
    );
}

/** Strips the policy description the engine puts before each violation message. */
export function violationText(message: string, description: string | undefined): string {
    let m = message.trim();
    if (description && m.startsWith(description)) m = m.slice(description.length).trim();
    return m;
}

/** Turns the engine's policy events into findings (severity from the pack's metadata). */
export function findingsFrom(events: EngineEvent[]): Finding[] {
    const meta = new Map(allPolicies().map((p) => [p.name, p]));
    const seen = new Set<string>();
    const out: Finding[] = [];
    for (const e of events) {
        const p = e.policyEvent;
        if (!p) continue;
        const policy = meta.get(p.policyName);
        const finding: Finding = {
            policy: p.policyName,
            level: p.enforcementLevel === "mandatory" ? "mandatory" : "advisory",
            severity: policy?.severity ?? "medium",
            message: violationText(p.message, policy?.description),
            urn: p.resourceUrn || undefined,
        };
        const key = JSON.stringify(finding);
        if (!seen.has(key)) {
            seen.add(key);
            out.push(finding);
        }
    }
    return out;
}

export interface CheckStackOptions {
    policyConfig?: string;
    tags?: Record<string, string>;
    /** A stack config file to preview instead of stacks/Pulumi.<stack>.yaml (tests: deliberately wrong configs). */
    configFile?: string;
    /** The state backend is a throwaway one: preview a temporary copy of the stack (see checkStack). */
    isolated?: boolean;
    onOutput?: (line: string) => void;
}

/**
 * Previews one stack with the pack and returns its result; never throws for a
 * failed preview.
 *
 * `isolated` (a throwaway state backend): the preview runs as a copy of the
 * stack, `stacks/Pulumi.pc-<stack>-<random>.yaml`, deleted afterwards. On a
 * fresh backend `pulumi stack init` writes a passphrase salt into the stack's
 * file; the copy takes it, so the tracked stacks/Pulumi.<stack>.yaml is never
 * touched and a salt someone else's run left there never gets in the way.
 * Otherwise the real stack is previewed, with its state and recorded tags.
 */
export async function checkStack(stack: string, options: CheckStackOptions = {}): Promise<StackResult> {
    if (!options.isolated) return previewWithPack(stack, stack, options);
    const copy = `pc-${stack}-${randomBytes(3).toString("hex")}`;
    const copyFile = path.join(projectRoot, "stacks", `Pulumi.${copy}.yaml`);
    const source = readFileSync(options.configFile ?? path.join(projectRoot, "stacks", `Pulumi.${stack}.yaml`), "utf8");
    writeFileSync(copyFile, source.replace(/^encryptionsalt:.*$/m, ""));
    try {
        const r = await previewWithPack(copy, stack, { ...options, configFile: undefined });
        return { ...r, findings: r.findings.map((f) => ({ ...f, urn: f.urn?.split(copy).join(stack) })) };
    } finally {
        rmSync(copyFile, { force: true });
    }
}

async function previewWithPack(runAs: string, stack: string, options: CheckStackOptions): Promise<StackResult> {
    const events: EngineEvent[] = [];
    const output: string[] = [];
    const started = Date.now();
    try {
        if (options.tags && Object.keys(options.tags).length > 0) {
            const s = await openStack(runAs, options.configFile);
            for (const [k, v] of Object.entries(options.tags)) await s.setTag(k, v);
        }
        const result = await runOperation(runAs, "preview", {
            policyPacks: [policyPackPath],
            policyPackConfigs: options.policyConfig ? [options.policyConfig] : undefined,
            configFile: options.configFile,
            onEvent: (e) => events.push(e),
            onOutput: (line) => {
                output.push(line);
                options.onOutput?.(line);
            },
        });
        const findings = findingsFrom(events);
        return { stack, status: statusOf(findings), findings, counts: { ...result.counts }, durationMs: Date.now() - started };
    } catch (err) {
        const findings = findingsFrom(events);
        const mandatory = findings.some((f) => f.level === "mandatory");
        const unreachable = mandatory ? undefined : [(err as Error).message ?? "", ...output].map(clusterUnreachable).find((l) => l !== undefined);
        if (unreachable) {
            const reason =
                `not previewed: its cluster does not answer (${unreachable.slice(0, 300)}). ${clusterNeeded}: start it (the local stack's: npm run cluster -- up) ` +
                "and run the check again, or point x1agent:cluster.kubeContext / kubeconfig at a cluster that answers";
            return { stack, status: "skipped", reason, findings, durationMs: Date.now() - started };
        }
        const reason = mandatory ? undefined : previewError(err, output);
        return { stack, status: statusOf(findings, reason ?? "preview failed"), reason, findings, durationMs: Date.now() - started };
    }
}

/** The part of a failed preview's output that says why, without the engine's noise. */
function previewError(err: unknown, output: string[]): string {
    const text = [(err as Error).message ?? String(err), ...output].join("\n");
    const lines = [
        ...new Set(
            text
                .split("\n")
                .map((l) => l.trim())
                .filter((l) => /^error:|Error:|RunError/.test(l)),
        ),
    ];
    return (lines.slice(0, 4).join(" / ") || (err as Error).message || "preview failed").slice(0, 800);
}

async function main(argv: string[]): Promise<number> {
    let args: Args;
    try {
        args = parseArgs(argv);
    } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        console.error(`policy:check: ${err.message}\n${usage}`);
        return 2;
    }
    const ownState = !process.env.PULUMI_BACKEND_URL;
    const sandbox = mkdtempSync(path.join(tmpdir(), "x1-policy-check-"));
    if (ownState) {
        mkdirSync(path.join(sandbox, "state"));
        process.env.PULUMI_BACKEND_URL = `file://${path.join(sandbox, "state")}`;
        // The isolated backend holds nothing: a throwaway passphrase for stacks without a KMS secrets provider.
        if (!process.env.PULUMI_CONFIG_PASSPHRASE && !process.env.PULUMI_CONFIG_PASSPHRASE_FILE) process.env.PULUMI_CONFIG_PASSPHRASE = "x1agent-policy-check";
    } else if (Object.keys(args.tags).length > 0) {
        console.error(
            "policy:check: --tag only applies to the isolated backend; with PULUMI_BACKEND_URL set the stacks' recorded tags are used (this check never writes tags there)",
        );
        return 2;
    }
    process.env.X1_RENDER_ROOT = path.join(sandbox, "rendered");
    const installed = await installedPlugins();
    const policies = allPolicies();
    const version = (JSON.parse(readFileSync(path.join(projectRoot, "policies", "package.json"), "utf8")) as { version: string }).version;
    const results: StackResult[] = [];
    try {
        for (const stack of args.stacks) {
            let skip: string | undefined;
            try {
                // A bad config, or a mirror folder without a chart the stack installs: the program would stop with the same error.
                const config = validateStack(stack);
                skip = skipReason(config, installed) ?? (await chartSkipReason(config, chartMirrorFrom())) ?? kubeconfigSkipReason(config);
            } catch (err) {
                results.push({ stack, status: "error", reason: (err as Error).message, findings: [] });
                continue;
            }
            if (skip) {
                console.error(`[policy:check] ${stack}: skipped: ${skip}`);
                results.push({ stack, status: args.requireAll ? "error" : "skipped", reason: skip, findings: [] });
                continue;
            }
            console.error(`[policy:check] ${stack}: preview with the policy pack...`);
            let r = await checkStack(stack, { policyConfig: args.policyConfig, tags: args.tags, isolated: ownState });
            if (r.status === "skipped" && args.requireAll) r = { ...r, status: "error" };
            const mandatory = r.findings.filter((f) => f.level === "mandatory").length;
            console.error(
                `[policy:check] ${stack}: ${r.status}, ${mandatory} mandatory, ${r.findings.length - mandatory} advisory, in ${((r.durationMs ?? 0) / 1000).toFixed(1)}s${r.reason ? `: ${r.reason}` : ""}`,
            );
            results.push(r);
        }
    } finally {
        rmSync(sandbox, { recursive: true, force: true });
    }
    const report = summarize({ name: "x1agent", version, policies: policies.length }, results);
    mkdirSync(args.out, { recursive: true });
    const md = toMarkdown(report);
    writeFileSync(path.join(args.out, "policy-report.md"), md);
    writeFileSync(path.join(args.out, "policy-report.json"), toJson(report));
    writeFileSync(path.join(args.out, "policy-report.sarif"), toSarif(report, policies));
    console.log(md);
    console.error(`[policy:check] reports: ${path.relative(process.cwd(), args.out) || "."}/policy-report.{md,json,sarif}`);
    return report.failed ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(__filename)) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err) => {
            console.error(`policy:check: ${(err as Error).message}`);
            process.exit(1);
        },
    );
}
