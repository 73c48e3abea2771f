/**
 * Where the project and its stacks live, and reading a stack's file without
 * starting Pulumi (the deployer validates config before any run).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import type { StackConfig } from "../../stacks/schema";
import { validateStackConfig } from "../../stacks/validate";

/** The project root: the folder holding Pulumi.yaml. */
export const projectRoot = path.resolve(__dirname, "..", "..");
export const stacksDir = path.join(projectRoot, "stacks");

export class UnknownStackError extends Error {
    readonly stackName: string;
    readonly known: string[];

    constructor(stackName: string, known: string[]) {
        super(`unknown stack '${stackName}': no stacks/Pulumi.${stackName}.yaml. Known stacks: ${known.join(", ")}`);
        this.name = "UnknownStackError";
        this.stackName = stackName;
        this.known = known;
    }
}

/** Stack names with a Pulumi.<name>.yaml file in `dir` (default stacks/). */
export function listStackNames(dir = stacksDir): string[] {
    return readdirSync(dir)
        .map((f) => /^Pulumi\.([a-z0-9][-a-z0-9_.]*)\.yaml$/.exec(f)?.[1])
        .filter((n): n is string => n !== undefined)
        .sort();
}

export interface StackFile {
    /** The raw `config:` map as written (x1agent:* and provider keys). */
    config: Record<string, unknown>;
    /** The stack's secrets provider URL, when not the default passphrase. */
    secretsProvider?: string;
}

/** Reads stacks/Pulumi.<stack>.yaml, or `file` when given (a proposed copy the deployer previews). */
export function readStackFile(stackName: string, file = path.join(stacksDir, `Pulumi.${stackName}.yaml`)): StackFile {
    if (!existsSync(file)) throw new UnknownStackError(stackName, listStackNames(path.dirname(file)));
    const doc = (parse(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown>; secretsprovider?: string };
    return { config: doc.config ?? {}, secretsProvider: doc.secretsprovider };
}

/** The validated config of a stack, read from its file; throws ConfigError listing every problem. */
export function validateStack(stackName: string, file?: string): StackConfig {
    return validateStackConfig(stackName, readStackFile(stackName, file).config);
}
