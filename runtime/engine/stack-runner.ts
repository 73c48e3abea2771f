/**
 * Runs Pulumi operations on a named stack through the Automation API, on the
 * same program `pulumi up` runs (the project folder, not an inline copy).
 * The CLI (`x1`) and the deployer both go through here.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import {
    type EngineEvent,
    LocalWorkspace,
    type OpMap,
    PulumiCommand,
    type Stack,
} from "@pulumi/pulumi/automation";
import { backendUrl } from "./backend";
import { projectRoot, readStackFile, validateStack } from "./project";
import { recordAfterUp, recordBeforeRun } from "../../policies/tier-state";

export type Operation = "preview" | "up" | "refresh" | "destroy";

/** Resource change counts of one run, by kind of change. */
export interface ChangeCounts {
    create: number;
    update: number;
    same: number;
    delete: number;
    replace: number;
}

export interface RunResult {
    stack: string;
    operation: Operation;
    counts: ChangeCounts;
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
    /**
     * This run's downgrade below the stack's tier floor was allowed explicitly
     * (with the pack's `secrets-tier-no-downgrade.allowDowngradeTo`): a
     * successful up then lowers the floor.
     */
    downgradeAllowed?: boolean;
    /** Abort the run (the engine is asked to cancel; the stack is left unlocked). */
    signal?: AbortSignal;
    /**
     * Run with this stack config file instead of stacks/Pulumi.<stack>.yaml
     * (pulumi --config-file): the deployer previews a proposed config change
     * from a copy before it touches the stack file.
     */
    configFile?: string;
}


/**
 * Passphrase of the `local` stack's secrets provider. It protects nothing:
 * the local stack holds no secret values (secret fields name Kubernetes
 * Secrets). Environment stacks use a cloud KMS secrets provider instead.
 */
const localPassphrase = "x1agent-local";

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

/** Environment for every Pulumi process this project starts. */
export function engineEnv(stackName: string): Record<string, string> {
    const env: Record<string, string> = { PULUMI_BACKEND_URL: backendUrl(), PULUMI_SKIP_UPDATE_CHECK: "true" };
    const secretsProvider = readStackFile(stackName).secretsProvider;
    if (!secretsProvider && !process.env.PULUMI_CONFIG_PASSPHRASE && !process.env.PULUMI_CONFIG_PASSPHRASE_FILE) {
        if (stackName !== "local") {
            throw new Error(
                `stack '${stackName}' uses the passphrase secrets provider: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE`,
            );
        }
        env.PULUMI_CONFIG_PASSPHRASE = localPassphrase;
    }
    return env;
}

/**
 * Opens (creating on first use) a stack of this project. The stack's config
 * is validated first: a bad config never reaches Pulumi.
 */
export async function openStack(stackName: string, configFile?: string): Promise<Stack> {
    validateStack(stackName, configFile);
    const secretsProvider = readStackFile(stackName).secretsProvider;
    return LocalWorkspace.createOrSelectStack(
        { stackName, workDir: projectRoot },
        { pulumiCommand: await pulumiCommand(), envVars: engineEnv(stackName), secretsProvider },
    );
}

/** Runs one operation on a stack and returns what changed. */
export async function runOperation(stackName: string, operation: Operation, options: RunOptions = {}): Promise<RunResult> {
    const { secrets } = validateStack(stackName, options.configFile);
    const stack = await openStack(stackName, options.configFile);
    // Cancelled while the stack was being opened: the engine never starts (an already-aborted signal would not reach it).
    options.signal?.throwIfAborted();
    const started = Date.now();
    const common = {
        onEvent: options.onEvent,
        onOutput: options.onOutput,
        signal: options.signal,
        configFile: options.configFile,
        color: "never" as const,
    };
    const policy = { policyPacks: options.policyPacks, policyPackConfigs: options.policyPackConfigs };
    let changes: OpMap | undefined;
    let outputs: Record<string, unknown> = {};
    // The policy pack never sees the previous deployment: the tier floor and an
    // open tier migration travel as stack tags, which every preview and up
    // records on purpose (policies/tier-state.ts, docs/policies.md).
    if (operation === "preview" || operation === "up") {
        await recordBeforeRun(stack, secrets);
        options.signal?.throwIfAborted();
    }
    switch (operation) {
        case "preview": {
            const r = await stack.preview({ ...common, ...policy, diff: true });
            changes = r.changeSummary;
            break;
        }
        case "up": {
            const r = await stack.up({ ...common, ...policy, diff: true });
            changes = r.summary.resourceChanges;
            outputs = maskOutputs(r.outputs);
            await recordAfterUp(stack, secrets, { downgradeAllowed: options.downgradeAllowed });
            break;
        }
        case "refresh": {
            const r = await stack.refresh({ ...common });
            changes = r.summary.resourceChanges;
            break;
        }
        case "destroy": {
            const r = await stack.destroy({ ...common });
            changes = r.summary.resourceChanges;
            break;
        }
    }
    return { stack: stackName, operation, counts: countChanges(changes), outputs, durationMs: Date.now() - started };
}

/** Current outputs of a stack, secret values masked. */
export async function stackOutputs(stackName: string): Promise<Record<string, unknown>> {
    const stack = await openStack(stackName);
    return maskOutputs(await stack.outputs());
}

export function countChanges(changes: OpMap | undefined): ChangeCounts {
    const c = changes ?? {};
    return {
        create: c.create ?? 0,
        update: c.update ?? 0,
        same: c.same ?? 0,
        delete: c.delete ?? 0,
        replace: c.replace ?? 0,
    };
}

function maskOutputs(outputs: Record<string, { value: unknown; secret: boolean }>): Record<string, unknown> {
    return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
}
