/**
 * The local cluster (scripts/cluster.sh) as the cluster tier's tests reach it:
 * its state folder, kubeconfig and context, and the toolchain's kubectl and
 * etcdctl pointed at it. The contract other tests rely on:
 * `$X1_CLUSTER_DIR/kubeconfig` (vitest.config.mts points it at the tier's own cluster), context
 * `x1agent-local`, and `bash scripts/cluster.sh up` reusing a running cluster.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { projectRoot } from "../../runtime/engine/project";

export const root = projectRoot;
export const clusterDir = process.env.X1_CLUSTER_DIR ?? path.join(root, ".x1", "cluster");
export const kubeconfig = path.join(clusterDir, "kubeconfig");
export const context = "x1agent-local";
export const toolchainBin = path.join(process.env.X1_TOOLCHAIN_DIR ?? path.join(root, ".pulumi-toolchain"), "bin");

export interface CommandResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs a command to its end; never throws on a non-zero exit (callers assert on `code`). */
export function run(file: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { cwd: root, env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        child.stdin.end(options.input ?? "");
    });
}

/** scripts/cluster.sh with a command (up, down, status, purge). */
export function clusterScript(command: string): Promise<CommandResult> {
    return run("bash", [path.join(root, "scripts", "cluster.sh"), command]);
}

/** kubectl against the local cluster; throws with its stderr when it fails. */
export async function kubectl(args: string[], input?: string): Promise<string> {
    const r = await run(path.join(toolchainBin, "kubectl"), ["--kubeconfig", kubeconfig, "--context", context, ...args], { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
}

/** kubectl ... -o json, parsed. */
export async function kubectlJson<T>(args: string[]): Promise<T> {
    return JSON.parse(await kubectl([...args, "-o", "json"])) as T;
}

/** etcdctl against the cluster's etcd, with the client certificate the API server uses (etcdctl.env). */
export async function etcdctl(args: string[]): Promise<Buffer> {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const line of readFileSync(path.join(clusterDir, "etcdctl.env"), "utf8").split("\n")) {
        const m = /^(ETCDCTL_[A-Z]+)=(.*)$/.exec(line);
        if (m) env[m[1]!] = m[2]!;
    }
    return new Promise((resolve, reject) => {
        const child = spawn(path.join(toolchainBin, "etcdctl"), args, { env, stdio: ["ignore", "pipe", "pipe"] });
        const out: Buffer[] = [];
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => out.push(d));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) =>
            code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`etcdctl ${args.join(" ")} exited ${code}: ${stderr.trim()}`)),
        );
    });
}

/** A namespace name unique to one test run, so reruns against a kept cluster never collide. */
export function uniqueName(prefix: string): string {
    return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1296).toString(36)}`;
}
