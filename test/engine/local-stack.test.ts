import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot, stacksDir } from "../../runtime/engine/project";
import { engineEnv, openStack, pulumiCommand, runOperation } from "../../runtime/engine/stack-runner";
import { type EngineSandbox, engineSandbox, renderedFiles } from "../helpers/engine";

let sandbox: EngineSandbox;
beforeAll(async () => {
    sandbox = await engineSandbox("render");
});
afterAll(() => sandbox.cleanup());

describe("a stack without a cluster renders to a folder through the real engine (the render example)", () => {
    const renderDir = () => path.join(sandbox.renderRoot, "render");

    it("up renders every manifest to a directory", async () => {
        const result = await runOperation("render", "up");
        expect(result.counts.create).toBeGreaterThan(5);
        expect(result.outputs).toMatchObject({ tier: "kubernetes", storeName: "x1-local", uiMode: "capture", manifestsDir: renderDir() });
        const files = renderedFiles(renderDir());
        const all = files.map((f) => f.text).join("\n---\n");
        expect(all).toMatch(/kind: Namespace[\s\S]*name: x1agent\b/);
        expect(all).toMatch(/kind: ClusterSecretStore/);
        expect(all).toMatch(/kind: Deployment[\s\S]*name: x1agent-api/);
        console.log(`[engine tier] up render: ${result.counts.create} created, ${files.length} manifest files`);
    });

    it("a second up reports no changes", async () => {
        const result = await runOperation("render", "up");
        expect(result.counts).toMatchObject({ create: 0, update: 0, delete: 0, replace: 0 });
        expect(result.counts.same).toBeGreaterThan(5);
    });

    it("preview of the deployed stack shows no changes", async () => {
        const result = await runOperation("render", "preview");
        expect(result.counts).toMatchObject({ create: 0, update: 0, delete: 0, replace: 0 });
    });

    it("destroy removes every resource and rendered file, leaving the stack unlocked", async () => {
        const result = await runOperation("render", "destroy");
        expect(result.counts.delete).toBeGreaterThan(5);
        expect(renderedFiles(renderDir())).toEqual([]);
        // Unlocked: another operation can start at once.
        const again = await runOperation("render", "preview");
        expect(again.counts.create).toBeGreaterThan(5);
    });
});

describe("a wrong config through the real CLI", () => {
    const stack = "enginebad";
    const file = path.join(stacksDir, `Pulumi.${stack}.yaml`);
    afterAll(() => rmSync(file, { force: true }));

    it("fails before any resource is registered, naming every bad key", async () => {
        writeFileSync(
            file,
            [
                "config:",
                "  x1agent:cluster: { provider: eks, name: Bad_Name }",
                "  x1agent:secrets: { tier: valt }",
                "  x1agent:ingress: { host: 'https://x1agent.example.com' }",
                "  x1agent:postgres: { bundled: { enabled: false } }",
                "  x1agent:nats: { replicas: 2 }",
                "",
            ].join("\n"),
        );
        const pulumi = (await pulumiCommand()).command;
        const env = { ...process.env, ...engineEnv("render") };
        const run = (args: string[]) => spawnSync(pulumi, args, { cwd: projectRoot, env, encoding: "utf8", timeout: 300_000 });
        run(["stack", "init", stack, "--non-interactive"]);
        const preview = run(["preview", "--stack", stack, "--non-interactive", "--color", "never"]);
        const result = { code: preview.status, out: `${preview.stdout}\n${preview.stderr}` };
        expect(result.code).not.toBe(0);
        // The ingress has a bad host and, an ACME issuer by default, no e-mail either: both are said at once.
        // The cluster's name is wrong but its provider parsed: the cloud account an eks cluster needs is asked for too.
        for (const key of [
            "x1agent:cluster.name",
            "x1agent:cloud.aws",
            "x1agent:secrets.tier",
            "x1agent:ingress.host",
            "x1agent:ingress.issuer.email",
            "x1agent:postgres",
            "x1agent:nats.replicas",
        ]) {
            expect(result.out).toContain(key);
        }
        expect(result.out).not.toMatch(/kubernetes:core\/v1:Namespace/);
        // The program refused before registering: the deployer-side check refuses too.
        await expect(openStack(stack)).rejects.toThrow(/7 problems/);
    });
});
