/**
 * Reads the running stack's config inside the Pulumi program and validates
 * it before any resource is registered. A bad config ends the program with
 * one message listing every problem (a RunError: no stack trace, no
 * resources, nothing half-deployed).
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./schema";
import { ConfigError, validateStackConfig } from "./validate";

export function loadStackConfig(): StackConfig {
    try {
        return validateStackConfig(pulumi.getStack(), pulumi.runtime.allConfig());
    } catch (err) {
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
}

/**
 * Why the stack cannot reach its cluster before anything runs: its
 * `cluster.kubeconfig` names a file that does not exist (relative to `root`,
 * the project root the program runs in). Undefined when it exists or is unset.
 */
export function missingKubeconfig(cluster: StackConfig["cluster"], root: string = process.cwd()): string | undefined {
    if (!cluster.kubeconfig || existsSync(path.resolve(root, cluster.kubeconfig))) return undefined;
    return (
        `x1agent:cluster.kubeconfig = "${cluster.kubeconfig}": no such file; start the cluster it belongs to ` +
        "(the local one: npm run cluster -- up), or point the key at the cluster's kubeconfig"
    );
}
