/**
 * The runtime tier's harness: the deployer served over real HTTP on
 * loopback, against both database backends (embedded PGlite and a real
 * PostgreSQL from scripts/postgres.sh), with temp stacks copied from the
 * `local` example and removed afterwards.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import * as path from "node:path";
import pg from "pg";
import { projectRoot, stacksDir } from "../../runtime/engine/project";
import { buildApp } from "../../runtime/deployer/app";
import type { DatabaseOptions } from "../../runtime/deployer/db";
import { createLogger } from "../../runtime/deployer/log";
import { Deployer, type DeployerOptions } from "../../runtime/deployer/service";

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
        execFileSync("bash", [path.join(projectRoot, "scripts", "postgres.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 600_000 }).trim();
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

export interface Service {
    url: string;
    deployer: Deployer;
    adminToken: string;
    /** Every line the deployer logged so far (JSON, as in production). */
    log(): string[];
    close(): Promise<void>;
}

/** The deployer library plus its HTTP API, listening on a free loopback port, logging at debug level into memory. */
export async function startService(options: DeployerOptions): Promise<Service> {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", stream: { write: (line: string) => void lines.push(line) } });
    const deployer = await Deployer.start(options);
    const app = await buildApp({ deployer, logger });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    const adminToken = (await deployer.bootstrapToken(`admin-${randomBytes(3).toString("hex")}`)).token;
    return {
        url,
        deployer,
        adminToken,
        log: () => [...lines],
        close: async () => {
            await app.close();
            await deployer.stop(5_000);
        },
    };
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
    const res = await fetch(`${url}${route}`, { method, headers, body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T, headers: res.headers };
}

/** Temp stacks (copies of `local`) with a per-file prefix; `remove` deletes their files. */
export function tempStackNames(label: string, count: number): { names: string[]; remove: () => void } {
    const prefix = `rt${randomBytes(2).toString("hex")}-${label}`;
    const names = Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
    return {
        names,
        remove: () => {
            for (const n of names) rmSync(path.join(stacksDir, `Pulumi.${n}.yaml`), { force: true });
        },
    };
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

export const terminal = ["succeeded", "failed", "cancelled", "interrupted", "timed_out"];

/** Polls a run until it ends; returns its final view. */
export async function waitForRun(url: string, token: string, id: string, timeoutMs = 600_000): Promise<Record<string, any>> {
    return waitFor(`run ${id} to end`, async () => {
        const r = await call(url, "GET", `/v1/runs/${id}`, { token });
        return terminal.includes(r.body.run?.status) ? r.body.run : undefined;
    }, timeoutMs, 500);
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
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let i: number;
        while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (!event || !data) continue;
            out.push({ event, id: /^id: (.*)$/m.exec(block)?.[1], data: JSON.parse(data), at: Date.now() - opened });
            if (event === "end") return out;
        }
    }
    return out;
}
