/**
 * GET /metrics over HTTP, on both database backends: the Prometheus text
 * prom-client writes, with runs by operation and result, queue depth and
 * wait, paused stacks and webhook failures as the deployer's state changes;
 * who may scrape it (loopback without a token, anyone with the metrics
 * token, nobody else). Then a real engine run's duration.
 */
import { createServer, type Server } from "node:http";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../runtime/deployer/http/app";
import { type EngineSandbox, engineSandbox } from "../helpers/engine";
import { backendNames, call, freshDatabase, type Service, startService, tempStackNames, waitFor, waitForRun } from "./helpers";

/** One sample of the exposition text (`name{labels} value`), or undefined. */
function sample(text: string, series: string): number | undefined {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; type: string | null }> {
    const res = await fetch(`${url}/metrics`, { headers });
    return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
}

describe.each(backendNames)("/metrics (%s database)", (backend) => {
    let svc: Service;
    let dbCleanup: () => Promise<void>;
    let receiver: Server;
    let guarded: FastifyInstance;
    let guardedUrl: string;
    const [stack] = tempStackNames(backend === "embedded" ? "me" : "mp", 1) as [string];
    const metricsToken = "metrics-token-for-the-scraper-0123";

    beforeAll(async () => {
        receiver = createServer((_req, res) => res.writeHead(503).end());
        await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        svc = await startService({ database: db.options, pollIntervalMs: 200, webhooks: { timeoutMs: 1000, maxAttempts: 2, retryBaseMs: 200 } });
        expect((await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name: stack, from: "render", team: "ops" } })).status).toBe(201);
        // The same deployer behind a second app that asks for a metrics token.
        guarded = await buildApp({ deployer: svc.deployer, metricsToken });
        guardedUrl = await guarded.listen({ host: "127.0.0.1", port: 0 });
    });

    afterAll(async () => {
        await guarded?.close();
        await svc?.close();
        await dbCleanup?.();
        receiver?.close();
    });

    it("counts runs by operation and result, the queue, pauses and webhook failures", async () => {
        const token = svc.adminToken;
        const port = (receiver.address() as { port: number }).port;
        await call(svc.url, "POST", "/v1/webhooks", { token, body: { team: "ops", url: `http://127.0.0.1:${port}/down` } });
        await call(svc.url, "POST", `/v1/stacks/${stack}/pause`, { token, body: { reason: "metrics test" } });
        const first = (await call(svc.url, "POST", `/v1/stacks/${stack}/runs`, { token, body: { operation: "preview" } })).body.run.id;
        await call(svc.url, "POST", `/v1/stacks/${stack}/runs`, { token, body: { operation: "up" } });
        await call(svc.url, "POST", `/v1/runs/${first}/cancel`, { token });

        const text = await waitFor(
            "the cancel and both webhook attempts to be counted",
            async () => {
                const m = await scrape(svc.url);
                return sample(m.text, "x1_deployer_webhook_delivery_failures_total") === 2 ? m.text : undefined;
            },
            60_000,
            300,
        );
        expect(sample(text, 'x1_deployer_runs_total{operation="preview",result="cancelled"}')).toBe(1);
        expect(sample(text, "x1_deployer_queue_depth")).toBe(1);
        expect(sample(text, "x1_deployer_runs_in_progress")).toBe(0);
        expect(sample(text, "x1_deployer_queue_oldest_wait_seconds")).toBeGreaterThan(0);
        expect(sample(text, 'x1_deployer_paused{scope="stack"}')).toBe(1);
        expect(sample(text, 'x1_deployer_paused{scope="deployer"}')).toBe(0);
        expect(sample(text, 'x1_deployer_webhook_attempts_total{outcome="retry"}')).toBe(1);
        expect(sample(text, 'x1_deployer_webhook_attempts_total{outcome="failed"}')).toBe(1);
        expect(sample(text, 'x1_deployer_webhook_deliveries{status="failed"}')).toBe(1);
        expect(sample(text, "x1_deployer_drifted_stacks")).toBe(0);
        expect(text).toMatch(/^# TYPE x1_deployer_run_duration_seconds histogram$/m);
        expect(text).toMatch(/^# TYPE x1_deployer_queue_wait_seconds histogram$/m);
        expect(text).toMatch(/^x1_deployer_process_resident_memory_bytes \d+/m);
        // Stack names and tokens are not in the series.
        expect(text).not.toContain(stack);
        expect(text).not.toContain(token);
        await call(svc.url, "DELETE", `/v1/stacks/${stack}/pause`, { token });
        await call(svc.url, "POST", "/v1/pause", { token, body: { reason: "metrics" } });
        expect(sample((await scrape(svc.url)).text, 'x1_deployer_paused{scope="deployer"}')).toBe(1);
        await call(svc.url, "DELETE", "/v1/pause", { token });
    });

    it("answers loopback without a token, anyone with the metrics token, and nobody else", async () => {
        const open = await scrape(svc.url);
        expect(open.status).toBe(200);
        expect(open.type).toBe("text/plain; version=0.0.4; charset=utf-8");
        // A client that is not on loopback, while no token is set: refused, with the fix.
        const app = await buildApp({ deployer: svc.deployer });
        const remote = await app.inject({ method: "GET", url: "/metrics", remoteAddress: "10.20.30.40" });
        await app.close();
        expect(remote.statusCode).toBe(403);
        expect(remote.json().message).toMatch(/answers loopback clients only while no metrics token is set: set X1_DEPLOYER_METRICS_TOKEN/);
        // With a token set: from anywhere with the token, never without it (an API token is not it).
        expect((await scrape(guardedUrl)).status).toBe(401);
        const wrong = await scrape(guardedUrl, { authorization: `Bearer ${svc.adminToken}` });
        expect(wrong.status).toBe(401);
        expect(JSON.parse(wrong.text).message).toMatch(/needs the metrics token: send Authorization: Bearer <X1_DEPLOYER_METRICS_TOKEN>/);
        const ok = await scrape(guardedUrl, { authorization: `Bearer ${metricsToken}` });
        expect(ok.status).toBe(200);
        expect(ok.text).toMatch(/^x1_deployer_queue_depth \d+$/m);
        const remoteWithToken = await guarded.inject({
            method: "GET",
            url: "/metrics",
            remoteAddress: "10.20.30.40",
            headers: { authorization: `Bearer ${metricsToken}` },
        });
        expect(remoteWithToken.statusCode).toBe(200);
    });
});

describe.each(backendNames)("/metrics of real engine runs (%s database)", (backend) => {
    let sandbox: EngineSandbox;
    let svc: Service;
    let dbCleanup: () => Promise<void>;
    const [stack] = tempStackNames(backend === "embedded" ? "ne" : "np", 1) as [string];

    beforeAll(async () => {
        sandbox = await engineSandbox(`runtime-metrics-${backend}`);
        process.env.PULUMI_CONFIG_PASSPHRASE = "x1-runtime-tier-passphrase";
        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        svc = await startService({ database: db.options, pollIntervalMs: 300 });
        expect((await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name: stack, from: "render", team: "ops" } })).status).toBe(201);
    });

    afterAll(async () => {
        await svc?.close();
        await dbCleanup?.();
        sandbox?.cleanup();
    });

    it("observes a run's duration and its wait in the queue", async () => {
        const id = (await call(svc.url, "POST", `/v1/stacks/${stack}/runs`, { token: svc.adminToken, body: { operation: "preview" } })).body.run.id;
        const run = await waitForRun(svc.url, svc.adminToken, id);
        expect(run.status).toBe("succeeded");
        const text = await waitFor("the run's end to be counted", async () => {
            const t = (await scrape(svc.url)).text;
            return sample(t, 'x1_deployer_runs_total{operation="preview",result="succeeded"}') === 1 ? t : undefined;
        });
        const seconds = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
        expect(sample(text, 'x1_deployer_run_duration_seconds_count{operation="preview",result="succeeded"}')).toBe(1);
        expect(sample(text, 'x1_deployer_run_duration_seconds_sum{operation="preview",result="succeeded"}')).toBeCloseTo(seconds, 2);
        expect(sample(text, 'x1_deployer_queue_wait_seconds_count{operation="preview"}')).toBe(1);
        console.log(`[runtime tier] ${backend}: /metrics after one preview: run_duration_seconds_sum ${seconds}s`);
    });
});
