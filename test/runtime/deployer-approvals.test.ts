/**
 * Roles and approvals over HTTP, on both database backends.
 *
 * The first part serves the API without a worker (runWorker: false, no
 * engine run starts): who may do what by role (/v1/me, tokens with team
 * roles, the `teams: [..]` form meaning operator, OIDC groups mapped to
 * roles), the approval policy (prod-like default, admin override), and the
 * approval state machine up to where a preview would have to succeed:
 * self-approval, approving before the preview ended, rejecting, deciding
 * twice, expiry. The second part runs the real engine on copies of the
 * `render` stack (no cluster): a gated `up` previewed, approved by another
 * person and applied at exactly the previewed revision; a config edit after
 * the preview voiding the approval (409 naming the revisions); a gated
 * stack deletion through a destroy preview.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { Kysely, PostgresDialect, sql } from "kysely";
import { Migrator } from "kysely/migration";
import { PGliteDialect } from "kysely-pglite-dialect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../../runtime/deployer/core/tokens";
import type { DatabaseOptions } from "../../runtime/deployer/store/db";
import { migrations } from "../../runtime/deployer/store/migrations";
import { type EngineSandbox, engineSandbox, restoreEnv } from "../helpers/engine";
import { backendNames, call, freshDatabase, type Service, startService, tempStackNames, waitFor, waitForRun } from "./helpers";

/** Issues a token as the service's admin; `teams` in either form POST /v1/tokens takes. */
async function issue(svc: Service, name: string, teams: Record<string, string> | string[], admin = false): Promise<string> {
    const r = await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name, teams, admin } });
    if (r.status !== 201) throw new Error(`issuing ${name} answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body.token as string;
}

async function createStack(svc: Service, name: string, team: string): Promise<void> {
    const r = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name, from: "render", team } });
    if (r.status !== 201) throw new Error(`creating ${name} answered ${r.status}: ${JSON.stringify(r.body)}`);
}

describe.each(backendNames)("roles and approvals, no engine (%s database)", (backend) => {
    let svc: Service;
    let dbCleanup: () => Promise<void>;
    const [base] = tempStackNames("apr", 1) as [string];
    const prod = `${base}-prod`;
    const dev = `${base}-dev`;
    const other = `${base}-other`;
    const t: Record<string, string> = {};
    let jwksServer: Server;
    let signJwt: (groups: string[]) => Promise<string>;

    beforeAll(async () => {
        // An OIDC issuer on loopback: its JWKS served by a tiny HTTP server.
        const { publicKey, privateKey } = await generateKeyPair("RS256");
        const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
        jwksServer = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] })));
        await new Promise<void>((r) => jwksServer.listen(0, "127.0.0.1", r));
        const port = (jwksServer.address() as { port: number }).port;
        const issuer = "https://idp.example.test";
        signJwt = (groups) =>
            new SignJWT({ groups })
                .setProtectedHeader({ alg: "RS256", kid: "k1" })
                .setIssuer(issuer)
                .setAudience("x1-deployer")
                .setSubject("carol")
                .setIssuedAt()
                .setExpirationTime("5m")
                .sign(privateKey);

        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        svc = await startService({
            database: db.options,
            runWorker: false,
            oidc: {
                issuer,
                audience: "x1-deployer",
                jwksUrl: `http://127.0.0.1:${port}/jwks`,
                groupRoles: { "shop-leads": [{ team: "shop", role: "approver" }], "shop-devs": [{ team: "shop", role: "operator" }] },
            },
        });
        await createStack(svc, prod, "shop");
        await createStack(svc, dev, "shop");
        await createStack(svc, other, "other");
        t.viewer = await issue(svc, `viewer-${backend}`, { shop: "viewer" });
        t.operator = await issue(svc, `operator-${backend}`, ["shop"]);
        t.approver = await issue(svc, `approver-${backend}`, { shop: "approver" });
        t.approver2 = await issue(svc, `approver2-${backend}`, { shop: "approver" });
        t.shopAdmin = await issue(svc, `shop-admin-${backend}`, { shop: "admin" });
        t.otherApprover = await issue(svc, `other-approver-${backend}`, { other: "approver" });
    });

    afterAll(async () => {
        await svc?.close();
        await dbCleanup?.();
        jwksServer?.close();
    });

    const denied = async (actor: string) =>
        (await call(svc.url, "GET", "/v1/audit?outcome=denied&limit=1000", { token: svc.adminToken })).body.entries.filter((e: any) => e.actor === actor);

    it("tells each caller its roles at /v1/me; a token made with a team list is an operator there", async () => {
        const me = async (token: string) => (await call(svc.url, "GET", "/v1/me", { token })).body;
        expect(await me(t.viewer!)).toEqual({ subject: `token:viewer-${backend}`, admin: false, teams: [{ team: "shop", role: "viewer" }] });
        expect(await me(t.operator!)).toEqual({ subject: `token:operator-${backend}`, admin: false, teams: [{ team: "shop", role: "operator" }] });
        expect((await me(svc.adminToken)).admin).toBe(true);
        // OIDC groups map to team roles through the setting; a group it does not list grants nothing.
        expect(await me(await signJwt(["shop-devs", "shop-leads", "unlisted"]))).toEqual({
            subject: "oidc:carol",
            admin: false,
            teams: [{ team: "shop", role: "approver" }],
        });
        const tokens = (await call(svc.url, "GET", "/v1/tokens", { token: svc.adminToken })).body.tokens;
        expect(tokens.find((x: any) => x.name === `operator-${backend}`).teams).toEqual({ shop: "operator" });
        expect((await call(svc.url, "GET", "/v1/me")).status).toBe(401);
    });

    it("lets a team admin issue tokens for its own team only; a bad role is a 400 naming it", async () => {
        const bad = await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name: "bad-role", teams: { shop: "owner" } } });
        expect(bad.status).toBe(400);
        expect(bad.body.message).toBe(
            "invalid request: body.teams: must be { <team>: <role> }, each role one of viewer, operator, approver, admin (or a list of teams, each with the operator role)",
        );
        const own = await call(svc.url, "POST", "/v1/tokens", { token: t.shopAdmin, body: { name: `ci-${backend}`, teams: { shop: "operator" } } });
        expect(own.status).toBe(201);
        expect(own.body.teams).toEqual({ shop: "operator" });
        const foreign = await call(svc.url, "POST", "/v1/tokens", { token: t.shopAdmin, body: { name: "sneaky", teams: { other: "admin" } } });
        expect(foreign.status).toBe(403);
        expect(foreign.body.message).toBe(
            `create-token of a token with roles in 'other' needs the admin role in each of those teams; token:shop-admin-${backend} is in team(s) shop (admin)`,
        );
        const escalate = await call(svc.url, "POST", "/v1/tokens", { token: t.shopAdmin, body: { name: "root", teams: { shop: "admin" }, admin: true } });
        expect(escalate.status).toBe(403);
        expect(escalate.body.message).toMatch(/deployer-admin token .* needs a deployer admin/);
        // A team admin lists the tokens of its team, not the others.
        const listed = (await call(svc.url, "GET", "/v1/tokens", { token: t.shopAdmin })).body.tokens.map((x: any) => x.name);
        expect(listed).toEqual(expect.arrayContaining([`viewer-${backend}`, `ci-${backend}`]));
        expect(listed).not.toContain(`other-approver-${backend}`);
        expect((await call(svc.url, "GET", "/v1/tokens", { token: t.operator })).status).toBe(403);
    });

    it("lets a viewer read but not preview, naming the role needed; every refusal is audited", async () => {
        expect((await call(svc.url, "GET", `/v1/stacks/${dev}`, { token: t.viewer })).status).toBe(200);
        expect((await call(svc.url, "GET", `/v1/runs?stack=${dev}`, { token: t.viewer })).status).toBe(200);
        expect((await call(svc.url, "GET", "/v1/approvals", { token: t.viewer })).status).toBe(200);
        const preview = await call(svc.url, "POST", `/v1/stacks/${dev}/runs`, { token: t.viewer, body: { operation: "preview" } });
        expect(preview.status).toBe(403);
        expect(preview.body.message).toBe(`preview on stack '${dev}' needs the operator role in team 'shop'; token:viewer-${backend} is viewer there`);
        const edit = await call(svc.url, "PUT", `/v1/stacks/${dev}/config`, { token: t.viewer, body: { config: {} } });
        expect(edit.status).toBe(403);
        expect(edit.body.message).toMatch(/^update-config on stack '.*' needs the operator role in team 'shop'/);
        const workspace = await call(svc.url, "POST", `/v1/stacks/${dev}/workspaces`, { token: t.viewer, body: { id: "ml", team: "shop" } });
        expect(workspace.status).toBe(403);
        const del = await call(svc.url, "DELETE", `/v1/stacks/${dev}?confirm=${dev}`, { token: t.operator });
        expect(del.status).toBe(403);
        expect(del.body.message).toBe(`delete-stack on stack '${dev}' needs the admin role in team 'shop'; token:operator-${backend} is operator there`);
        expect((await denied(`token:viewer-${backend}`)).map((e: any) => e.action)).toEqual(
            expect.arrayContaining(["preview", "update-config", "add-workspace"]),
        );
    });

    it("gates up and destroy of prod-like stacks by default, and lets only a team admin change that", async () => {
        const policy = async (stack: string) => (await call(svc.url, "GET", `/v1/stacks/${stack}/approval-policy`, { token: t.viewer })).body;
        expect(await policy(prod)).toEqual({ stack: prod, up: true, destroy: true, source: "default", prodLike: true, setBy: null, setAt: null });
        expect(await policy(dev)).toMatchObject({ up: false, destroy: false, source: "default", prodLike: false });
        const asOperator = await call(svc.url, "PUT", `/v1/stacks/${dev}/approval-policy`, { token: t.operator, body: { up: false, destroy: false } });
        expect(asOperator.status).toBe(403);
        expect(asOperator.body.message).toBe(
            `set-approval-policy on stack '${dev}' needs the admin role in team 'shop'; token:operator-${backend} is operator there`,
        );
        const set = await call(svc.url, "PUT", `/v1/stacks/${dev}/approval-policy`, { token: t.shopAdmin, body: { up: false, destroy: true } });
        expect(set.status).toBe(200);
        expect(set.body).toMatchObject({ up: false, destroy: true, source: "set", prodLike: false, setBy: `token:shop-admin-${backend}` });
        // Not gated: an up is queued at once, no approval.
        const up = await call(svc.url, "POST", `/v1/stacks/${dev}/runs`, { token: t.operator, body: { operation: "up" } });
        expect(up.status).toBe(202);
        expect(up.body.run.operation).toBe("up");
        expect(up.body.approval).toBeUndefined();
        await call(svc.url, "POST", `/v1/runs/${up.body.run.id}/cancel`, { token: t.operator });
        // Gated by the admin's setting: a destroy becomes a destroy preview and an approval.
        const destroy = await call(svc.url, "POST", `/v1/stacks/${dev}/runs`, { token: t.operator, body: { operation: "destroy", confirm: dev } });
        expect(destroy.status).toBe(202);
        expect(destroy.body.run.operation).toBe("preview-destroy");
        expect(destroy.body.approval.status).toBe("pending");
        const approval = (await call(svc.url, "GET", `/v1/approvals/${destroy.body.approval.id}`, { token: t.viewer })).body.approval;
        expect(approval).toMatchObject({
            operation: "destroy",
            removeStack: false,
            summary: `destroy stack '${dev}'`,
            requestedBy: `token:operator-${backend}`,
        });
        await call(svc.url, "POST", `/v1/runs/${destroy.body.run.id}/cancel`, { token: t.operator });
    });

    it("takes a gated up as a preview and an approval that only another approver of the team may decide", async () => {
        const before = (await call(svc.url, "GET", `/v1/stacks/${prod}`, { token: t.viewer })).body;
        const up = await call(svc.url, "POST", `/v1/stacks/${prod}/runs`, { token: t.operator, body: { operation: "up" } });
        expect(up.status).toBe(202);
        expect(up.body.run).toMatchObject({ operation: "preview", status: "queued", configRevision: before.revision, approvalId: up.body.approval.id });
        const id = up.body.approval.id as string;
        const got = await call(svc.url, "GET", `/v1/approvals/${id}`, { token: t.approver });
        expect(got.body.approval).toMatchObject({
            id,
            stack: prod,
            team: "shop",
            operation: "up",
            summary: `up stack '${prod}'`,
            configRevision: before.revision,
            previewRunId: up.body.run.id,
            preview: { status: "queued", counts: null },
            status: "pending",
            requestedBy: `token:operator-${backend}`,
            decidedBy: null,
            runId: null,
        });

        // The requester may not approve its own up, whatever its role; the refusal says who may, and is audited.
        const requesterAdmin = await issue(svc, `requester-admin-${backend}`, { shop: "admin" });
        const ownUp = await call(svc.url, "POST", `/v1/stacks/${prod}/runs`, { token: requesterAdmin, body: { operation: "up" } });
        const self = await call(svc.url, "POST", `/v1/approvals/${ownUp.body.approval.id}/approve`, { token: requesterAdmin });
        expect(self.status).toBe(403);
        expect(self.body.message).toBe(
            `token:requester-admin-${backend} requested this up and may not approve it: an approver who is not the requester approves it, someone with the approver or admin role in team 'shop' (or a deployer admin)`,
        );
        expect((await denied(`token:requester-admin-${backend}`)).map((e: any) => `${e.action} ${e.target}`)).toContain(
            `approve approval:${ownUp.body.approval.id}`,
        );
        // An operator is not an approver; another team's approver does not see the approval.
        const byOperator = await call(svc.url, "POST", `/v1/approvals/${id}/approve`, { token: t.operator });
        expect(byOperator.status).toBe(403);
        const byStranger = await call(svc.url, "POST", `/v1/approvals/${id}/approve`, { token: t.otherApprover });
        expect(byStranger.status).toBe(403);
        expect(byStranger.body.message).toMatch(
            new RegExp(`^approval ${id} is on stack '${prod}' of team 'shop'; token:other-approver-${backend} is in team\\(s\\) other`),
        );
        expect((await call(svc.url, "GET", "/v1/approvals", { token: t.otherApprover })).body.approvals).toEqual([]);
        // Nothing to approve until the preview has succeeded.
        const early = await call(svc.url, "POST", `/v1/approvals/${id}/approve`, { token: t.approver });
        expect(early.status).toBe(409);
        expect(early.body.message).toBe(`approval ${id} waits for its preview run ${up.body.run.id}, still queued: approve it when the preview has succeeded`);

        // Rejected with a reason: decided once, audited.
        const noReason = await call(svc.url, "POST", `/v1/approvals/${id}/reject`, { token: t.approver, body: { reason: " " } });
        expect(noReason.status).toBe(400);
        expect(noReason.body.message).toMatch(/body\.reason: say why it is rejected/);
        const rejected = await call(svc.url, "POST", `/v1/approvals/${id}/reject`, { token: t.approver, body: { reason: "not during the sale" } });
        expect(rejected.status).toBe(200);
        expect(rejected.body.approval).toMatchObject({ status: "rejected", decidedBy: `token:approver-${backend}`, reason: "not during the sale" });
        const afterReject = await call(svc.url, "POST", `/v1/approvals/${id}/approve`, { token: t.approver2 });
        expect(afterReject.status).toBe(409);
        expect(afterReject.body.message).toMatch(
            new RegExp(`^approval ${id} is already rejected: rejected by token:approver-${backend} at \\S+: not during the sale$`),
        );
        expect((await call(svc.url, "POST", `/v1/approvals/${id}/reject`, { token: t.approver2, body: { reason: "again" } })).status).toBe(409);
        // The requester may withdraw its own request.
        const withdrawn = await call(svc.url, "POST", `/v1/approvals/${ownUp.body.approval.id}/reject`, {
            token: requesterAdmin,
            body: { reason: "wrong day" },
        });
        expect(withdrawn.body.approval.status).toBe("rejected");

        const listed = (await call(svc.url, "GET", `/v1/approvals?stack=${prod}&status=rejected`, { token: t.viewer })).body.approvals;
        expect(listed.map((a: any) => a.id)).toEqual([ownUp.body.approval.id, id]);
        const audit = (await call(svc.url, "GET", "/v1/audit?limit=1000", { token: svc.adminToken })).body.entries;
        expect(audit.filter((e: any) => e.target === `approval:${id}`).map((e: any) => `${e.action} ${e.outcome}`)).toEqual(
            expect.arrayContaining(["request-approval ok", "reject ok", "approve denied"]),
        );
        for (const run of [up.body.run.id, ownUp.body.run.id]) await call(svc.url, "POST", `/v1/runs/${run}/cancel`, { token: t.operator });
        expect((await call(svc.url, "GET", "/v1/approvals/not-an-id", { token: t.viewer })).status).toBe(400);
    });

    it("expires an approval nobody decides on its own: audited, announced, its queued preview ended, counted; a 409 to approve it late", async () => {
        // A second deployer with a two-second approval age (its own database), so the wait is real; its
        // worker runs, and the stack is paused so the preview stays queued and no engine starts.
        const received: { event: string; body: any }[] = [];
        const hooks = createServer((req, res) => {
            let body = "";
            req.on("data", (d) => (body += String(d)));
            req.on("end", () => {
                received.push({ event: String(req.headers["x1-event"]), body: JSON.parse(body) });
                res.writeHead(200).end("ok");
            });
        });
        await new Promise<void>((r) => hooks.listen(0, "127.0.0.1", r));
        const db = await freshDatabase(backend);
        const short = await startService({ database: db.options, pollIntervalMs: 200, approvalMaxAgeSeconds: 2 });
        try {
            await createStack(short, prod, "shop");
            const operator = await issue(short, "op", { shop: "operator" });
            const approver = await issue(short, "ap", { shop: "approver" });
            const url = `http://127.0.0.1:${(hooks.address() as { port: number }).port}/hooks`;
            expect((await call(short.url, "POST", "/v1/webhooks", { token: short.adminToken, body: { team: "shop", url } })).status).toBe(201);
            expect((await call(short.url, "POST", `/v1/stacks/${prod}/pause`, { token: operator, body: { reason: "change freeze" } })).status).toBe(200);
            const up = await call(short.url, "POST", `/v1/stacks/${prod}/runs`, { token: operator, body: { operation: "up" } });
            const id = up.body.approval.id as string;
            // Nobody reads or decides the approval: the worker's pass expires it and tells the team.
            const expired = await waitFor("the approval.expired delivery", async () => received.find((r) => r.event === "approval.expired"), 30_000, 100);
            expect(received.map((r) => r.event)).toEqual(["approval.needed", "approval.expired"]);
            expect(expired.body).toMatchObject({
                stack: prod,
                team: "shop",
                approval: { id, status: "expired", reason: "not decided within 2s (X1_DEPLOYER_APPROVAL_MAX_AGE_SECONDS)" },
                run: { id: up.body.run.id, operation: "preview", status: "expired" },
            });
            const preview = (await call(short.url, "GET", `/v1/runs/${up.body.run.id}`, { token: operator })).body.run;
            expect(preview).toMatchObject({ status: "expired", startedAt: null });
            expect(preview.error).toBe(`its approval ${id} expired (not decided within 2s) before this preview started: nothing was run; request the up again`);
            const audit = (await call(short.url, "GET", "/v1/audit?limit=100", { token: short.adminToken })).body.entries;
            expect(audit.filter((e: any) => e.action === "expire-approval")).toMatchObject([{ actor: "deployer", target: `approval:${id}`, outcome: "ok" }]);
            const metrics = await (await fetch(`${short.url}/metrics`)).text();
            expect(metrics).toMatch(/^x1_deployer_approvals\{status="expired"\} 1$/m);
            expect(metrics).toMatch(/^x1_deployer_approvals\{status="pending"\} 0$/m);

            const late = await call(short.url, "POST", `/v1/approvals/${id}/approve`, { token: approver });
            expect(late.status).toBe(409);
            expect(late.body.message).toMatch(
                new RegExp(
                    `^approval ${id} is already expired: expired at \\S+, not decided within 2s \\(X1_DEPLOYER_APPROVAL_MAX_AGE_SECONDS\\); request the up again$`,
                ),
            );
            expect((await call(short.url, "GET", `/v1/approvals?status=expired`, { token: approver })).body.approvals.map((a: any) => a.id)).toEqual([id]);
            // Nothing ran and nothing was queued in its place; the expiry was announced once.
            expect((await call(short.url, "GET", `/v1/runs?stack=${prod}`, { token: operator })).body.runs.map((r: any) => r.status)).toEqual(["expired"]);
            await new Promise((r) => setTimeout(r, 1000));
            expect(received.filter((r) => r.event === "approval.expired")).toHaveLength(1);
            console.log(`[runtime tier] ${backend}: approval ${id} expired on its own; preview ${preview.id} ${preview.status}; late approve ${late.status}`);
        } finally {
            await short.close();
            await db.cleanup();
            hooks.close();
        }
    });
});

describe.each(backendNames)("approvals through the real engine (%s database)", (backend) => {
    let sandbox: EngineSandbox;
    let svc: Service;
    let dbCleanup: () => Promise<void>;
    const saved = { PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE };
    const [base] = tempStackNames(backend === "embedded" ? "ae" : "ap", 1) as [string];
    const prod = `${base}-prod`;
    let operator: string;
    let approver: string;
    let shopAdmin: string;

    beforeAll(async () => {
        sandbox = await engineSandbox(`runtime-approvals-${backend}`);
        // The passphrase the render stack's file was made with (its encryptionsalt); it holds no secret values.
        process.env.PULUMI_CONFIG_PASSPHRASE = "x1agent-local";
        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        svc = await startService({ database: db.options, maxConcurrentRuns: 2, pollIntervalMs: 500 });
        await createStack(svc, prod, "shop");
        operator = await issue(svc, "shop-dev", { shop: "operator" });
        approver = await issue(svc, "shop-lead", { shop: "approver" });
        shopAdmin = await issue(svc, "shop-admin", { shop: "admin" });
    });

    afterAll(async () => {
        await svc?.close();
        await dbCleanup?.();
        sandbox?.cleanup();
        restoreEnv(saved);
    });

    /** Requests a gated up and waits for its preview to succeed. */
    async function previewedUp(): Promise<{ approvalId: string; preview: Record<string, any> }> {
        const up = await call(svc.url, "POST", `/v1/stacks/${prod}/runs`, { token: operator, body: { operation: "up" } });
        expect(up.status, JSON.stringify(up.body)).toBe(202);
        expect(up.body.run.operation).toBe("preview");
        const preview = await waitForRun(svc.url, operator, up.body.run.id);
        expect(preview.status, preview.error).toBe("succeeded");
        return { approvalId: up.body.approval.id, preview };
    }

    it("applies a gated up only when another person approves its preview, at exactly the previewed revision", async () => {
        const revision = (await call(svc.url, "GET", `/v1/stacks/${prod}`, { token: operator })).body.revision;
        const { approvalId, preview } = await previewedUp();
        expect(preview.configRevision).toBe(revision);
        expect(preview.counts.create).toBeGreaterThan(5);
        const pending = (await call(svc.url, "GET", `/v1/approvals/${approvalId}`, { token: approver })).body.approval;
        expect(pending).toMatchObject({ status: "pending", preview: { status: "succeeded", counts: preview.counts }, configRevision: revision });

        const self = await call(svc.url, "POST", `/v1/approvals/${approvalId}/approve`, { token: operator });
        expect(self.status).toBe(403);
        const approved = await call(svc.url, "POST", `/v1/approvals/${approvalId}/approve`, { token: approver });
        expect(approved.status, JSON.stringify(approved.body)).toBe(202);
        expect(approved.body.approval).toMatchObject({ status: "approved", decidedBy: "token:shop-lead", runId: approved.body.run.id });
        expect(approved.body.run).toMatchObject({ operation: "up", approvalId, configRevision: revision });
        const up = await waitForRun(svc.url, operator, approved.body.run.id);
        expect(up.status, up.error).toBe("succeeded");
        expect(up.counts.create).toBe(preview.counts.create);
        expect(up.outputs).toMatchObject({ tier: "kubernetes" });
        const again = await call(svc.url, "POST", `/v1/approvals/${approvalId}/approve`, { token: approver });
        expect(again.status).toBe(409);
        console.log(
            `[runtime tier] ${backend}: gated up: preview ${preview.id} (${JSON.stringify(preview.counts)}), self-approval ${self.status}: ${self.body.message}; ` +
                `approved by token:shop-lead -> up ${up.id} ${up.status} at revision ${up.configRevision} (${JSON.stringify(up.counts)}); approving again ${again.status}: ${again.body.message}`,
        );
    });

    it("voids the approval when the stack file changed after the preview: 409 naming both revisions", async () => {
        const { approvalId, preview } = await previewedUp();
        const stack = (await call(svc.url, "GET", `/v1/stacks/${prod}`, { token: operator })).body;
        const edit = await call(svc.url, "PUT", `/v1/stacks/${prod}/config`, {
            token: operator,
            body: { config: { ...stack.config, ingress: { ...stack.config.ingress, host: "shop.localtest.me" } }, revision: stack.revision },
        });
        expect(edit.status, JSON.stringify(edit.body)).toBe(200);
        const stale = await call(svc.url, "POST", `/v1/approvals/${approvalId}/approve`, { token: approver });
        expect(stale.status).toBe(409);
        expect(stale.body.message).toBe(
            `approval ${approvalId} cannot be approved: stacks/Pulumi.${prod}.yaml changed since the preview: revision ${preview.configRevision} was previewed and approval was asked for it, the file is now at revision ${edit.body.revision}; request the up again to preview revision ${edit.body.revision}`,
        );
        const after = (await call(svc.url, "GET", `/v1/approvals/${approvalId}`, { token: operator })).body.approval;
        expect(after).toMatchObject({ status: "invalidated", runId: null, decidedBy: "token:shop-lead" });
        // Nothing was queued: the stack's latest run is still the preview.
        expect((await call(svc.url, "GET", `/v1/runs?stack=${prod}&limit=1`, { token: operator })).body.runs[0].id).toBe(preview.id);
        const audit = (await call(svc.url, "GET", "/v1/audit?limit=200", { token: svc.adminToken })).body.entries;
        expect(audit.find((e: any) => e.action === "invalidate-approval" && e.target === `approval:${approvalId}`)?.reason).toMatch(
            /changed since the preview/,
        );
        console.log(`[runtime tier] ${backend}: stale approval: ${stale.status} ${stale.body.message}`);
    });

    it("keeps the approval of a stack's first run: the engine writing the encryption salt is not a config change", async () => {
        // A stack file as people write them: a blank line, a flow mapping, a comment at the end. On a
        // stack's first run the CLI writes its encryptionsalt by re-encoding the whole file (Go's YAML
        // encoder drops the blank line, respaces the flow mapping and moves the comment).
        const example = `${base}-fmt`;
        const render = readFileSync(svc.stackFile("render"), "utf8").replace(/^encryptionsalt:.*\n?/m, "");
        const handWritten = render
            .replace("  x1agent:secrets:", "\n  x1agent:secrets:")
            .replace(
                / {2}x1agent:ingress:\n {4}host: (\S+)\n {4}issuer:\n {6}type: selfSigned\n/,
                "  x1agent:ingress: { host: $1, issuer: { type: selfSigned } }\n",
            );
        expect(handWritten).toMatch(/ingress: \{ host/);
        writeFileSync(svc.stackFile(example), handWritten);
        const stack = `${base}-first-prod`;
        const created = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body: { name: stack, from: example, team: "shop" } });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        const before = readFileSync(svc.stackFile(stack), "utf8");
        expect(before).not.toMatch(/encryptionsalt/);

        const up = await call(svc.url, "POST", `/v1/stacks/${stack}/runs`, { token: operator, body: { operation: "up" } });
        expect(up.status, JSON.stringify(up.body)).toBe(202);
        const preview = await waitForRun(svc.url, operator, up.body.run.id);
        expect(preview.status, preview.error).toBe("succeeded");
        const approved = await call(svc.url, "POST", `/v1/approvals/${up.body.approval.id}/approve`, { token: approver });
        expect(approved.status, JSON.stringify(approved.body)).toBe(202);
        const applied = await waitForRun(svc.url, operator, approved.body.run.id);
        expect(applied.status, applied.error).toBe("succeeded");
        expect(applied.configRevision).toBe(preview.configRevision);
        // The salt is kept, and so is the file as it was written.
        const after = readFileSync(svc.stackFile(stack), "utf8");
        expect(after).toMatch(/^encryptionsalt: v1:/m);
        expect(after.replace(/\n*encryptionsalt:.*\n?/m, "")).toBe(before.replace(/\n*$/, ""));
        console.log(
            `[runtime tier] ${backend}: first-run salt: preview ${preview.id}, approved up ${applied.id} ${applied.status} at revision ${applied.configRevision}`,
        );
    });

    it("deletes a gated stack through a destroy preview and an approval", async () => {
        const file = svc.stackFile(prod);
        const del = await call(svc.url, "DELETE", `/v1/stacks/${prod}?confirm=${prod}`, { token: shopAdmin });
        expect(del.status, JSON.stringify(del.body)).toBe(202);
        expect(del.body.run.operation).toBe("preview-destroy");
        const preview = await waitForRun(svc.url, shopAdmin, del.body.run.id);
        expect(preview.status, preview.error).toBe("succeeded");
        expect(preview.counts.delete).toBeGreaterThan(5);
        expect(existsSync(file)).toBe(true);
        const approval = (await call(svc.url, "GET", `/v1/approvals/${del.body.approval.id}`, { token: approver })).body.approval;
        expect(approval).toMatchObject({ operation: "destroy", removeStack: true, summary: `destroy and remove stack '${prod}'` });
        const approved = await call(svc.url, "POST", `/v1/approvals/${approval.id}/approve`, { token: approver });
        expect(approved.status, JSON.stringify(approved.body)).toBe(202);
        const destroy = await waitForRun(svc.url, shopAdmin, approved.body.run.id);
        expect(destroy.status, destroy.error).toBe("succeeded");
        expect(destroy.counts.delete).toBe(preview.counts.delete);
        expect(destroy.message).toMatch(/destroyed and removed/);
        expect(existsSync(file)).toBe(false);
        console.log(
            `[runtime tier] ${backend}: gated delete: preview-destroy ${JSON.stringify(preview.counts)}, approved -> destroy ${destroy.status} (${JSON.stringify(destroy.counts)})`,
        );
    });
});

describe.each(backendNames)("a database made before roles and approvals (%s database)", (backend) => {
    it("upgrades in place: old tokens keep their teams as operator, approved proposals become approvals", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "x1-upgrade-"));
        const db = await freshDatabase(backend, path.join(dir, "db"));
        try {
            // The schema as it was (migrations 0001-0002), with a token and an approved workspace proposal in it.
            const before = await openRaw(db.options);
            const migrator = new Migrator({
                db: before.db,
                provider: {
                    getMigrations: async () => ({
                        "0001_history_queue_audit": migrations["0001_history_queue_audit"]!,
                        "0002_run_request_id": migrations["0002_run_request_id"]!,
                    }),
                },
                migrationTableName: "x1_deployer_migrations",
                migrationLockTableName: "x1_deployer_migrations_lock",
            });
            expect((await migrator.migrateToLatest()).error).toBeUndefined();
            const oldToken = `x1d_${"o".repeat(43)}`;
            const change = JSON.stringify({ kind: "workspace-add", summary: "add workspace 'ml'", baseRevision: "abc123", proposedText: "config: {}\n" });
            await sql`INSERT INTO tokens (id, name, hash, teams, admin, created_by)
                      VALUES ('00000000-0000-4000-8000-000000000001', 'old-portal', ${hashToken(oldToken)}, '["payments","shop"]', false, 'bootstrap')`.execute(
                before.db,
            );
            const preview = "00000000-0000-4000-8000-00000000000a";
            const up = "00000000-0000-4000-8000-00000000000b";
            await sql`INSERT INTO runs (id, stack, operation, status, requested_by, team, request_hash, timeout_seconds, change_json, approved_by, approved_run_id)
                      VALUES (${preview}, 'shop', 'preview', 'succeeded', 'token:dev', 'shop', 'h1', 600, ${change}, 'token:lead', ${up})`.execute(before.db);
            await sql`INSERT INTO runs (id, stack, operation, status, requested_by, team, request_hash, timeout_seconds, change_json, approves_run_id)
                      VALUES (${up}, 'shop', 'up', 'succeeded', 'token:lead', 'shop', 'h2', 600, ${change}, ${preview})`.execute(before.db);
            await before.close();

            // The deployer starts on it: migration 0003 runs.
            const svc = await startService({ database: db.options, runWorker: false });
            try {
                expect((await call(svc.url, "GET", "/v1/me", { token: oldToken })).body).toEqual({
                    subject: "token:old-portal",
                    admin: false,
                    teams: [
                        { team: "payments", role: "operator" },
                        { team: "shop", role: "operator" },
                    ],
                });
                const approvals = (await call(svc.url, "GET", "/v1/approvals", { token: svc.adminToken })).body.approvals;
                expect(approvals).toEqual([
                    expect.objectContaining({
                        stack: "shop",
                        operation: "up",
                        summary: "add workspace 'ml'",
                        configRevision: "abc123",
                        previewRunId: preview,
                        status: "approved",
                        requestedBy: "token:dev",
                        decidedBy: "token:lead",
                        runId: up,
                    }),
                ]);
                const upRun = (await call(svc.url, "GET", `/v1/runs/${up}`, { token: svc.adminToken })).body.run;
                expect(upRun).toMatchObject({ approvalId: approvals[0].id, configRevision: "abc123" });
            } finally {
                await svc.close();
            }
        } finally {
            await db.cleanup();
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

/** A connection to the database without migrating it (store/db.ts always migrates to the latest). */
async function openRaw(options: DatabaseOptions): Promise<{ db: Kysely<any>; close: () => Promise<void> }> {
    if (options.kind === "postgres") {
        const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: options.url, max: 1 }) }) });
        return { db, close: () => db.destroy() };
    }
    const pglite = new PGlite(options.dir!);
    await pglite.waitReady;
    const db = new Kysely<any>({ dialect: new PGliteDialect(pglite) });
    return { db, close: () => db.destroy() };
}
