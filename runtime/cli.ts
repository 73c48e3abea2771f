/**
 * `x1`: the command line over the runtime library. `npm run x1 -- <command>`.
 *
 *   x1 stacks                     list the stacks and whether their config is valid
 *   x1 validate <stack>           check a stack's config without starting Pulumi
 *   x1 preview|up|refresh|drift|destroy|preview-destroy <stack> [--watch]   (drift: refresh --preview-only, writes nothing)
 *   x1 outputs <stack>
 *   x1 encryption-config <stack>  the API server EncryptionConfiguration the stack outputs, without a run
 *   x1 runs [stack] | x1 cancel <run>   (through the deployer)
 *   x1 deployer serve | x1 deployer token <name> [--team T[=role]]... [--admin]
 *
 * With X1_DEPLOYER_URL (and X1_DEPLOYER_TOKEN) set, stacks and runs go
 * through the deployer service: runs are queued there, and --watch follows
 * the live events. Without it, the CLI runs the engine itself.
 */
import { readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { encryptionConfiguration } from "../components/encryption/etcd-encryption";
import { chartKubeVersionHint, chartUnavailableHint, isChartUnavailable, isKubeVersionRefused } from "../components/addons/chart-source";
import { ConfigError } from "../stacks/validate";
import { DeployerClient, describeEvent } from "./deployer/client";
import { rolesText } from "./deployer/core/access";
import { defaultRole, type Role, roles, type TeamRoles } from "./deployer/core/roles";
import { deployerOptions, readSettings, serve } from "./deployer/server";
import { Deployer, type RunView, type StackSummary } from "./deployer/deployer";
import { listStackNames, UnknownStackError, validateStack } from "./engine/project";
import { type ChangeCounts, type Operation, operations, runOperation, stackOutputs } from "./engine/stack-runner";

const usage = `usage: x1 <command> [stack]
  stacks                         list stacks and whether their config validates
  validate <stack>               validate a stack's config (no Pulumi run)
  preview|up|refresh|drift|destroy|preview-destroy <stack> [--watch]   (drift: refresh --preview-only, writes nothing)
  outputs <stack>                print the stack's outputs
  encryption-config <stack>      print the EncryptionConfiguration (KMS v2) the stack outputs, without a run
  runs [stack]                   run history (deployer)
  cancel <run>                   cancel a queued or running run (deployer)
  deployer serve                 start the deployer service (HTTP API + console)
  deployer token <name> [--team T[=role]]... [--admin]   issue a bearer token (role: viewer, operator (default), approver, admin)
With X1_DEPLOYER_URL and X1_DEPLOYER_TOKEN set, commands go through the deployer service.`;

async function main(argv: string[]): Promise<number> {
    const flags = argv.filter((a) => a.startsWith("--"));
    const [command, stack] = argv.filter((a, i) => !a.startsWith("--") && argv[i - 1] !== "--team");
    if (command === "deployer") return deployerCommand(argv.slice(1));
    // Read from the stack file alone, never through the deployer: scripts/cluster.sh runs it before any cluster exists.
    if (command === "encryption-config") return encryptionConfigCommand(stack);
    const deployerUrl = process.env.X1_DEPLOYER_URL;
    if (deployerUrl) return remote(new DeployerClient(deployerUrl, process.env.X1_DEPLOYER_TOKEN), command, stack, flags);
    if (command === "stacks") {
        for (const name of listStackNames()) {
            try {
                const c = validateStack(name);
                console.log(`${name.padEnd(10)} ${c.cluster.provider.padEnd(13)} tier ${c.secrets.tier.padEnd(10)} ${c.workspaces.length} workspace(s)`);
            } catch (err) {
                console.log(`${name.padEnd(10)} INVALID: ${(err as ConfigError).problems?.length ?? "?"} problem(s); run: x1 validate ${name}`);
            }
        }
        return 0;
    }
    if (!command || !stack) {
        console.error(usage);
        return 2;
    }
    if (command === "validate") {
        const c = validateStack(stack);
        console.log(
            `stack '${stack}' config is valid: ${c.cluster.provider} cluster, secrets tier ${c.secrets.tier} (store ${c.secrets.storeName}, uiMode ${c.secrets.uiMode}), ${c.workspaces.length} workspace(s)`,
        );
        return 0;
    }
    if (command === "outputs") {
        console.log(JSON.stringify(await stackOutputs(stack), null, 2));
        return 0;
    }
    if (!operations.includes(command as Operation)) {
        console.error(`unknown command '${command}'\n${usage}`);
        return 2;
    }
    const operation = command as Operation;
    console.log(`x1 ${operation} ${stack}: validating config, then running the engine...`);
    const controller = new AbortController();
    // Ctrl-C asks the engine to cancel cleanly instead of killing it mid-write (which would leave the stack locked).
    process.once("SIGINT", () => {
        console.error("\ncancelling: waiting for the engine to stop cleanly (Ctrl-C again to force)...");
        controller.abort();
        process.once("SIGINT", () => process.exit(130));
    });
    const result = await runOperation(stack, operation, { onEvent: (e) => printProgress(operation, e), signal: controller.signal });
    console.log(`\n${summaryLine(operation, stack, result.counts, result.stackChange)} in ${(result.durationMs / 1000).toFixed(1)}s`);
    printDriftHint(operation, stack, result.counts);
    const manifestsDir = result.outputs.manifestsDir;
    if (typeof manifestsDir === "string" && manifestsDir) {
        console.log(`manifests: ${manifestsDir} (${countFiles(manifestsDir)} files)`);
    }
    for (const [k, v] of Object.entries(result.outputs)) {
        if (k === "manifestsDir") continue;
        const text = typeof v === "string" ? v : JSON.stringify(v);
        // Long outputs (the config, the EncryptionConfiguration) stay readable with `x1 outputs`.
        console.log(`  ${k}: ${text.length <= 100 ? text : `(${text.length} characters; npm run x1 -- outputs ${stack})`}`);
    }
    return 0;
}

/** `x1 encryption-config <stack>`: the EncryptionConfiguration the stack outputs (self-managed and local clusters), without a run. */
function encryptionConfigCommand(stack: string | undefined): number {
    if (!stack) {
        console.error(usage);
        return 2;
    }
    const e = validateStack(stack).etcdEncryption;
    if (e.mechanism === "none") {
        console.error(`stack '${stack}' sets etcdEncryption.enabled: false, so it outputs no EncryptionConfiguration: set it to true`);
        return 1;
    }
    if (e.mechanism !== "kms-v2-plugin") {
        console.error(
            `stack '${stack}' is a managed cluster: its cloud encrypts etcd (${e.mechanism}), and the stack outputs the key and the command that wires it, not an EncryptionConfiguration`,
        );
        return 1;
    }
    // The same document the EtcdEncryption component puts into the stack output `etcdEncryption`.
    process.stdout.write(encryptionConfiguration(e.kmsPluginEndpoint));
    return 0;
}

/** A refresh and a drift check change nothing in the cluster: their `update` and `delete` are what the engine found changed outside Pulumi. */
const findsDrift = (operation: Operation) => operation === "refresh" || operation === "drift";

/** One line per resource the engine finishes, so long runs show progress; a refresh's or drift check's changes are named as drift. */
function printProgress(operation: Operation, event: EngineEvent): void {
    const done = event.resOutputsEvent;
    if (done && done.metadata.type !== "pulumi:pulumi:Stack") {
        const { op, type, urn } = done.metadata;
        const name = urn.split("::").pop();
        if (findsDrift(operation) && (op === "update" || op === "delete")) {
            const what = op === "delete" ? "deleted outside Pulumi" : `changed outside Pulumi (${(done.metadata.diffs ?? []).join(", ")})`;
            console.log(`  ${symbol(op)} drift: ${type} ${name} ${what}`);
        } else if (op !== "same") console.log(`  ${symbol(op)} ${type} ${name} (${op})`);
    }
    const diag = event.diagnosticEvent;
    if (diag && (diag.severity === "error" || diag.severity === "warning") && !diag.ephemeral) {
        console.log(`  ${diag.severity}: ${diag.message.trim()}`);
    }
}

function symbol(op: string): string {
    return ({ create: "+", update: "~", delete: "-", replace: "+-", same: " " } as Record<string, string>)[op] ?? "*";
}

/** The run's counts in a line: the platform's resources; the stack's own resource (`stackChange`, when it changes) said apart. */
export function summaryLine(operation: Operation, stack: string, c: ChangeCounts, stackChange?: string | null): string {
    const changed = c.create + c.update + c.delete + c.replace;
    if (findsDrift(operation)) {
        if (c.update + c.delete === 0) return `${operation} ${stack}: no drift; ${c.same} unchanged`;
        return `${operation} ${stack}: drift in ${c.update + c.delete} resource(s): ${c.update} changed, ${c.delete} deleted outside Pulumi; ${c.same} unchanged`;
    }
    // Previews change nothing: they say what would.
    const verb = operation === "preview" || operation === "preview-destroy" ? "would be" : "";
    const parts = [
        `${c.create} ${verb} created`,
        `${c.update} ${verb} updated`,
        `${c.replace} ${verb} replaced`,
        `${c.delete} ${verb} deleted`,
        `${c.same} unchanged`,
    ].map((s) => s.replace(/ {2}/g, " "));
    const stackNote = stackChange ? `; the stack's own resource ${verb} ${stackChange === "delete" ? "deleted" : `${stackChange}d`}`.replace(/ {2}/g, " ") : "";
    return `${operation} ${stack}: ${changed === 0 ? "no changes; " : ""}${parts.join(", ")}${stackNote}`;
}

/**
 * After drift was found: a refresh has recorded it in the state, so the next
 * `up` applies the program's objects again; a drift check wrote nothing, so
 * the state still holds what was applied and a refresh must record it first.
 */
function printDriftHint(operation: Operation, stack: string, c: ChangeCounts): void {
    if (!findsDrift(operation) || c.update + c.delete === 0) return;
    console.log(
        operation === "refresh"
            ? `run \`x1 up ${stack}\` to apply the program's objects again`
            : `run \`x1 refresh ${stack}\` to record it in the state, then \`x1 up ${stack}\` to apply the program's objects again`,
    );
}

function countFiles(dir: string): number {
    try {
        return readdirSync(dir, { recursive: true }).filter((f) => statSync(path.join(dir, String(f))).isFile()).length;
    } catch {
        return 0;
    }
}

/** The same commands through the deployer service: runs queue there and --watch follows them live. */
async function remote(client: DeployerClient, command: string | undefined, stack: string | undefined, flags: string[]): Promise<number> {
    if (command === "stacks") {
        const { stacks } = await client.call<{ stacks: StackSummary[] }>("GET", "/v1/stacks");
        for (const s of stacks) {
            const last = s.lastRun ? `last ${s.lastRun.operation} ${s.lastRun.status}` : "no runs";
            console.log(
                `${s.name.padEnd(14)} ${(s.team ?? "-").padEnd(10)} ${s.valid ? `tier ${s.tier}` : `INVALID (${s.problems})`}  ${s.workspaces} workspace(s)  ${last}${s.activeRuns ? `, ${s.activeRuns} active` : ""}`,
            );
        }
        return 0;
    }
    if (command === "runs") {
        const { runs } = await client.call<{ runs: RunView[] }>("GET", `/v1/runs?limit=20${stack ? `&stack=${stack}` : ""}`);
        for (const r of runs) console.log(`${r.id}  ${r.stack.padEnd(14)} ${r.operation.padEnd(8)} ${r.status.padEnd(11)} ${r.createdAt}  ${r.requestedBy}`);
        return 0;
    }
    if (command === "cancel" && stack) {
        const { run } = await client.call<{ run: RunView }>("POST", `/v1/runs/${stack}/cancel`);
        console.log(`run ${run.id}: ${run.status}${run.cancelRequestedBy ? ` (cancel requested by ${run.cancelRequestedBy})` : ""}`);
        return 0;
    }
    if (!command || !stack || !operations.includes(command as Operation)) {
        console.error(usage);
        return 2;
    }
    // Naming the stack on the command line is the confirmation a destroy needs.
    const { run, approval } = await client.call<{ run: RunView; approval?: { id: string; status: string } }>("POST", `/v1/stacks/${stack}/runs`, {
        operation: command,
        ...(command === "destroy" ? { confirm: stack } : {}),
    });
    console.log(
        `x1 ${command} ${stack}: run ${run.id}${approval ? ` (its ${run.operation}: the ${command} needs approval ${approval.id})` : ""} ${run.queue ? `queued (#${run.queue.position}, waiting for ${run.queue.waitingFor})` : run.status} on ${client.url}`,
    );
    if (approval)
        console.log(
            `when the ${run.operation} has succeeded, an approver of the stack's team approves it: POST ${client.url}/v1/approvals/${approval.id}/approve`,
        );
    if (!flags.includes("--watch")) {
        console.log(`follow it with: x1 ${command} ${stack} --watch, or GET ${client.url}/v1/runs/${run.id}`);
        return 0;
    }
    process.once("SIGINT", () => {
        console.error("\ncancelling the run (the engine stops cleanly)...");
        void client.call("POST", `/v1/runs/${run.id}/cancel`).catch(() => undefined);
    });
    let status = run.status;
    /** The stack's own resource's change, from the run's summary event (the counts leave it out). */
    let stackChange: string | null = null;
    const started = Date.now();
    const ticker = setInterval(() => console.log(`  ... ${status} for ${Math.round((Date.now() - started) / 1000)}s`), 30_000);
    const end = await client
        .watch(
            run.id,
            (e) => {
                if (e.kind === "summary") stackChange = (e.data as { stackChange?: string | null }).stackChange ?? null;
                const line = describeEvent(e);
                if (line) console.log(line);
            },
            (r) => {
                if (r.status !== status || r.queue)
                    console.log(`  run ${r.status}${r.queue ? `: #${r.queue.position}, waiting for ${r.queue.waitingFor}` : ""}`);
                status = r.status;
            },
        )
        .finally(() => clearInterval(ticker));
    if (end.counts) {
        console.log(`\n${summaryLine(run.operation, stack, end.counts as unknown as ChangeCounts, stackChange)}: run ${end.status}`);
        printDriftHint(run.operation, stack, end.counts as unknown as ChangeCounts);
    } else console.log(`\nrun ${end.status}`);
    if (end.policy)
        console.log(
            end.policy.applied
                ? `policy: ${end.policy.mandatory} mandatory, ${end.policy.advisory} advisory result(s)`
                : `policy: not applied (${end.policy.note ?? ""})`,
        );
    if (end.error) console.log(end.error);
    return end.status === "succeeded" ? 0 : 1;
}

/** `x1 deployer serve` and `x1 deployer token`: the service itself, and its first tokens. */
async function deployerCommand(args: string[]): Promise<number> {
    const [sub, name] = args;
    if (sub === "serve") {
        await serve();
        return new Promise<number>(() => undefined); // runs until a signal stops it
    }
    if (sub === "token" && name) {
        const teams = teamRolesOf(args.flatMap((a, i) => (args[i - 1] === "--team" ? [a] : [])));
        const admin = args.includes("--admin");
        let issued: { token: string; name: string };
        if (process.env.X1_DEPLOYER_URL) {
            const client = new DeployerClient(process.env.X1_DEPLOYER_URL, process.env.X1_DEPLOYER_TOKEN);
            issued = await client.call("POST", "/v1/tokens", { name, teams, admin });
        } else {
            // No service to ask: open the deployer's database directly (the embedded one only while no deployer runs).
            const deployer = await Deployer.start({ ...deployerOptions(readSettings()), runWorker: false });
            try {
                issued = await deployer.bootstrapToken(name, teams, admin);
            } finally {
                await deployer.stop(0);
            }
        }
        console.error(`token '${issued.name}' for ${rolesText(teams)}${admin ? ", admin" : ""}; it is shown once, store it now:`);
        console.log(issued.token);
        return 0;
    }
    console.error(usage);
    return 2;
}

/**
 * What to show of a failed run. Automation API errors carry the CLI's whole
 * transcript, whose end is the diff of the last resources (a CRD's whole
 * schema, say), so: the engine's `error:` lines and the `Error:` line of an
 * exception the program threw, once each, and what to do
 * when a chart could not be had or refused the Kubernetes version; the
 * transcript's end only when it has none.
 */
function failureSummary(message: string): string {
    const ansiColour = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
    const errors = [
        ...new Set(
            message
                .split("\n")
                // `Error: ` starts the exception a failed program threw (a chart the SDK renders, helm.v3.Chart),
                // after Node's (coloured) `<ref *1> ` when the error object is circular.
                .map((l) =>
                    l
                        .replace(ansiColour, "")
                        .trim()
                        .replace(/^<ref \*\d+> (?=Error: )/, ""),
                )
                .filter((l) => l.startsWith("error: ") || l.startsWith("Error: ")),
        ),
    ];
    if (errors.length === 0) return message.split("\n").slice(-25).join("\n");
    return [
        ...errors,
        ...(errors.some(isChartUnavailable) ? [chartUnavailableHint] : []),
        ...(errors.some(isKubeVersionRefused) ? [chartKubeVersionHint] : []),
    ].join("\n");
}

/** `--team T` (operator) or `--team T=role`, as the token's roles. */
function teamRolesOf(flags: string[]): TeamRoles {
    const out: TeamRoles = {};
    for (const flag of flags) {
        const [team, role = defaultRole] = flag.split("=");
        if (!team || !(roles as readonly string[]).includes(role)) {
            throw new Error(`--team ${flag}: write --team <team> or --team <team>=<role>, the role one of ${roles.join(", ")}`);
        }
        out[team] = role as Role;
    }
    return out;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
        if (err instanceof ConfigError || err instanceof UnknownStackError) {
            console.error(err.message);
            process.exit(2);
        }
        console.error(`x1: ${failureSummary(err instanceof Error ? err.message : String(err))}`);
        process.exit(1);
    },
);
