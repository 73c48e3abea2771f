/**
 * Reads the running stack's config inside the Pulumi program and validates
 * it before any resource is registered. A bad config ends the program with
 * one message listing every problem (a RunError: no stack trace, no
 * resources, nothing half-deployed).
 */
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
