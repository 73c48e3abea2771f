/**
 * The deployer's HTTP API at its edge, on both database backends: who may
 * call it, what a malformed request is told, config edits validated by the
 * stack schema, idempotency keys, the queue place a caller sees. The queue
 * is not worked here (runWorker: false), so no engine run starts; the engine
 * runs are in deployer-runs.test.ts.
 */
import { createServer, type Server } from "node:http";
import { readFileSync } from "node:fs";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSettings } from "../../runtime/deployer/server";
import { backendNames, call, freshDatabase, type Service, startService, tempStackNames, twoTeams } from "./helpers";

describe.each(backendNames)("deployer API (%s database)", (backend) => {
    let svc: Service;
    let dbCleanup: () => Promise<void>;
    const [stackA, stackB] = tempStackNames("api", 2) as [string, string];
    let teamA: string;
    let teamB: string;
    let jwksServer: Server;
    let signJwt: (claims: Record<string, unknown>, audience?: string) => Promise<string>;

    beforeAll(async () => {
        // An OIDC issuer on loopback: its JWKS served by a tiny HTTP server.
        const { publicKey, privateKey } = await generateKeyPair("RS256");
        const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
        jwksServer = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] })));
        await new Promise<void>((r) => jwksServer.listen(0, "127.0.0.1", r));
        const port = (jwksServer.address() as { port: number }).port;
        const issuer = "https://idp.example.test";
        signJwt = (claims, audience = "x1-deployer") =>
            new SignJWT(claims)
                .setProtectedHeader({ alg: "RS256", kid: "k1" })
                .setIssuer(issuer)
                .setAudience(audience)
                .setSubject("alice")
                .setIssuedAt()
                .setExpirationTime("5m")
                .sign(privateKey);

        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        svc = await startService({
            database: db.options,
            runWorker: false,
            oidc: { issuer, audience: "x1-deployer", jwksUrl: `http://127.0.0.1:${port}/jwks`, teamsClaim: "groups" },
        });
        ({ teamA, teamB } = await twoTeams(svc, [stackA, stackB], backend));
    });

    afterAll(async () => {
        await svc?.close();
        await dbCleanup?.();
        jwksServer?.close();
    });

    it("serves an OpenAPI document describing the endpoints", async () => {
        const r = await call(svc.url, "GET", "/openapi.json");
        expect(r.status).toBe(200);
        expect(r.body.openapi).toMatch(/^3\./);
        expect(Object.keys(r.body.paths)).toEqual(
            expect.arrayContaining([
                "/v1/stacks",
                "/v1/stacks/{stack}",
                "/v1/stacks/{stack}/runs",
                "/v1/runs/{id}/events",
                "/v1/runs/{id}/cancel",
                "/v1/stacks/{stack}/workspaces",
            ]),
        );
    });

    it("refuses requests without a valid token with 401, and audits each refusal", async () => {
        const none = await call(svc.url, "GET", "/v1/stacks");
        expect(none.status).toBe(401);
        expect(none.body.message).toMatch(/missing bearer token/);
        const forged = await call(svc.url, "GET", `/v1/stacks/${stackA}`, { token: "x1d_forgedforgedforgedforgedforgedforged" });
        expect(forged.status).toBe(401);
        expect(forged.body.message).toMatch(/unknown or revoked/);
        expect(JSON.stringify(forged.body)).not.toContain("forgedforged");

        const audit = await call(svc.url, "GET", "/v1/audit?outcome=denied", { token: svc.adminToken });
        const reasons = audit.body.entries.filter((e: any) => e.actor === "anonymous").map((e: any) => `${e.target}: ${e.reason}`);
        expect(reasons).toEqual(
            expect.arrayContaining([
                expect.stringMatching(/^\/v1\/stacks: missing bearer token/),
                expect.stringMatching(new RegExp(`${stackA}: unknown or revoked`)),
            ]),
        );
    });

    it("lets a team see and run only its own stacks; every denial is audited", async () => {
        const list = await call(svc.url, "GET", "/v1/stacks", { token: teamB });
        expect(list.body.stacks.map((s: any) => s.name)).toEqual([stackB]);

        const read = await call(svc.url, "GET", `/v1/stacks/${stackA}`, { token: teamB });
        expect(read.status).toBe(403);
        expect(read.body.message).toMatch(new RegExp(`stack '${stackA}' belongs to team 'team-a'`));
        const run = await call(svc.url, "POST", `/v1/stacks/${stackA}/runs`, { token: teamB, body: { operation: "up" } });
        expect(run.status).toBe(403);
        const example = await call(svc.url, "GET", "/v1/stacks/local", { token: teamB });
        expect(example.status).toBe(403);
        expect(example.body.message).toMatch(/no owning team yet: only an admin/);

        const audit = await call(svc.url, "GET", "/v1/audit?outcome=denied", { token: svc.adminToken });
        const mine = audit.body.entries.filter((e: any) => e.actor === `token:b-${backend}`);
        expect(mine.map((e: any) => `${e.action} ${e.target}`)).toEqual(
            expect.arrayContaining([`read stack:${stackA}`, `up stack:${stackA}`, "read stack:local"]),
        );
    });

    it("does not remember a presented credential as a secret: a wrong token never masks the words it happens to be", async () => {
        // Two dots: read as a JWT and refused. Were it registered for masking, the stack's own host name would show as [redacted].
        const host = "x1agent.localtest.me";
        expect((await call(svc.url, "GET", "/v1/stacks", { token: host })).status).toBe(401);
        const stack = await call(svc.url, "GET", `/v1/stacks/${stackA}`, { token: teamA });
        expect(stack.body.config.ingress.host).toBe(host);
    });

    it("has one run timeout limit: the API, the default and the start-up check agree", async () => {
        const long = await call(svc.url, "POST", `/v1/stacks/${stackA}/runs`, { token: teamA, body: { operation: "preview", timeoutSeconds: 9000 } });
        expect(long.status).toBe(400);
        expect(long.body.message).toBe("timeoutSeconds 9000 is over this deployer's limit of 7200 (X1_DEPLOYER_MAX_RUN_TIMEOUT_SECONDS)");
        expect(() => readSettings({ X1_DEPLOYER_RUN_TIMEOUT_SECONDS: "10800" })).toThrow(
            /the default run timeout 10800s \(X1_DEPLOYER_RUN_TIMEOUT_SECONDS\) is over the longest allowed, 7200s \(X1_DEPLOYER_MAX_RUN_TIMEOUT_SECONDS\)/,
        );
        expect(readSettings({ X1_DEPLOYER_RUN_TIMEOUT_SECONDS: "10800", X1_DEPLOYER_MAX_RUN_TIMEOUT_SECONDS: "14400" }).X1_DEPLOYER_RUN_TIMEOUT_SECONDS).toBe(
            10800,
        );
    });

    it("queues a destroy only when the request names the stack it destroys", async () => {
        const route = `/v1/stacks/${stackA}/runs`;
        const bare = await call(svc.url, "POST", route, { token: teamA, body: { operation: "destroy" } });
        expect(bare.status).toBe(400);
        expect(bare.body.message).toBe(`a destroy removes every resource stack '${stackA}' manages: repeat the stack's name as confirm: "${stackA}"`);
        const wrong = await call(svc.url, "POST", route, { token: teamA, body: { operation: "destroy", confirm: stackB } });
        expect(wrong.status).toBe(400);
        const named = await call(svc.url, "POST", route, { token: teamA, body: { operation: "destroy", confirm: stackA } });
        expect(named.status).toBe(202);
        await call(svc.url, "POST", `/v1/runs/${named.body.run.id}/cancel`, { token: teamA });
    });

    it("accepts OIDC tokens from the configured issuer, with teams from the groups claim", async () => {
        const ok = await call(svc.url, "GET", "/v1/stacks", { token: await signJwt({ groups: ["team-a"] }) });
        expect(ok.status).toBe(200);
        expect(ok.body.stacks.map((s: any) => s.name)).toEqual([stackA]);
        const wrongAudience = await call(svc.url, "GET", "/v1/stacks", { token: await signJwt({ groups: ["team-a"] }, "someone-else") });
        expect(wrongAudience.status).toBe(401);
        expect(wrongAudience.body.message).toMatch(/invalid OIDC token: .*aud/);
    });

    it("answers malformed requests with 400 and the reason", async () => {
        const route = `/v1/stacks/${stackA}/runs`;
        const badJson = await call(svc.url, "POST", route, { token: teamA, rawBody: '{"operation": "preview"' });
        expect(badJson.status).toBe(400);
        expect(badJson.body.message).toMatch(/not valid JSON/);

        const badOp = await call(svc.url, "POST", route, { token: teamA, body: { operation: "apply" } });
        expect(badOp.status).toBe(400);
        expect(badOp.body.message).toMatch(/body\.operation: must be one of preview, up, refresh, drift, destroy/);

        const extra = await call(svc.url, "POST", route, { token: teamA, body: { operation: "up", force: true } });
        expect(extra.status).toBe(400);
        expect(extra.body.message).toMatch(/force/);

        const badTimeout = await call(svc.url, "POST", route, { token: teamA, body: { operation: "up", timeoutSeconds: "soon" } });
        expect(badTimeout.status).toBe(400);
        expect(badTimeout.body.message).toMatch(/body\.timeoutSeconds/);

        const badName = await call(svc.url, "GET", "/v1/stacks/Bad_Name", { token: teamA });
        expect(badName.status).toBe(400);
        expect(badName.body.message).toMatch(/params\.stack: must be a stack name/);

        const badRun = await call(svc.url, "GET", "/v1/runs/not-a-run", { token: teamA });
        expect(badRun.status).toBe(400);
        expect(badRun.body.message).toMatch(/params\.id: must be a run id/);

        const refresh = await call(svc.url, "POST", route, { token: teamA, body: { operation: "refresh" } });
        expect(refresh.status).toBe(422);
        expect(refresh.body.message).toMatch(/renders its manifests to a directory .* no live cluster to detect drift against/);

        const unknownStack = await call(svc.url, "GET", "/v1/stacks/nosuchstack", { token: svc.adminToken });
        expect(unknownStack.status).toBe(404);
        expect(unknownStack.body.message).toMatch(/unknown stack 'nosuchstack'.*Known stacks: .*local/);
    });

    it("validates config edits with the stack schema and keeps the file's comments", async () => {
        const before = await call(svc.url, "GET", `/v1/stacks/${stackA}`, { token: teamA });
        const config = before.body.config as Record<string, any>;

        const wrong = await call(svc.url, "PUT", `/v1/stacks/${stackA}/config`, {
            token: teamA,
            body: { config: { ...config, ingress: { ...config.ingress, host: "https://x1agent.example.com" }, nats: { replicas: 2 } } },
        });
        expect(wrong.status).toBe(422);
        expect(wrong.body.problems.map((p: any) => p.key)).toEqual(["x1agent:ingress.host", "x1agent:nats.replicas"]);
        expect(wrong.body.message).toMatch(/nothing was deployed/);

        const file = svc.stackFile(stackA);
        const ok = await call(svc.url, "PUT", `/v1/stacks/${stackA}/config`, {
            token: teamA,
            body: { config: { ...config, observability: { logLevel: "debug" } }, revision: before.body.revision },
        });
        expect(ok.status, JSON.stringify(ok.body)).toBe(200);
        expect(ok.body.revision).not.toBe(before.body.revision);
        const text = readFileSync(file, "utf8");
        expect(text).toMatch(/# The platform without a cluster/);
        expect(text).toMatch(/# Taken as installed: no chart is fetched/);
        expect(text).toMatch(/logLevel: debug/);

        const stale = await call(svc.url, "PUT", `/v1/stacks/${stackA}/config`, { token: teamA, body: { config, revision: before.body.revision } });
        expect(stale.status).toBe(409);
        expect(stale.body.message).toMatch(/changed since revision/);
    });

    it("queues runs per stack, shows the caller its place, and honours idempotency keys", async () => {
        const route = `/v1/stacks/${stackB}/runs`;
        const headers = { "idempotency-key": `key-${backend}` };
        const first = await call(svc.url, "POST", route, { token: teamB, body: { operation: "preview" }, headers });
        expect(first.status).toBe(202);
        expect(first.headers.get("location")).toBe(`/v1/runs/${first.body.run.id}`);
        const again = await call(svc.url, "POST", route, { token: teamB, body: { operation: "preview" }, headers });
        expect(again.status).toBe(200);
        expect(again.body.run.id).toBe(first.body.run.id);
        const reused = await call(svc.url, "POST", route, { token: teamB, body: { operation: "up" }, headers });
        expect(reused.status).toBe(409);
        expect(reused.body.message).toMatch(/Idempotency-Key .* different request/);

        const second = await call(svc.url, "POST", route, { token: teamB, body: { operation: "up" } });
        expect(second.body.run.queue).toEqual({ position: 2, waitingFor: `1 earlier run(s) on stack '${stackB}'` });

        const busy = await call(svc.url, "PUT", `/v1/stacks/${stackB}/config`, { token: teamB, body: { config: {} } });
        expect(busy.status).toBe(409);
        expect(busy.body.message).toMatch(/has a queued run/);

        const cancelled = await call(svc.url, "POST", `/v1/runs/${first.body.run.id}/cancel`, { token: teamB });
        expect(cancelled.body.run).toMatchObject({ status: "cancelled", cancelRequestedBy: `token:b-${backend}` });
        const moved = await call(svc.url, "GET", `/v1/runs/${second.body.run.id}`, { token: teamB });
        expect(moved.body.run.queue.position).toBe(1);
        const twice = await call(svc.url, "POST", `/v1/runs/${first.body.run.id}/cancel`, { token: teamB });
        expect(twice.status).toBe(409);
        await call(svc.url, "POST", `/v1/runs/${second.body.run.id}/cancel`, { token: teamB });
    });

    it("proposes a workspace as a preview of the config change, only for the caller's own team", async () => {
        const foreign = await call(svc.url, "POST", `/v1/stacks/${stackA}/workspaces`, { token: teamA, body: { id: "ml", team: "team-b" } });
        expect(foreign.status).toBe(403);
        const dup = await call(svc.url, "POST", `/v1/stacks/${stackA}/workspaces`, { token: teamA, body: { id: "demo", team: "team-a" } });
        expect(dup.status).toBe(409);
        const ok = await call(svc.url, "POST", `/v1/stacks/${stackA}/workspaces`, { token: teamA, body: { id: "ml", team: "team-a" } });
        expect(ok.status).toBe(202);
        expect(ok.body.run).toMatchObject({
            operation: "preview",
            status: "queued",
            change: { kind: "workspace-add", summary: "add workspace 'ml' for team 'team-a'" },
            approvalId: ok.body.approval.id,
        });
        expect(ok.body.approval).toEqual({ id: expect.any(String), status: "pending" });
        // Proposing does not touch the stack file: the change waits for its preview and an approval.
        expect(readFileSync(svc.stackFile(stackA), "utf8")).not.toMatch(/id: ml/);
        const early = await call(svc.url, "POST", `/v1/approvals/${ok.body.approval.id}/approve`, { token: svc.adminToken });
        expect(early.status).toBe(409);
        expect(early.body.message).toBe(
            `approval ${ok.body.approval.id} waits for its preview run ${ok.body.run.id}, still queued: approve it when the preview has succeeded`,
        );
        await call(svc.url, "POST", `/v1/runs/${ok.body.run.id}/cancel`, { token: teamA });

        const downgrade = await call(svc.url, "POST", `/v1/stacks/${stackA}/secrets-tier`, { token: teamA, body: { tier: "kubernetes" } });
        expect(downgrade.status).toBe(422);
        expect(downgrade.body.message).toMatch(/not an upgrade/);
    });
});
