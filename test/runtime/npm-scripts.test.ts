/**
 * The npm scripts an operator and a supervisor run, as they run them:
 * `npm run pulumi` uses the project's state backend without any setting,
 * and stopping the `npm run deployer` process stops the server it started
 * (npm runs scripts through `sh -c`, which does not pass signals on).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { defaultBackendUrl } from "../../runtime/engine/backend";
import { projectRoot } from "../../runtime/engine/project";
import { processesWithEnvironment } from "../../runtime/deployer/worker/orphans";
import { waitFor } from "./helpers";

/** The environment of a fresh shell: no backend chosen, no Pulumi Cloud credentials. */
function operatorEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
    for (const name of ["PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"]) delete env[name];
    return env;
}

function npm(args: string[], env: NodeJS.ProcessEnv): { proc: ChildProcess; output: () => string } {
    const proc = spawn("npm", args, { cwd: projectRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout!.on("data", (d) => (out += String(d)));
    proc.stderr!.on("data", (d) => (out += String(d)));
    return { proc, output: () => out };
}

const exited = (proc: ChildProcess) => new Promise<number | null>((r) => (proc.exitCode !== null ? r(proc.exitCode) : proc.once("exit", (code) => r(code))));

describe("npm scripts", () => {
    const scratch = mkdtempSync(path.join(tmpdir(), "x1-npm-scripts-"));
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));

    it("npm run pulumi uses the project's state backend, never Pulumi Cloud", async () => {
        // An empty PULUMI_HOME: no stored login to fall back on.
        const run = npm(
            ["run", "--silent", "pulumi", "--", "whoami", "--verbose", "--non-interactive"],
            operatorEnv({ PULUMI_HOME: path.join(scratch, "pulumi-home") }),
        );
        const code = await exited(run.proc);
        expect(code, run.output()).toBe(0);
        expect(run.output()).toContain(`Backend URL: ${defaultBackendUrl}`);
        expect(run.output()).not.toMatch(/PULUMI_ACCESS_TOKEN|login/i);
    });

    it("stopping the npm run deployer process stops the server", async () => {
        // Every process the script starts inherits this mark: that is how the test finds them.
        const mark = `X1_TEST_NPM_SCRIPT=${randomBytes(6).toString("hex")}`;
        const run = npm(
            ["run", "deployer"],
            operatorEnv({ [mark.split("=")[0]!]: mark.split("=")[1]!, X1_DEPLOYER_PORT: "0", X1_DEPLOYER_DATA_DIR: path.join(scratch, "deployer") }),
        );
        try {
            await waitFor(
                "the deployer to listen",
                async () => {
                    if (run.proc.exitCode !== null) throw new Error(`npm run deployer exited ${run.proc.exitCode}:\n${run.output()}`);
                    return /listening on http/.test(run.output());
                },
                120_000,
                200,
            );
            const started = processesWithEnvironment(mark).filter((p) => p.pid !== run.proc.pid);
            expect(started.map((p) => p.command)).toContain("node");

            run.proc.kill("SIGTERM");
            await exited(run.proc);
            const left = await waitFor("the server to stop", async () => (processesWithEnvironment(mark).length === 0 ? [] : undefined), 30_000, 250).catch(
                () => processesWithEnvironment(mark),
            );
            expect(left, run.output()).toEqual([]);
            expect(run.output()).toMatch(/SIGTERM: shutting down[\s\S]*deployer stopped/);
        } finally {
            for (const p of processesWithEnvironment(mark)) process.kill(p.pid, "SIGKILL");
        }
    });
});
