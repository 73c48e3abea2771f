/**
 * The runtime tier's harness: the deployer served over real HTTP on
 * loopback, against both database backends (embedded PGlite and a real
 * PostgreSQL from scripts/postgres.sh), on a temporary copy of the project
 * (its stacks/ included), so the repository's stacks/ is never written.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pg from "pg";
import { sseMessages } from "../../runtime/deployer/client";
import { Deployer, type DeployerOptions } from "../../runtime/deployer/deployer";
import { buildApp } from "../../runtime/deployer/http/app";
import { createLogger } from "../../runtime/deployer/log";
import { type DeployerPaths, deployerPaths } from "../../runtime/deployer/paths";
import type { DatabaseOptions } from "../../runtime/deployer/store/db";
import { terminalStatuses } from "../../runtime/deployer/store/runs";
import { projectRoot } from "../../runtime/engine/project";

export type BackendName = "embedded" | "postgres";
export const backendNames: BackendName[] = ["embedded", "postgres"];

let postgresUrl: string | undefined;

/**
 * The PostgreSQL server for the tests: X1_TEST_POSTGRES_URL, else the one
 * scripts/postgres.sh starts (installing it from Debian's packages if needed).
 */
export function postgresServerUrl(): string {
    postgresUrl ??=
        process.env.X1_TEST_POSTGRES_URL ??
        execFileSync("bash", [path.join(projectRoot, "scripts", "postgres.sh")], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "inherit"],
            timeout: 600_000,
        }).trim();
    return postgresUrl;
}

/** A fresh database per test file: on PostgreSQL a new database (dropped by cleanup), embedded in memory or in `dir`. */
export async function freshDatabase(backend: BackendName, dir?: string): Promise<{ options: DatabaseOptions; cleanup: () => Promise<void> }> {
    if (backend === "embedded") return { options: { kind: "embedded", dir }, cleanup: async () => undefined };
    const server = new URL(postgresServerUrl());
    const name = `x1_test_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: server.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(server.toString());
    url.pathname = `/${name}`;
    return {
        options: { kind: "postgres", url: url.toString(), poolSize: 5 },
        cleanup: async () => {
            const c = new pg.Client({ connectionString: server.toString() });
            await c.connect();
            await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            await c.end();
        },
    };
}

/** What a copy of the project holds: the program, its stacks, the policy pack; node_modules is linked. */
const projectParts = ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", "components", "stacks", "policies", "runtime"];

/** A temporary copy of the project for one test file; `remove` deletes it. */
export function projectCopy(label: string): { paths: DeployerPaths; stackFile: (stack: string) => string; remove: () => void } {
    const root = mkdtempSync(path.join(tmpdir(), `x1-project-${label}-`));
    for (const part of projectParts) {
        cpSync(path.join(projectRoot, part), path.join(root, part), { recursive: true, filter: (src) => !/[\\/](node_modules|\.rendered)$/.test(src) });
    }
    symlinkSync(path.join(projectRoot, "node_modules"), path.join(root, "node_modules"));
    const paths = deployerPaths(root);
    return { paths, stackFile: (stack) => path.join(paths.stacksDir, `Pulumi.${stack}.yaml`), remove: () => rmSync(root, { recursive: true, force: true }) };
}

export interface Service {
    url: string;
    deployer: Deployer;
    adminToken: string;
    /** The project copy this service works on. */
    paths: DeployerPaths;
    stackFile(stack: string): string;
    /** Every line the deployer logged so far (JSON, as in production). */
    log(): string[];
    close(): Promise<void>;
}

/**
 * The deployer library plus its HTTP API, listening on a free loopback port,
 * on its own copy of the project, logging at debug level into memory.
 */
export async function startService(options: DeployerOptions): Promise<Service> {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", stream: { write: (line: string) => void lines.push(line) } });
    const copy = options.paths ? undefined : projectCopy("service");
    const deployer = await Deployer.start({ paths: copy?.paths, ...options, logger });
    const app = await buildApp({ deployer });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    const adminToken = (await deployer.bootstrapToken(`admin-${randomBytes(3).toString("hex")}`)).token;
    return {
        url,
        deployer,
        adminToken,
        paths: deployer.paths,
        stackFile: (stack) => path.join(deployer.paths.stacksDir, `Pulumi.${stack}.yaml`),
        log: () => [...lines],
        close: async () => {
            await app.close();
            await deployer.stop(5_000);
            copy?.remove();
        },
    };
}

/** Two teams' stacks (copies of `local`) and their tokens, as most abuse and API tests start. */
export async function twoTeams(svc: Service, names: [string, string], label: string): Promise<{ teamA: string; teamB: string }> {
    for (const [name, team] of [
        [names[0], "team-a"],
        [names[1], "team-b"],
    ] as const) {
        const r = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name, from: "render", team } });
        if (r.status !== 201) throw new Error(`creating ${name} answered ${r.status}: ${JSON.stringify(r.body)}`);
    }
    const token = async (name: string, team: string) =>
        (await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name, teams: [team] } })).body.token as string;
    return { teamA: await token(`a-${label}`, "team-a"), teamB: await token(`b-${label}`, "team-b") };
}

export interface Reply<T = Record<string, unknown>> {
    status: number;
    body: T;
    headers: Headers;
}

/** A JSON request to the service, as the portal would send it. */
export async function call<T = Record<string, any>>(
    url: string,
    method: string,
    route: string,
    options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined || options.rawBody !== undefined) headers["content-type"] ??= "application/json";
    const res = await fetch(`${url}${route}`, {
        method,
        headers,
        body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T, headers: res.headers };
}

/** Points a stack at a cluster (its kube context and kubeconfig), through the API as a user would. */
export async function pointAtCluster(
    url: string,
    token: string,
    stack: string,
    cluster: Record<string, unknown>,
    extra: Record<string, unknown> = {},
): Promise<void> {
    const detail = (await call(url, "GET", `/v1/stacks/${stack}`, { token })).body;
    const config = { ...detail.config, ...extra, cluster: { ...detail.config.cluster, ...cluster } };
    const r = await call(url, "PUT", `/v1/stacks/${stack}/config`, { token, body: { config, revision: detail.revision } });
    if (r.status !== 200) throw new Error(`pointing ${stack} at the cluster answered ${r.status}: ${JSON.stringify(r.body)}`);
}

/** Stack names with a per-file prefix (the stacks live in the service's project copy). */
export function tempStackNames(label: string, count: number): string[] {
    const prefix = `rt${randomBytes(2).toString("hex")}-${label}`;
    return Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 300_000, everyMs = 250): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const v = await probe();
        if (v) return v;
        if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
        await new Promise((r) => setTimeout(r, everyMs));
    }
}

export const terminal: readonly string[] = terminalStatuses;

/** Polls a run until it ends; returns its final view. */
export async function waitForRun(url: string, token: string, id: string, timeoutMs = 600_000): Promise<Record<string, any>> {
    return waitFor(
        `run ${id} to end`,
        async () => {
            const r = await call(url, "GET", `/v1/runs/${id}`, { token });
            return terminal.includes(r.body.run?.status) ? r.body.run : undefined;
        },
        timeoutMs,
        500,
    );
}

export interface SseMessage {
    event: string;
    id?: string;
    data: any;
    /** ms since the stream was opened. */
    at: number;
}

/** Reads a run's SSE stream to its `end` event. */
export async function readSse(url: string, token: string, runId: string, headers: Record<string, string> = {}): Promise<SseMessage[]> {
    const opened = Date.now();
    const res = await fetch(`${url}/v1/runs/${runId}/events`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream", ...headers } });
    if (!res.ok || !res.body) throw new Error(`SSE answered ${res.status}: ${await res.text()}`);
    const out: SseMessage[] = [];
    for await (const m of sseMessages(res.body)) {
        out.push({ event: m.event, id: m.id, data: JSON.parse(m.data), at: Date.now() - opened });
        if (m.event === "end") break;
    }
    return out;
}

/** A deployer server running as its own process, as in production. */
export interface ServerProcess {
    proc: ChildProcess;
    url: string;
    output: () => string;
}

/**
 * Starts `runtime/deployer/server.ts` as its own process (no tsx wrapper
 * process: the pid is the server's), with this process's environment plus
 * `env` (an undefined value removes the variable); resolves once it listens.
 */
export async function startServer(env: Record<string, string | undefined>): Promise<ServerProcess> {
    const merged: Record<string, string | undefined> = { ...process.env, X1_DEPLOYER_PORT: "0", X1_DEPLOYER_LOG_LEVEL: "warn", ...env };
    const proc = spawn(process.execPath, ["--import", "tsx", path.join(projectRoot, "runtime", "deployer", "server.ts")], {
        cwd: projectRoot,
        env: Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined)),
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout?.on("data", (d) => (out += String(d)));
    proc.stderr?.on("data", (d) => (out += String(d)));
    const url = await waitFor(
        "the deployer to listen",
        async () => {
            if (proc.exitCode !== null) throw new Error(`deployer exited ${proc.exitCode}:\n${out}`);
            return /listening on (http:\/\/\S+)/.exec(out)?.[1];
        },
        120_000,
        200,
    );
    return { proc, url, output: () => out };
}

/** Sends SIGTERM and waits for the exit code (the deployer drains, then exits 0). */
export async function stopServer(server: ServerProcess): Promise<number | null> {
    if (server.proc.exitCode !== null) return server.proc.exitCode;
    const exited = new Promise<number | null>((r) => server.proc.once("exit", (code) => r(code)));
    server.proc.kill("SIGTERM");
    return exited;
}
