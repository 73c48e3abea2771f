/**
 * Outgoing webhooks over HTTP, on both database backends, against receivers
 * on loopback (a node http server in this file): registration (http(s)
 * only, the secret shown once, a team's own), deliveries signed as a
 * receiver verifies them, a receiver answering 500 retried with backoff
 * until it answers 200, a receiver that hangs timed out and given up after
 * the bounded attempts, every attempt recorded, no secret value in a body.
 * Events come from runs cancelled while their stack is paused (no engine),
 * then from real engine runs (run.succeeded, run.failed).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifySignature } from "../../runtime/deployer/core/notifications";
import { abandonedAfterSeconds } from "../../runtime/deployer/http/idempotency";
import { type EngineSandbox, engineSandbox } from "../helpers/engine";
import { backendNames, call, freshDatabase, type Service, startService, tempStackNames, twoTeams, waitFor, waitForRun } from "./helpers";

interface Received {
    path: string;
    headers: IncomingMessage["headers"];
    body: string;
    at: number;
}

/** A webhook receiver on loopback: /ok answers 200, /flaky 500 twice then 200, /down always 500, /hang never answers. */
async function receiver(): Promise<{ url: string; received: Received[]; close: () => void }> {
    const received: Received[] = [];
    const hanging: ServerResponse[] = [];
    const server: Server = createServer((req, res) => {
        let body = "";
        req.on("data", (d) => (body += String(d)));
        req.on("end", () => {
            const path = req.url ?? "";
            received.push({ path, headers: req.headers, body, at: Date.now() });
            const seen = received.filter((r) => r.path === path).length;
            if (path === "/hang") return void hanging.push(res);
            if (path === "/down" || (path === "/flaky" && seen <= 2)) return void res.writeHead(500).end("receiver broken");
            res.writeHead(200).end("ok");
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    return {
        url: `http://127.0.0.1:${port}`,
        received,
        close: () => {
            for (const r of hanging) r.destroy();
            server.closeAllConnections();
            server.close();
        },
    };
}

const maxAttempts = 3;
const retryBaseMs = 400;

describe.each(backendNames)("outgoing webhooks (%s database)", (backend) => {
    let svc: Service;
    let dbCleanup: () => Promise<void>;
    let rx: Awaited<ReturnType<typeof receiver>>;
    const [stackA, stackB] = tempStackNames(backend === "embedded" ? "we" : "wp", 2) as [string, string];
    let teamA: string;
    let teamB: string;
    /** Team A's admin: webhooks are a team setting. */
    let adminA: string;
    const hooks: Record<string, { id: string; secret: string }> = {};

    beforeAll(async () => {
        rx = await receiver();
        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        svc = await startService({
            database: db.options,
            pollIntervalMs: 200,
            webhooks: { timeoutMs: 1000, maxAttempts, retryBaseMs, retryMaxMs: 5000 },
        });
        ({ teamA, teamB } = await twoTeams(svc, [stackA, stackB], `wh-${backend}`));
        adminA = (await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name: `a-admin-wh-${backend}`, teams: { "team-a": "admin" } } }))
            .body.token;
    });

    afterAll(async () => {
        await svc?.close();
        await dbCleanup?.();
        rx?.close();
    });

    it("refuses a URL that is not http(s) or carries credentials with 422 naming the key, the value and the fix", async () => {
        const cases = [
            {
                url: "ftp://hooks.example.com/x1",
                message: /url 'ftp:\/\/hooks\.example\.com\/x1' has scheme 'ftp': webhooks are POSTed over http:\/\/ or https:\/\/ only/,
            },
            { url: "javascript:alert(1)", message: /has scheme 'javascript'/ },
            { url: "hooks.example.com/x1", message: /url 'hooks\.example\.com\/x1' is not a URL: send an absolute http:\/\/ or https:\/\/ URL/ },
            { url: "https://bot:hunter2hunter2@hooks.example.com/x1", message: /carries credentials: .* X1-Signature instead/ },
        ];
        for (const c of cases) {
            const r = await call(svc.url, "POST", "/v1/webhooks", { token: adminA, body: { team: "team-a", url: c.url } });
            expect(r.status, c.url).toBe(422);
            expect(r.body.message).toMatch(c.message);
            expect(r.body.problems[0].key).toBe("url");
            expect(JSON.stringify(r.body)).not.toContain("hunter2hunter2");
        }
        const unknownEvent = await call(svc.url, "POST", "/v1/webhooks", {
            token: adminA,
            body: { team: "team-a", url: `${rx.url}/ok`, events: ["run.exploded"] },
        });
        expect(unknownEvent.status).toBe(400);
        expect(unknownEvent.body.message).toMatch(
            /body\.events\.0: must be one of run\.succeeded, run\.failed, run\.cancelled, drift\.found, approval\.needed, approval\.expired/,
        );
        const otherTeam = await call(svc.url, "POST", "/v1/webhooks", { token: teamB, body: { team: "team-a", url: `${rx.url}/ok` } });
        expect(otherTeam.status).toBe(403);
        expect(otherTeam.body.message).toMatch(
            /create-webhook on the webhooks of team 'team-a' needs the admin role in team 'team-a'; token:b-wh-.* is not a member there/,
        );
        const operator = await call(svc.url, "POST", "/v1/webhooks", { token: teamA, body: { team: "team-a", url: `${rx.url}/ok` } });
        expect(operator.status).toBe(403);
        expect(operator.body.message).toMatch(/needs the admin role in team 'team-a'; token:a-wh-.* is operator there/);
    });

    it("registers a team's webhooks (its admin), showing each secret once", async () => {
        for (const path of ["ok", "flaky", "down", "hang"]) {
            const r = await call(svc.url, "POST", "/v1/webhooks", { token: adminA, body: { team: "team-a", url: `${rx.url}/${path}`, description: path } });
            expect(r.status, JSON.stringify(r.body)).toBe(201);
            expect(r.body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
            expect(r.body.events).toEqual(["run.succeeded", "run.failed", "run.cancelled", "drift.found", "approval.needed", "approval.expired"]);
            hooks[path] = { id: r.body.id, secret: r.body.secret };
        }
        const listed = await call(svc.url, "GET", "/v1/webhooks", { token: teamA });
        expect(listed.body.webhooks.map((h: any) => h.description)).toEqual(["ok", "flaky", "down", "hang"]);
        expect(JSON.stringify(listed.body)).not.toMatch(/whsec_/);
        expect((await call(svc.url, "GET", "/v1/webhooks", { token: teamB })).body.webhooks).toEqual([]);
        const peek = await call(svc.url, "GET", `/v1/webhooks/${hooks.ok!.id}/deliveries`, { token: teamB });
        expect(peek.status).toBe(403);
    });

    it("signs each delivery, retries a receiver answering 500 with backoff, gives up on one that hangs, and records every attempt", async () => {
        // A run cancelled while its stack is paused: the run.cancelled event, without an engine.
        await call(svc.url, "POST", `/v1/stacks/${stackA}/pause`, { token: teamA, body: { reason: "webhook test" } });
        const queued = await call(svc.url, "POST", `/v1/stacks/${stackA}/runs`, { token: teamA, body: { operation: "preview" } });
        const runId = queued.body.run.id as string;
        await call(svc.url, "POST", `/v1/runs/${runId}/cancel`, { token: teamA });

        const deliveries = async (hook: string) => (await call(svc.url, "GET", `/v1/webhooks/${hooks[hook]!.id}/deliveries`, { token: teamA })).body.deliveries;
        const settled = await waitFor(
            "every delivery to be delivered or given up",
            async () => {
                const all = await Promise.all(["ok", "flaky", "down", "hang"].map(async (h) => [h, (await deliveries(h))[0]] as const));
                return all.every(([, d]) => d && d.status !== "pending") ? Object.fromEntries(all) : undefined;
            },
            120_000,
            300,
        );
        const { ok, flaky, down, hang } = settled as Record<string, any>;
        expect(ok).toMatchObject({ event: "run.cancelled", status: "delivered", runId, stack: stackA, lastStatus: 200, lastError: null });
        expect(ok.attempts).toHaveLength(1);
        expect(flaky.status).toBe("delivered");
        expect(flaky.attempts.map((a: any) => a.status)).toEqual([500, 500, 200]);
        expect(flaky.attempts[0].error).toBe("the receiver answered HTTP 500");
        expect(down).toMatchObject({ status: "failed", lastStatus: 500, lastError: "the receiver answered HTTP 500", nextAttemptAt: null });
        expect(down.attempts).toHaveLength(maxAttempts);
        expect(hang).toMatchObject({ status: "failed", lastStatus: null, lastError: "no answer within 1000 ms" });
        expect(hang.attempts.map((a: any) => a.error)).toEqual(Array(maxAttempts).fill("no answer within 1000 ms"));
        // Exponential backoff: the second retry waits at least twice the first's delay.
        const starts = flaky.attempts.map((a: any) => Date.parse(a.at));
        expect(starts[1] - starts[0]).toBeGreaterThanOrEqual(retryBaseMs);
        expect(starts[2] - starts[1]).toBeGreaterThanOrEqual(2 * retryBaseMs);
        console.log(
            `[runtime tier] ${backend}: run.cancelled to 4 receivers: ok 1 attempt; flaky ${flaky.attempts.map((a: any) => a.status).join(",")} at +${starts[1] - starts[0]} ms, +${starts[2] - starts[1]} ms; down failed after ${down.attempts.length}; hang failed after ${hang.attempts.length} timeouts of 1000 ms`,
        );

        // As a receiver verifies them when they arrive (the tolerance counts from then, not from when this test looks, minutes later under load): the signature over "<t>.<raw body>" with its secret, the same delivery id on every attempt.
        const byPath = (p: string) => rx.received.filter((r) => r.path === p);
        for (const path of ["ok", "flaky", "down", "hang"]) {
            const got = byPath(`/${path}`);
            expect(got.length, path).toBe(path === "ok" ? 1 : maxAttempts);
            for (const r of got) {
                expect(r.headers["content-type"]).toBe("application/json");
                expect(r.headers["x1-event"]).toBe("run.cancelled");
                expect(r.headers["x1-delivery"]).toBe(settled[path].id);
                const header = String(r.headers["x1-signature"]);
                expect(header).toMatch(/^t=\d{10},v1=[0-9a-f]{64}$/);
                expect(verifySignature(hooks[path]!.secret, r.body, header, 300, r.at)).toBe(true);
                // Another webhook's secret, a changed body or a replay an hour later do not verify.
                expect(verifySignature(hooks[path === "ok" ? "down" : "ok"]!.secret, r.body, header, 300, r.at)).toBe(false);
                expect(verifySignature(hooks[path]!.secret, r.body.replace(stackA, stackB), header, 300, r.at)).toBe(false);
                expect(verifySignature(hooks[path]!.secret, r.body, header, 300, r.at + 3_600_000)).toBe(false);
            }
        }
        const payload = JSON.parse(byPath("/ok")[0]!.body);
        expect(payload).toMatchObject({
            id: ok.id,
            event: "run.cancelled",
            team: "team-a",
            stack: stackA,
            run: { id: runId, operation: "preview", status: "cancelled", trigger: "request", url: `/v1/runs/${runId}` },
        });
        expect(payload.run.error).toMatch(/cancelled by token:a-wh-.* before it started/);
        // No secret value in a body, a delivery record or the log: not the webhooks' secrets, not a token.
        const everything = `${rx.received.map((r) => r.body).join("\n")}\n${JSON.stringify(settled)}\n${svc.log().join("\n")}`;
        for (const secret of [...Object.values(hooks).map((h) => h.secret), teamA, teamB, adminA, svc.adminToken]) expect(everything).not.toContain(secret);
        await call(svc.url, "DELETE", `/v1/stacks/${stackA}/pause`, { token: teamA });
    });

    it("tells approval.needed when a gated up waits for an approver", async () => {
        expect((await call(svc.url, "PUT", `/v1/stacks/${stackA}/approval-policy`, { token: adminA, body: { up: true, destroy: true } })).status).toBe(200);
        await call(svc.url, "POST", `/v1/stacks/${stackA}/pause`, { token: teamA, body: { reason: "webhook test" } });
        const before = rx.received.filter((r) => r.path === "/ok").length;
        const gated = await call(svc.url, "POST", `/v1/stacks/${stackA}/runs`, { token: teamA, body: { operation: "up" } });
        expect(gated.status).toBe(202);
        const approvalId = gated.body.approval.id as string;
        const got = await waitFor("the approval.needed delivery", async () => rx.received.filter((r) => r.path === "/ok")[before], 30_000);
        expect(got.headers["x1-event"]).toBe("approval.needed");
        expect(verifySignature(hooks.ok!.secret, got.body, String(got.headers["x1-signature"]), 300, got.at)).toBe(true);
        const body = JSON.parse(got.body);
        expect(body).toMatchObject({
            event: "approval.needed",
            team: "team-a",
            stack: stackA,
            approval: { id: approvalId, operation: "up", status: "pending", previewRunId: gated.body.run.id },
            run: { id: gated.body.run.id, operation: "preview" },
        });
        expect(body.approval.requestedBy).toMatch(/^token:a-wh-/);
        await call(svc.url, "POST", `/v1/approvals/${approvalId}/reject`, { token: teamA, body: { reason: "only a test" } });
        await call(svc.url, "POST", `/v1/runs/${gated.body.run.id}/cancel`, { token: teamA });
        await call(svc.url, "DELETE", `/v1/stacks/${stackA}/pause`, { token: teamA });
    });

    it("tells only the stack's team, and stops with a deleted webhook", async () => {
        await call(svc.url, "POST", `/v1/stacks/${stackB}/pause`, { token: teamB, body: { reason: "webhook test" } });
        const q = await call(svc.url, "POST", `/v1/stacks/${stackB}/runs`, { token: teamB, body: { operation: "preview" } });
        await call(svc.url, "POST", `/v1/runs/${q.body.run.id}/cancel`, { token: teamB });
        await new Promise((r) => setTimeout(r, 2000));
        // Team A's webhooks hear nothing of team B's stack (they may still be retrying team A's deliveries).
        expect(rx.received.filter((r) => JSON.parse(r.body).stack === stackB)).toEqual([]);
        const refused = await call(svc.url, "DELETE", `/v1/webhooks/${hooks.ok!.id}`, { token: teamB });
        expect(refused.status).toBe(403);
        expect((await call(svc.url, "DELETE", `/v1/webhooks/${hooks.ok!.id}`, { token: teamA })).status).toBe(403);
        const removed = await call(svc.url, "DELETE", `/v1/webhooks/${hooks.ok!.id}`, { token: adminA });
        expect(removed.status).toBe(204);
        expect((await call(svc.url, "GET", `/v1/webhooks/${hooks.ok!.id}/deliveries`, { token: teamA })).status).toBe(404);
        const audit = (await call(svc.url, "GET", "/v1/audit?limit=300", { token: svc.adminToken })).body.entries;
        expect(audit.filter((e: any) => e.action === "create-webhook" && e.outcome === "ok")).toHaveLength(4);
        expect(audit.find((e: any) => e.action === "delete-webhook" && e.outcome === "denied")).toBeDefined();
        await call(svc.url, "DELETE", `/v1/stacks/${stackB}/pause`, { token: teamB });
    });

    it("answers a retried create with its first answer: one webhook, one token, one pause, one decision per Idempotency-Key", async () => {
        const key = (what: string) => ({ "idempotency-key": `retry-${what}-${backend}` });
        const body = { team: "team-a", url: `${rx.url}/ok`, description: "retried" };
        // Two at once, then a retry after the answer: one webhook.
        const [a, b] = await Promise.all([
            call(svc.url, "POST", "/v1/webhooks", { token: adminA, body, headers: key("hook") }),
            call(svc.url, "POST", "/v1/webhooks", { token: adminA, body, headers: key("hook") }),
        ]);
        const first = a.status === 201 && !a.headers.get("idempotent-replayed") ? a : b;
        const other = first === a ? b : a;
        expect(first.status, JSON.stringify(first.body)).toBe(201);
        expect(first.body.secret).toMatch(/^whsec_/);
        // The other one came while the first was answered (409, retry) or after it (the first answer again).
        expect([409, 201]).toContain(other.status);
        const retry = await call(svc.url, "POST", "/v1/webhooks", { token: adminA, body, headers: key("hook") });
        expect(retry.status).toBe(201);
        expect(retry.headers.get("idempotent-replayed")).toBe("true");
        expect(retry.body).toEqual({ ...first.body, secret: null });
        const listed = (await call(svc.url, "GET", "/v1/webhooks", { token: adminA })).body.webhooks.filter((h: any) => h.description === "retried");
        expect(listed.map((h: any) => h.id)).toEqual([first.body.id]);
        // The same key for another request is refused, naming the first.
        const reused = await call(svc.url, "POST", "/v1/webhooks", { token: adminA, body: { ...body, description: "other" }, headers: key("hook") });
        expect(reused.status).toBe(409);
        expect(reused.body.message).toBe(
            `Idempotency-Key 'retry-hook-${backend}' was already used for a different request (POST /v1/webhooks); use a new key for a new request`,
        );
        // A failed request keeps nothing: corrected, its key works.
        const bad = await call(svc.url, "POST", "/v1/webhooks", { token: adminA, body: { ...body, url: "ftp://x" }, headers: key("fixed") });
        expect(bad.status).toBe(422);
        const fixed = await call(svc.url, "POST", "/v1/webhooks", { token: adminA, body: { ...body, description: "fixed" }, headers: key("fixed") });
        expect(fixed.status).toBe(201);
        expect(fixed.headers.get("idempotent-replayed")).toBeNull();
        for (const id of [first.body.id, fixed.body.id]) await call(svc.url, "DELETE", `/v1/webhooks/${id}`, { token: adminA });

        // A token: issued once, its value never kept for the replay.
        const tokenBody = { name: `retried-${backend}`, teams: { "team-a": "viewer" } };
        const issued = await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: tokenBody, headers: key("token") });
        expect(issued.status).toBe(201);
        const again = await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: tokenBody, headers: key("token") });
        expect(again.status).toBe(201);
        expect(again.body).toEqual({ ...issued.body, token: null });
        const tokens = (await call(svc.url, "GET", "/v1/tokens", { token: svc.adminToken })).body.tokens;
        expect(tokens.filter((t: any) => t.name === tokenBody.name)).toHaveLength(1);

        // A pause and an approval decision, retried: one record, one audit entry each.
        const pause = () => call(svc.url, "POST", `/v1/stacks/${stackA}/pause`, { token: teamA, body: { reason: "retried" }, headers: key("pause") });
        const paused = await pause();
        expect(paused.status).toBe(200);
        expect(await pause()).toMatchObject({ status: 200, body: paused.body });
        const gated = await call(svc.url, "POST", `/v1/stacks/${stackA}/runs`, { token: teamA, body: { operation: "up" } });
        const approvalId = gated.body.approval.id as string;
        const reject = () => call(svc.url, "POST", `/v1/approvals/${approvalId}/reject`, { token: teamA, body: { reason: "retried" }, headers: key("reject") });
        const rejected = await reject();
        expect(rejected.status).toBe(200);
        expect(await reject()).toMatchObject({ status: 200, body: rejected.body });
        // Without the key the second decision is what it always was: a 409 saying how it was decided.
        expect((await call(svc.url, "POST", `/v1/approvals/${approvalId}/reject`, { token: teamA, body: { reason: "retried" } })).status).toBe(409);
        const audit = (await call(svc.url, "GET", "/v1/audit?limit=500", { token: svc.adminToken })).body.entries;
        expect(audit.filter((e: any) => e.action === "create-webhook" && e.target === `webhook:${first.body.id}`)).toHaveLength(1);
        expect(audit.filter((e: any) => e.action === "create-token" && e.target === `token:${tokenBody.name}`)).toHaveLength(1);
        expect(audit.filter((e: any) => e.action === "withdraw-approval" && e.target === `approval:${approvalId}`)).toHaveLength(1);
        expect(audit.filter((e: any) => e.action === "pause" && e.target === `stack:${stackA}` && e.reason?.includes("retried"))).toHaveLength(1);
        await call(svc.url, "POST", `/v1/runs/${gated.body.run.id}/cancel`, { token: teamA });
        await call(svc.url, "DELETE", `/v1/stacks/${stackA}/pause`, { token: teamA });
    });

    it("lets a retry act when the replica that claimed its key died before answering, and not sooner", async () => {
        const headers = { "idempotency-key": `orphaned-pause-${backend}` };
        const pause = () => call(svc.url, "POST", `/v1/stacks/${stackA}/pause`, { token: teamA, body: { reason: "orphaned key" }, headers });
        const pausedStack = async () => (await call(svc.url, "GET", `/v1/stacks/${stackA}`, { token: teamA })).body.paused;
        expect((await pause()).status).toBe(200);
        // The key as a replica leaves it when it dies mid-request: claimed, never answered.
        const db = svc.deployer.database.db;
        const orphan = (age: number) =>
            db
                .updateTable("idempotency_keys")
                .set({ status_code: null, body: null, created_at: new Date(Date.now() - age * 1000) })
                .where("key", "=", headers["idempotency-key"])
                .execute();
        await orphan(0);
        expect((await call(svc.url, "DELETE", `/v1/stacks/${stackA}/pause`, { token: teamA })).status).toBe(200);

        const early = await pause();
        expect(early.status).toBe(409);
        expect(early.body.message).toMatch(/is still being answered: retry in a moment \(one its deployer stopped answering is given up after 10 minutes/);
        expect(await pausedStack()).toBeNull();

        await orphan(abandonedAfterSeconds + 1);
        const late = await pause();
        expect(late.status, JSON.stringify(late.body)).toBe(200);
        expect(late.headers.get("idempotent-replayed")).toBeNull();
        expect(await pausedStack()).toMatchObject({ reason: "orphaned key" });
        // Taken over, the key holds the new answer.
        const replay = await pause();
        expect(replay.headers.get("idempotent-replayed")).toBe("true");
        expect(replay.body).toEqual(late.body);
        await call(svc.url, "DELETE", `/v1/stacks/${stackA}/pause`, { token: teamA });
    });
});

describe.each(backendNames)("webhooks of real engine runs (%s database)", (backend) => {
    let sandbox: EngineSandbox;
    let svc: Service;
    let dbCleanup: () => Promise<void>;
    let rx: Awaited<ReturnType<typeof receiver>>;
    const [stack, broken] = tempStackNames(backend === "embedded" ? "xe" : "xp", 2) as [string, string];

    beforeAll(async () => {
        sandbox = await engineSandbox(`runtime-webhooks-${backend}`);
        process.env.PULUMI_CONFIG_PASSPHRASE = "x1-runtime-tier-passphrase";
        rx = await receiver();
        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        svc = await startService({ database: db.options, pollIntervalMs: 300 });
        for (const name of [stack, broken]) {
            expect((await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name, from: "render", team: "ops" } })).status).toBe(201);
        }
    });

    afterAll(async () => {
        await svc?.close();
        await dbCleanup?.();
        rx?.close();
        sandbox?.cleanup();
    });

    it("tells run.succeeded and run.failed, with the run's counts and error, never a secret value", async () => {
        const token = svc.adminToken;
        const hook = await call(svc.url, "POST", "/v1/webhooks", {
            token,
            body: { team: "ops", url: `${rx.url}/ok`, events: ["run.succeeded", "run.failed"] },
        });
        const ok = (await call(svc.url, "POST", `/v1/stacks/${stack}/runs`, { token, body: { operation: "preview" } })).body.run.id;
        expect((await waitForRun(svc.url, token, ok)).status).toBe("succeeded");
        // A stack pointed at a cluster whose kubeconfig does not exist: the program stops, the run fails.
        const detail = (await call(svc.url, "GET", `/v1/stacks/${broken}`, { token })).body;
        const config = { ...detail.config, cluster: { ...detail.config.cluster, kubeContext: "gone", kubeconfig: "/nonexistent/kubeconfig" } };
        expect((await call(svc.url, "PUT", `/v1/stacks/${broken}/config`, { token, body: { config, revision: detail.revision } })).status).toBe(200);
        const bad = (await call(svc.url, "POST", `/v1/stacks/${broken}/runs`, { token, body: { operation: "preview" } })).body.run.id;
        const badRun = await waitForRun(svc.url, token, bad);
        expect(badRun.status).toBe("failed");
        const bodies = await waitFor(
            "both events to arrive",
            async () => (rx.received.length >= 2 ? rx.received.map((r) => JSON.parse(r.body)) : undefined),
            60_000,
        );
        const succeeded = bodies.find((b: any) => b.run.id === ok);
        expect(succeeded).toMatchObject({ event: "run.succeeded", stack, team: "ops", run: { status: "succeeded", operation: "preview" } });
        expect(succeeded.run.counts.create).toBeGreaterThan(5);
        const failed = bodies.find((b: any) => b.run.id === bad);
        expect(failed).toMatchObject({ event: "run.failed", stack: broken, run: { status: "failed", error: badRun.error } });
        expect(failed.run.error).toMatch(/x1agent:cluster\.kubeconfig = "\/nonexistent\/kubeconfig": no such file/);
        for (const r of rx.received) {
            expect(verifySignature(hook.body.secret, r.body, String(r.headers["x1-signature"]), 300, r.at)).toBe(true);
            expect(r.body).not.toContain("x1-runtime-tier-passphrase");
        }
        console.log(`[runtime tier] ${backend}: events ${bodies.map((b: any) => `${b.event} (${b.run.status})`).join(", ")}`);
    });
});
