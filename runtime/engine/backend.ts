/**
 * Where Pulumi state lives: `PULUMI_BACKEND_URL` when set, otherwise the
 * project's own file backend, `.pulumi-state/`. Every way this project
 * starts the engine (the Automation API runs, the deployer, `npm run
 * pulumi`) takes the backend from here.
 */
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { projectRoot } from "./project";

/** Default state backend: a file backend in the project, `.pulumi-state/`. */
export const defaultBackendUrl = `file://${path.join(projectRoot, ".pulumi-state")}`;

/** The backend URL in effect; a file backend's folder is created (a fresh clone has no .pulumi-state/). */
export function backendUrl(env: NodeJS.ProcessEnv = process.env): string {
    const url = env.PULUMI_BACKEND_URL || defaultBackendUrl;
    const dir = fileBackendDir(url, env);
    if (dir) mkdirSync(dir, { recursive: true });
    return url;
}

/** The folder of a `file://` backend URL (`~` is the home folder), or undefined for other backends. */
export function fileBackendDir(url: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
    if (!url.startsWith("file://")) return undefined;
    const rest = url.slice("file://".length);
    if (rest.startsWith("~")) return path.join(env.HOME ?? "", rest.slice(1));
    return rest.startsWith("/") ? rest : fileURLToPath(url);
}
