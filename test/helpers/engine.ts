/**
 * The engine tier's sandbox: each test file gets its own state backend and
 * render folder under a temp dir, so tests never touch the user's
 * .pulumi-state/ or .rendered/, and the CLI version in use is printed.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pulumiCommand } from "../../runtime/engine/stack-runner";

export interface EngineSandbox {
    dir: string;
    renderRoot: string;
    cleanup(): void;
}

export async function engineSandbox(label: string): Promise<EngineSandbox> {
    const dir = mkdtempSync(path.join(tmpdir(), `x1-${label}-`));
    mkdirSync(path.join(dir, "state"));
    process.env.PULUMI_BACKEND_URL = `file://${path.join(dir, "state")}`;
    process.env.X1_RENDER_ROOT = path.join(dir, "rendered");
    const cmd = await pulumiCommand();
    console.log(`[engine tier] pulumi CLI ${cmd.version?.toString() ?? "unknown"} at ${cmd.command}; state in ${dir}`);
    return { dir, renderRoot: process.env.X1_RENDER_ROOT, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every rendered manifest file under a folder, with its text. */
export function renderedFiles(dir: string): { file: string; text: string }[] {
    const out: { file: string; text: string }[] = [];
    const walk = (d: string) => {
        for (const name of readdirSync(d)) {
            const p = path.join(d, name);
            if (statSync(p).isDirectory()) walk(p);
            else out.push({ file: path.relative(dir, p), text: readFileSync(p, "utf8") });
        }
    };
    try {
        walk(dir);
    } catch {
        // no folder yet: no files
    }
    return out;
}

/** Puts environment variables back as they were saved: a value set again, an unset one deleted. */
export function restoreEnv(saved: Record<string, string | undefined>): void {
    for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
    }
}
