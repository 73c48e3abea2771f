/**
 * `x1`: the command line over the runtime library. `npm run x1 -- <command>`.
 *
 *   x1 stacks                     list the stacks and whether their config is valid
 *   x1 validate <stack>           check a stack's config without starting Pulumi
 *   x1 preview|up|refresh|destroy <stack>
 *   x1 outputs <stack>
 */
import { readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { ConfigError } from "../stacks/validate";
import { listStackNames, UnknownStackError, validateStack } from "./engine/project";
import { type ChangeCounts, type Operation, runOperation, stackOutputs } from "./engine/stack-runner";

const operations: Operation[] = ["preview", "up", "refresh", "destroy"];
const usage = `usage: x1 <command> [stack]
  stacks                         list stacks and whether their config validates
  validate <stack>               validate a stack's config (no Pulumi run)
  preview|up|refresh|destroy <stack>
  outputs <stack>                print the stack's outputs`;

async function main(argv: string[]): Promise<number> {
    const [command, stack] = argv;
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
        console.log(`stack '${stack}' config is valid: ${c.cluster.provider} cluster, secrets tier ${c.secrets.tier} (store ${c.secrets.storeName}, uiMode ${c.secrets.uiMode}), ${c.workspaces.length} workspace(s)`);
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
    const result = await runOperation(stack, operation, { onEvent: printProgress, signal: controller.signal });
    console.log(`\n${summaryLine(operation, stack, result.counts)} in ${(result.durationMs / 1000).toFixed(1)}s`);
    const manifestsDir = result.outputs.manifestsDir;
    if (typeof manifestsDir === "string" && manifestsDir) {
        console.log(`manifests: ${manifestsDir} (${countFiles(manifestsDir)} files)`);
    }
    for (const [k, v] of Object.entries(result.outputs)) {
        if (k !== "manifestsDir") console.log(`  ${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
    }
    return 0;
}

/** One line per resource the engine finishes, so long runs show progress. */
function printProgress(event: EngineEvent): void {
    const done = event.resOutputsEvent;
    if (done && done.metadata.type !== "pulumi:pulumi:Stack") {
        const op = done.metadata.op;
        if (op !== "same") console.log(`  ${symbol(op)} ${done.metadata.type} ${done.metadata.urn.split("::").pop()} (${op})`);
    }
    const diag = event.diagnosticEvent;
    if (diag && (diag.severity === "error" || diag.severity === "warning") && !diag.ephemeral) {
        console.log(`  ${diag.severity}: ${diag.message.trim()}`);
    }
}

function symbol(op: string): string {
    return ({ create: "+", update: "~", delete: "-", replace: "+-", same: " " } as Record<string, string>)[op] ?? "*";
}

export function summaryLine(operation: Operation, stack: string, c: ChangeCounts): string {
    const changed = c.create + c.update + c.delete + c.replace;
    const verb = operation === "preview" ? "would be" : "";
    const parts = [
        `${c.create} ${verb} created`,
        `${c.update} ${verb} updated`,
        `${c.replace} ${verb} replaced`,
        `${c.delete} ${verb} deleted`,
        `${c.same} unchanged`,
    ].map((s) => s.replace(/ {2}/g, " "));
    return `${operation} ${stack}: ${changed === 0 ? "no changes; " : ""}${parts.join(", ")}`;
}

function countFiles(dir: string): number {
    try {
        return readdirSync(dir, { recursive: true }).filter((f) => statSync(path.join(dir, String(f))).isFile()).length;
    } catch {
        return 0;
    }
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
        if (err instanceof ConfigError || err instanceof UnknownStackError) {
            console.error(err.message);
            process.exit(2);
        }
        // Automation API errors carry the whole CLI transcript; show its end, not a JS stack.
        const message = err instanceof Error ? err.message : String(err);
        console.error(`x1: ${message.split("\n").slice(-25).join("\n")}`);
        process.exit(1);
    },
);
