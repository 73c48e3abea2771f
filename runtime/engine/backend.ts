/**
 * Where Pulumi state lives: `PULUMI_BACKEND_URL` when set, otherwise the
 * project's own file backend, `.pulumi-state/`. Every way this project
 * starts the engine (the Automation API runs, the deployer, `npm run
 * pulumi`) takes the backend from here. A deployer on PostgreSQL keeps the
 * state in that database instead (postgresStateUrl), unless
 * `PULUMI_BACKEND_URL` names a backend explicitly.
 */
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { projectRoot } from "./project";

/** Default state backend: a file backend in the project, `.pulumi-state/`. */
export const defaultBackendUrl = `file://${path.join(projectRoot, ".pulumi-state")}`;

/**
 * The PostgreSQL schema that holds Pulumi's state next to the deployer's
 * tables (which stay in the connection's default schema). The deployer's
 * migration 0005_shared_state creates the schema.
 */
export const stateSchema = "pulumi";

/** The CLI's one table there (its default name), made by the deployer's migration 0007_state_table. */
export const stateTable = `${stateSchema}.pulumi_state`;

/** The backend URL in effect; a file backend's folder is created (a fresh clone has no .pulumi-state/). */
export function backendUrl(env: NodeJS.ProcessEnv = process.env): string {
    const url = env.PULUMI_BACKEND_URL || defaultBackendUrl;
    const dir = fileBackendDir(url, env);
    if (dir) mkdirSync(dir, { recursive: true });
    return url;
}

/**
 * The CLI's `postgres://` DIY backend on the deployer's own database: the
 * same server, database and credentials, with `search_path` set to
 * `stateSchema` so the CLI's table lands there. The CLI's driver (lib/pq)
 * requires TLS unless told otherwise, where the deployer's (node-postgres)
 * uses none unless told: without an `sslmode` in the URL the engine gets
 * `prefer` (TLS when the server offers it); set `sslmode` in
 * X1_DEPLOYER_DATABASE_URL and both use it.
 */
export function postgresStateUrl(databaseUrl: string): string {
    const url = new URL(databaseUrl);
    if (!/^postgres(ql)?:$/.test(url.protocol)) throw new Error(`not a postgres:// URL: ${url.protocol}//...`);
    url.protocol = "postgres:";
    url.searchParams.set("search_path", stateSchema);
    if (!url.searchParams.has("sslmode")) url.searchParams.set("sslmode", "prefer");
    return url.toString();
}

/** The folder of a `file://` backend URL (`~` is the home folder), or undefined for other backends. */
export function fileBackendDir(url: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
    if (!url.startsWith("file://")) return undefined;
    const rest = url.slice("file://".length);
    if (rest.startsWith("~")) return path.join(env.HOME ?? "", rest.slice(1));
    return rest.startsWith("/") ? rest : fileURLToPath(url);
}
