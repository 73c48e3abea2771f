/**
 * Where the CLI's DIY backends (a `file://` folder, the `postgres://` table)
 * keep one stack's blobs, as keys relative to the backend's root: the
 * project-scoped layout the CLI writes today, then the legacy one it still
 * reads. Read from the pinned CLI's diy backend (its reference store and
 * lock paths); the deployer inspects locks and repairs torn writes there.
 */
import * as path from "node:path";

/** The project's name in Pulumi.yaml: the middle of every stack-scoped key. */
export const projectName = "x1agent-platform";

/** The folders of a stack's locks, one JSON file (or row) per holder. */
export function lockDirs(stack: string): string[] {
    return [path.posix.join(".pulumi", "locks", "organization", projectName, stack), path.posix.join(".pulumi", "locks", stack)];
}

/** The folder holding the stack's checkpoint (`<stack>.json`, its `.bak`, compressed variants). */
export function checkpointDirs(): string[] {
    return [path.posix.join(".pulumi", "stacks", projectName), path.posix.join(".pulumi", "stacks")];
}

/** The folders that hold only this stack's blobs: its update history and checkpoint backups. */
export function historyDirs(stack: string): string[] {
    return ["history", "backups"].flatMap((kind) => [path.posix.join(".pulumi", kind, projectName, stack), path.posix.join(".pulumi", kind, stack)]);
}
