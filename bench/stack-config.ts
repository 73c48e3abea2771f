/**
 * The benchmark's stacks: the `render` example stack's config (the local platform rendered to a folder), or
 * the `local` one (applied to a cluster), with its workspaces replaced by `n` generated ones, shaped like a real team's
 * (one captured Secret each, every other one with an egress CIDR), so the
 * numbers grow with what grows in production.
 */
import { rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { readStackFile, stacksDir } from "../runtime/engine/project";

/** `n` workspaces as a stack file would list them (valid for the local stack's Tier 1 capture mode). */
export function benchWorkspaces(n: number): Record<string, unknown>[] {
    return Array.from({ length: n }, (_, i) => ({
        id: `team-${i}`,
        team: `team-${i % 10}`,
        egressCidrs: i % 2 === 1 ? ["10.0.0.0/8"] : [],
        secrets: [{ name: "anthropic", remoteKey: `team-${i}-anthropic` }],
    }));
}

/** The raw `x1agent:*` config map of the local stack with `n` workspaces (as Pulumi hands it to the program). */
export function benchConfigMap(n: number): Record<string, unknown> {
    return { ...readStackFile("render").config, "x1agent:workspaces": benchWorkspaces(n) };
}

export const benchStackName = (n: number) => `bench-${n}`;

export interface BenchStack {
    name: string;
    file: string;
    remove: () => void;
}

/** Writes stacks/Pulumi.bench-<n>.yaml (a copy of render with n workspaces); returns a function removing it. */
export function writeBenchStack(n: number): BenchStack {
    return writeStackFile(benchStackName(n), benchConfigMap(n));
}

/**
 * Writes stacks/Pulumi.bench-apply-<n>.yaml: the `local` stack (every add-on
 * from its chart, applied to a cluster) with `n` workspaces, pointed at the
 * cluster whose kubeconfig is `kubeconfig` (the bench's own, not the user's).
 */
export function writeApplyStack(n: number, kubeconfig: string): BenchStack {
    const local = readStackFile("local").config;
    const cluster = { ...(local["x1agent:cluster"] as Record<string, unknown>), kubeconfig };
    return writeStackFile(`bench-apply-${n}`, { ...local, "x1agent:cluster": cluster, "x1agent:workspaces": benchWorkspaces(n) });
}

function writeStackFile(name: string, config: Record<string, unknown>): BenchStack {
    const file = path.join(stacksDir, `Pulumi.${name}.yaml`);
    const header = `# Temporary: written by npm run bench (bench/), removed when it ends.\n`;
    writeFileSync(file, header + stringify({ config }));
    return { name, file, remove: () => rmSync(file, { force: true }) };
}
