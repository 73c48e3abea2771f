/**
 * The `x1` CLI talking to the deployer (X1_DEPLOYER_URL set): it lists the
 * caller's stacks and follows a queued preview live with progress lines,
 * ending in the summary and the policy line; a bad token gets a clear error.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../runtime/engine/project";
import { type EngineSandbox, engineSandbox } from "../helpers/engine";
import { call, type Service, startService, tempStackNames } from "./helpers";

function x1(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
        const proc = spawn(process.execPath, ["--import", "tsx", path.join(projectRoot, "runtime", "cli.ts"), ...args], {
            cwd: projectRoot,
            env: { ...process.env, ...env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        proc.stdout.on("data", (d) => (out += String(d)));
        proc.stderr.on("data", (d) => (out += String(d)));
        proc.on("exit", (code) => resolve({ code, out }));
    });
}

describe("x1 CLI through the deployer", () => {
    let sandbox: EngineSandbox;
    let svc: Service;
    let env: Record<string, string>;
    const stack = tempStackNames("cli", 1)[0]!;

    beforeAll(async () => {
        sandbox = await engineSandbox("runtime-cli");
        process.env.PULUMI_CONFIG_PASSPHRASE = "x1-runtime-tier-passphrase";
        svc = await startService({ database: { kind: "embedded" }, maxConcurrentRuns: 1, pollIntervalMs: 500 });
        await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name: stack, from: "render", team: "ops" } });
        const token = (await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name: "cli", teams: ["ops"] } })).body.token;
        env = { X1_DEPLOYER_URL: svc.url, X1_DEPLOYER_TOKEN: token };
    });

    afterAll(async () => {
        await svc?.close();
        sandbox?.cleanup();
    });

    it("lists the caller's stacks", async () => {
        const r = await x1(["stacks"], env);
        expect(r.code, r.out).toBe(0);
        expect(r.out).toMatch(new RegExp(`^${stack}\\s+ops\\s+tier kubernetes\\s+1 workspace\\(s\\)\\s+no runs$`, "m"));
        expect(r.out).not.toMatch(/^local\b/m);
    });

    it("queues a preview and follows it live to the summary", async () => {
        const r = await x1(["preview", stack, "--watch"], env);
        expect(r.code, r.out).toBe(0);
        // The worker may claim the run before the answer goes out.
        expect(r.out).toMatch(new RegExp(`x1 preview ${stack}: run [0-9a-f-]{36} (queued \\(#1|running) on http`));
        expect(r.out).toMatch(/\+ kubernetes:core\/v1:Namespace \S+ \(create\)/);
        expect(r.out).toMatch(new RegExp(`preview ${stack}: \\d+ would be created, .*: run succeeded`));
        expect(r.out).toMatch(/^policy: \d+ mandatory, \d+ advisory result\(s\)$/m);
    });

    it("says what is wrong when the token is refused", async () => {
        const r = await x1(["stacks"], { ...env, X1_DEPLOYER_TOKEN: "x1d_notavalidtokennotavalidtoken" });
        expect(r.code).toBe(1);
        expect(r.out).toMatch(/deployer answered 401: unknown or revoked deployer token/);
        expect(r.out).not.toContain("notavalidtoken");
    });
});
