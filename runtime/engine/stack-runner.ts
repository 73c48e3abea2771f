/**
 * Runs Pulumi operations on a named stack through the Automation API, on the
 * same program `pulumi up` runs (the project folder, not an inline copy).
 * The CLI (`x1`) and the deployer both go through here.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { type EngineEvent, LocalWorkspace, type OpMap, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import { backendUrl } from "./backend";
import type { StackConfig } from "../../stacks/schema";
import { validateStackConfig } from "../../stacks/validate";
import { projectRoot, readStackFile } from "./project";
import { recordAfterUp, recordBeforeRun } from "../../policies/tier-state";

/**
 * The operations a run may be; declared once for the engine, the API and the
 * CLI. `drift` is `refresh --preview-only`: what the cluster has that the
 * state does not, written nowhere (the state is left as it is).
 */
export const operations = ["preview", "up", "refresh", "drift", "destroy", "preview-destroy"] as const;
export type Operation = (typeof operations)[number];

/**
 * One stack, read and validated once, with everything the engine needs to
 * run it: where the project is, the validated config, the secrets provider,
 * the config file (when not the stack's own) and the engine environment.
 */
export interface StackTarget {
    name: string;
    /** The project folder (Pulumi.yaml) the engine runs. */
    workDir: string;
    config: StackConfig;
    secretsProvider?: string;
    /** pulumi --config-file: a proposed copy of the stack file the deployer runs before touching the stack file. */
    configFile?: string;
    /** Environment of every Pulumi process started for this stack. */
    env: Record<string, string>;
}

/** Where a stack is run from: the project, its stack files, a proposed config file, the state backend (default backendUrl()). */
export interface StackLocation {
    projectRoot?: string;
    stacksDir?: string;
    configFile?: string;
    backendUrl?: string;
}

/** Reads and validates a stack's file once (throws ConfigError listing every problem) and builds its engine environment. */
export function prepareStack(stackName: string, where: StackLocation = {}): StackTarget {
    const workDir = where.projectRoot ?? projectRoot;
    const file = where.configFile ?? path.join(where.stacksDir ?? path.join(workDir, "stacks"), `Pulumi.${stackName}.yaml`);
    const stackFile = readStackFile(stackName, file);
    const config = validateStackConfig(stackName, stackFile.config);
    return {
        name: stackName,
        workDir,
        config,
        secretsProvider: stackFile.secretsProvider,
        configFile: where.configFile,
        env: stackEnv(stackName, stackFile.secretsProvider, where.backendUrl),
    };
}

/** The kinds of change the engine counts, in the order runs report them. */
export const changeKinds = ["create", "update", "same", "delete", "replace"] as const;
/** Resource change counts of one run, by kind of change: the platform's resources, not the stack's own resource. */
export type ChangeCounts = Record<(typeof changeKinds)[number], number>;

/** The type of the resource Pulumi keeps for a stack itself: the root of the stack's resources, not one of the platform's. */
export const stackResourceType = "pulumi:pulumi:Stack";

export interface RunResult {
    stack: string;
    operation: Operation;
    counts: ChangeCounts;
    /** What the stack's own resource did (or would do) when that is a change: `create` on its first up, `delete` when destroyed; null otherwise. Not in `counts`. */
    stackChange: string | null;
    /** Stack outputs after the run (empty for preview), secret values masked. */
    outputs: Record<string, unknown>;
    durationMs: number;
}

export interface RunOptions {
    /** Receives every engine event as it happens. */
    onEvent?: (event: EngineEvent) => void;
    /** Receives the engine's human-readable output lines. */
    onOutput?: (line: string) => void;
    /** Policy pack folders applied to the run. */
    policyPacks?: string[];
    /** Policy pack config files, parallel to policyPacks. */
    policyPackConfigs?: string[];
    /** Abort the run (the engine is asked to cancel; the stack is left unlocked). */
    signal?: AbortSignal;
    /** Run with this stack config file instead of stacks/Pulumi.<stack>.yaml (pulumi --config-file). */
    configFile?: string;
    /** Resource operations in flight at once (pulumi --parallel); default the CLI's, 4 per CPU. */
    parallel?: number;
    /** preview and up: refresh the state against the cluster first (`--refresh`): an up then undoes out-of-band changes, a preview shows that. */
    refresh?: boolean;
    /**
     * preview and up: take back the fields another field manager took over
     * (`kubectl edit`, `kubectl patch`, `kubectl scale`). The Kubernetes
     * provider applies with Server-Side Apply and does not force by default,
     * so an up that puts such a field back to the program's value fails
     * with "Server-Side Apply field conflict detected"; with this it applies
     * with force (the provider's PULUMI_K8S_ENABLE_PATCH_FORCE). Drift
     * remediation asks for it: undoing out-of-band changes is its purpose.
     */
    takeFieldOwnership?: boolean;
}

/**
 * Passphrase of the `local` and `render` stacks' secrets provider. It protects
 * nothing: they hold no secret values (secret fields name Kubernetes
 * Secrets). Environment stacks use a cloud KMS secrets provider instead.
 */
const localPassphrase = "x1agent-local";
const localPassphraseStacks = ["local", "render"];

/**
 * CLIs found so far, by where they were looked for. PulumiCommand.get runs
 * `pulumi version` (about a second of CPU); every run opens a stack through
 * here, so the deployer paid it once per run before its first event.
 */
const found = new Map<string, Promise<PulumiCommand>>();

/** Finds the pulumi CLI: the project toolchain first, then PATH. */
export async function pulumiCommand(): Promise<PulumiCommand> {
    const toolchainBin = path.join(process.env.X1_TOOLCHAIN_DIR ?? path.join(projectRoot, ".pulumi-toolchain"), "bin");
    const root = existsSync(path.join(toolchainBin, "pulumi")) ? path.dirname(toolchainBin) : undefined;
    const key = root ?? `PATH=${process.env.PATH ?? ""}`;
    let command = found.get(key);
    if (!command) {
        // skipVersionCheck: the toolchain script already checked the version against package.json.
        command = PulumiCommand.get({ root, skipVersionCheck: true });
        found.set(key, command);
        // A failed look-up is not remembered: the next call (after setup) looks again.
        command.catch(() => found.delete(key));
    }
    try {
        return await command;
    } catch (err) {
        throw new Error(`the pulumi CLI was not found (${(err as Error).message}). Run ./scripts/setup.sh, or put pulumi on PATH.`);
    }
}

/** Environment for every Pulumi process this project starts for a stack of stacks/. */
export function engineEnv(stackName: string): Record<string, string> {
    return stackEnv(stackName, readStackFile(stackName).secretsProvider);
}

/** The engine environment of a stack whose file names `secretsProvider` (none: the passphrase provider). */
function stackEnv(stackName: string, secretsProvider: string | undefined, stateUrl = backendUrl()): Record<string, string> {
    const env: Record<string, string> = { PULUMI_BACKEND_URL: stateUrl, PULUMI_SKIP_UPDATE_CHECK: "true" };
    if (!secretsProvider && !process.env.PULUMI_CONFIG_PASSPHRASE && !process.env.PULUMI_CONFIG_PASSPHRASE_FILE) {
        if (!localPassphraseStacks.includes(stackName)) {
            throw new Error(`stack '${stackName}' uses the passphrase secrets provider: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE`);
        }
        env.PULUMI_CONFIG_PASSPHRASE = localPassphrase;
    }
    return env;
}

/**
 * Opens (creating on first use) a stack of this project. A stack named by
 * its name is read and validated first: a bad config never reaches Pulumi.
 */
export async function openStack(stack: string | StackTarget, configFile?: string): Promise<Stack> {
    const target = typeof stack === "string" ? prepareStack(stack, { configFile }) : stack;
    return LocalWorkspace.createOrSelectStack(
        { stackName: target.name, workDir: target.workDir },
        { pulumiCommand: await pulumiCommand(), envVars: target.env, secretsProvider: target.secretsProvider },
    );
}

/** Runs one operation on a stack and returns what changed. */
export async function runOperation(stack: string | StackTarget, operation: Operation, options: RunOptions = {}): Promise<RunResult> {
    const prepared = typeof stack === "string" ? prepareStack(stack, { configFile: options.configFile }) : stack;
    const target = options.takeFieldOwnership ? { ...prepared, env: { ...prepared.env, PULUMI_K8S_ENABLE_PATCH_FORCE: "true" } } : prepared;
    const { secrets } = target.config;
    const opened = await openStack(target);
    // Cancelled while the stack was being opened: the engine never starts (an already-aborted signal would not reach it).
    options.signal?.throwIfAborted();
    const started = Date.now();
    let stackStep: string | undefined;
    const common = {
        onEvent: (e: EngineEvent) => {
            stackStep = stackStepOf(e) ?? stackStep;
            options.onEvent?.(e);
        },
        onOutput: options.onOutput,
        signal: options.signal,
        configFile: target.configFile,
        color: "never" as const,
        parallel: options.parallel,
    };
    const policy = { policyPacks: options.policyPacks, policyPackConfigs: options.policyPackConfigs };
    // No --diff: it only adds every changed object's properties to the CLI's text output, which nothing
    // reads (runs are followed through engine events, which carry the diffs) and which the Automation
    // API keeps in memory until the run ends: a whole CRD schema per chart CRD created.
    let changes: OpMap | undefined;
    let outputs: Record<string, unknown> = {};
    // The policy pack never sees the previous deployment: the tier floor and an
    // open tier migration travel as stack tags, which every preview and up
    // records on purpose (policies/tier-state.ts, docs/policies.md).
    if (operation === "preview" || operation === "up") {
        await recordBeforeRun(opened, secrets);
        options.signal?.throwIfAborted();
    }
    switch (operation) {
        case "preview": {
            const r = await opened.preview({ ...common, ...policy, refresh: options.refresh });
            changes = r.changeSummary;
            break;
        }
        case "up": {
            const r = await opened.up({ ...common, ...policy, refresh: options.refresh });
            changes = r.summary.resourceChanges;
            outputs = maskOutputs(r.outputs);
            await recordAfterUp(opened, secrets);
            break;
        }
        case "refresh": {
            const r = await opened.refresh({ ...common });
            changes = r.summary.resourceChanges;
            break;
        }
        case "drift": {
            // The Automation API's refresh --preview-only (Stack.refresh's previewOnly is deprecated for it).
            const r = await opened.previewRefresh({ ...common });
            changes = r.changeSummary;
            break;
        }
        case "destroy": {
            const r = await opened.destroy({ ...common });
            changes = r.summary.resourceChanges;
            break;
        }
        case "preview-destroy": {
            // `pulumi destroy --preview-only`: what a destroy would delete; nothing is changed.
            const r = await opened.previewDestroy({ ...common });
            changes = r.changeSummary;
            break;
        }
    }
    return {
        stack: target.name,
        operation,
        counts: countChanges(changes, stackStep),
        stackChange: stackChangeOf(stackStep),
        outputs,
        durationMs: Date.now() - started,
    };
}

/** Current outputs of a stack, secret values masked. */
export async function stackOutputs(stackName: string): Promise<Record<string, unknown>> {
    const stack = await openStack(stackName);
    return maskOutputs(await stack.outputs());
}

/** The step of the stack's own resource an engine event reports, if it reports one (a refresh steps only custom resources, so not it). */
export function stackStepOf(event: EngineEvent): string | undefined {
    const meta = event.resourcePreEvent?.metadata ?? event.resOutputsEvent?.metadata;
    return meta?.type === stackResourceType ? meta.op : undefined;
}

/**
 * A run's change counts of the platform's resources. The engine's totals
 * include the stack's own resource (`pulumi:pulumi:Stack`: created by the
 * first up, unchanged after, deleted by a destroy); it is taken out by the
 * step the engine reported for it (`stackStep`), so the counts agree with the
 * resources a run lists. `stackChangeOf` says that step when it is a change.
 */
export function countChanges(changes: OpMap | undefined, stackStep?: string): ChangeCounts {
    const c: OpMap = changes ?? {};
    const counts = Object.fromEntries(changeKinds.map((k) => [k, c[k] ?? 0])) as ChangeCounts;
    const kind = changeKinds.find((k) => k === stackStep);
    if (kind && counts[kind] > 0) counts[kind] -= 1;
    return counts;
}

/** The stack's own resource's step when it changes something (create, delete...); null when it stays as it is or took no step. */
export function stackChangeOf(stackStep: string | undefined): string | null {
    return stackStep && stackStep !== "same" && stackStep !== "read" && stackStep !== "refresh" ? stackStep : null;
}

function maskOutputs(outputs: Record<string, { value: unknown; secret: boolean }>): Record<string, unknown> {
    return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
}
