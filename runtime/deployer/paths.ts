/**
 * Where the deployer works: the project it runs, its stack files, the
 * policy pack and the state backend. Passed in (never module globals), so
 * tests run the deployer against a temporary copy of the project and leave
 * the repository's stacks/ alone.
 */
import * as path from "node:path";
import { projectRoot as repositoryRoot } from "../engine/project";

export interface DeployerPaths {
    /** The project folder the engine runs (Pulumi.yaml, index.ts). Default: this repository. */
    projectRoot: string;
    /** The stack files (Pulumi.<stack>.yaml). Default <projectRoot>/stacks. */
    stacksDir: string;
    /** The CrossGuard pack applied to every run. Default <projectRoot>/policies. */
    policyPackDir: string;
    /**
     * Pulumi's state backend for every engine run. Unset: the project's
     * default (engine/backend.ts); a deployer on PostgreSQL sets it to that
     * database (Deployer.start).
     */
    backendUrl?: string;
}

export function deployerPaths(projectRoot = repositoryRoot, overrides: Partial<Omit<DeployerPaths, "projectRoot">> = {}): DeployerPaths {
    return {
        projectRoot,
        stacksDir: overrides.stacksDir ?? path.join(projectRoot, "stacks"),
        policyPackDir: overrides.policyPackDir ?? path.join(projectRoot, "policies"),
        backendUrl: overrides.backendUrl,
    };
}
