/**
 * The deployer against an attacker with a team token, on both database
 * backends, over HTTP: each case an abuse test once found to work. A copy
 * reads its source like any read; workspaces and the tier change only
 * through their own requests; a masked value is never written back; a token
 * in a URL is refused and never logged; a NUL byte in a team is a 400 that
 * is audited and leaves nothing behind. No engine run starts here
 * (runWorker: false).
 */
import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendNames, call, freshDatabase, type Service, startService, tempStackNames, twoTeams } from "./helpers";

describe.each(backendNames)("deployer abuse cases (%s database)", (backend) => {
    let svc: Service;
    let dbCleanup: () => Promise<void>;
    const [stackA, stackB, copyTarget, nulTarget] = tempStackNames("sec", 4) as [string, string, string, string];
    let teamA: string;
    let teamB: string;
    const fileOf = (stack: string) => svc.stackFile(stack);
    const denied = async (actor: string) =>
        (await call(svc.url, "GET", "/v1/audit?outcome=denied&limit=1000", { token: svc.adminToken })).body.entries.filter((e: any) => e.actor === actor);

    beforeAll(async () => {
        const db = await freshDatabase(backend);
        dbCleanup = db.cleanup;
        svc = await startService({ database: db.options, runWorker: false });
        ({ teamA, teamB } = await twoTeams(svc, [stackA, stackB], backend));
    });

    afterAll(async () => {
        await svc?.close();
        await dbCleanup?.();
    });

    it("copies only an example stack or one the caller may read, and audits a refused copy", async () => {
        // Creating a stack is the team admin's; an operator of the team is told so.
        const asOperator = await call(svc.url, "POST", "/v1/stacks", { token: teamA, body: { name: copyTarget, from: stackA, team: "team-a" } });
        expect(asOperator.status).toBe(403);
        expect(asOperator.body.message).toBe(
            `create-stack on a stack of team 'team-a' needs the admin role in team 'team-a'; token:a-${backend} is operator there`,
        );
        const adminA = (
            await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name: `a-admin-${backend}`, teams: { "team-a": "admin" } } })
        ).body.token as string;
        const stolen = await call(svc.url, "POST", "/v1/stacks", { token: adminA, body: { name: copyTarget, from: stackB, team: "team-a" } });
        expect(stolen.status).toBe(403);
        expect(stolen.body.message).toBe(
            `copying stack '${stackB}' reads it, and it belongs to team 'team-b'; token:a-admin-${backend} is in team(s) team-a (admin): copy an example stack (one no team owns, e.g. local) or one of your own`,
        );
        expect(existsSync(fileOf(copyTarget))).toBe(false);
        expect((await denied(`token:a-admin-${backend}`)).map((e: any) => `${e.action} ${e.target}`)).toContain(`create-stack stack:${copyTarget}`);

        const own = await call(svc.url, "POST", "/v1/stacks", { token: adminA, body: { name: copyTarget, from: stackA, team: "team-a" } });
        expect(own.status, JSON.stringify(own.body)).toBe(201);
        expect(own.body.team).toBe("team-a");
    });

    it("changes workspaces and the tier only through their own requests, never through a config edit", async () => {
        const before = await call(svc.url, "GET", `/v1/stacks/${stackB}`, { token: teamB });
        const config = before.body.config as Record<string, any>;
        const fileBefore = readFileSync(fileOf(stackB), "utf8");

        const smuggled = await call(svc.url, "PUT", `/v1/stacks/${stackB}/config`, {
            token: teamB,
            body: { config: { ...config, workspaces: [...config.workspaces, { id: "ml", team: "team-a" }] }, revision: before.body.revision },
        });
        expect(smuggled.status).toBe(403);
        expect(smuggled.body.message).toBe(
            `a config edit may not change workspaces: it changes only through POST /v1/stacks/${stackB}/workspaces and DELETE /v1/stacks/${stackB}/workspaces/{id}, which check the teams involved and preview the change before an approved up applies it; send workspaces unchanged`,
        );
        const tier = await call(svc.url, "PUT", `/v1/stacks/${stackB}/config`, {
            token: svc.adminToken,
            body: { config: { ...config, secrets: { tier: "vault", vault: { server: "https://vault.example.com", role: "x1agent" } } } },
        });
        expect(tier.status).toBe(403);
        expect(tier.body.message).toMatch(new RegExp(`may not change secrets\\.tier: it changes only through POST /v1/stacks/${stackB}/secrets-tier`));
        expect(readFileSync(fileOf(stackB), "utf8")).toBe(fileBefore);
        expect((await denied(`token:b-${backend}`)).map((e: any) => `${e.action} ${e.target}`)).toContain(`update-config stack:${stackB}`);

        // The same workspace through its own request: the team rule answers.
        const direct = await call(svc.url, "POST", `/v1/stacks/${stackB}/workspaces`, { token: teamB, body: { id: "ml", team: "team-a" } });
        expect(direct.status).toBe(403);
        // An edit that leaves workspaces and the tier as they are still goes through.
        const fine = await call(svc.url, "PUT", `/v1/stacks/${stackB}/config`, {
            token: teamB,
            body: { config: { ...config, observability: { logLevel: "warn" } } },
        });
        expect(fine.status, JSON.stringify(fine.body)).toBe(200);
    });

    it("refuses credentials inside URLs, and never writes a masked value back", async () => {
        const current = (await call(svc.url, "GET", `/v1/stacks/${stackA}`, { token: teamA })).body.config as Record<string, any>;
        const inUrl = await call(svc.url, "PUT", `/v1/stacks/${stackA}/config`, {
            token: teamA,
            body: { config: { ...current, proxy: { url: "http://user:s3cret-pw@proxy.example.com:3128" } } },
        });
        expect(inUrl.status).toBe(422);
        expect(inUrl.body.problems).toEqual([
            expect.objectContaining({
                key: "x1agent:proxy.url",
                message: expect.stringMatching(/^must not carry credentials .* a credential comes only from a Secret reference$/),
            }),
        ]);
        expect(JSON.stringify(inUrl.body)).not.toContain("s3cret-pw");
        expect(readFileSync(fileOf(stackA), "utf8")).not.toContain("s3cret-pw");

        // A free-form string (an ingress annotation) may hold a credential-looking URL; GET shows it masked.
        const authUrl = "https://portal:annot-pw-123@auth.example.com/verify";
        const set = await call(svc.url, "PUT", `/v1/stacks/${stackA}/config`, {
            token: teamA,
            body: { config: { ...current, ingress: { ...current.ingress, annotations: { "nginx.ingress.kubernetes.io/auth-url": authUrl } } } },
        });
        expect(set.status, JSON.stringify(set.body)).toBe(200);
        const shown = (await call(svc.url, "GET", `/v1/stacks/${stackA}`, { token: teamA })).body;
        expect(shown.config.ingress.annotations["nginx.ingress.kubernetes.io/auth-url"]).toBe("https://portal:****@auth.example.com/verify");

        // GET -> edit another key -> PUT: the stored password survives.
        const roundTrip = await call(svc.url, "PUT", `/v1/stacks/${stackA}/config`, {
            token: teamA,
            body: { config: { ...shown.config, observability: { logLevel: "debug" } }, revision: shown.revision },
        });
        expect(roundTrip.status, JSON.stringify(roundTrip.body)).toBe(200);
        const text = readFileSync(fileOf(stackA), "utf8");
        expect(text).toContain(authUrl);
        expect(text).not.toContain("****");

        // A placeholder that masks nothing stored at its key is refused, naming the key.
        const moved = await call(svc.url, "PUT", `/v1/stacks/${stackA}/config`, {
            token: teamA,
            body: {
                config: {
                    ...shown.config,
                    ingress: { ...shown.config.ingress, annotations: { "example.com/other": "https://portal:****@auth.example.com/verify" } },
                },
            },
        });
        expect(moved.status).toBe(422);
        expect(moved.body.problems).toEqual([
            {
                key: "x1agent:ingress.annotations.example.com/other",
                value: '"https://portal:****@auth.example.com/verify"',
                message:
                    "holds a masked placeholder from a GET that does not match the stored value: send the real value, or the placeholder unchanged to keep the stored one",
            },
        ]);
        expect(readFileSync(fileOf(stackA), "utf8")).toContain(authUrl);
    });

    it("refuses a token in the URL and never logs it", async () => {
        const inQuery = await call(svc.url, "GET", `/v1/stacks/${stackA}?${teamA}`);
        expect(inQuery.status).toBe(400);
        expect(inQuery.body.message).toBe(
            "the URL carries a deployer token (x1d_...): send credentials only in the Authorization header (Bearer <token>), and revoke that token, it has been exposed",
        );
        const named = await call(svc.url, "GET", `/v1/runs?access_token=${encodeURIComponent(teamB)}`, { token: teamB });
        expect(named.status).toBe(400);
        const log = svc.log().join("");
        expect(log).toContain(`"url":"/v1/stacks/${stackA}?[redacted`);
        expect(log).not.toContain(teamA.slice(4));
        expect(log).not.toContain(teamB.slice(4));
        const audit = (await call(svc.url, "GET", "/v1/audit?outcome=denied&limit=1000", { token: svc.adminToken })).body.entries;
        expect(audit.filter((e: any) => /revoke that token/.test(e.reason)).map((e: any) => e.target)).toEqual(
            expect.arrayContaining([expect.stringMatching(new RegExp(`^/v1/stacks/${stackA}\\?\\[redacted`)), "/v1/runs?access_token=[redacted]"]),
        );
        expect(JSON.stringify(audit)).not.toContain(teamA.slice(4));
    });

    it("answers a NUL byte in a team with 400, audits it for a team token, and leaves no stack behind", async () => {
        const body = { name: nulTarget, from: "local", team: "team-a\u0000x" };
        const asTeam = await call(svc.url, "POST", "/v1/stacks", { token: teamA, body });
        expect(asTeam.status).toBe(400);
        expect(asTeam.body.message).toMatch(/^invalid request: body\.team: must be a team name/);
        expect((await denied(`token:a-${backend}`)).map((e: any) => `${e.action} ${e.target}`)).toContain("POST /v1/stacks /v1/stacks");

        const asAdmin = await call(svc.url, "POST", "/v1/stacks", { token: svc.adminToken, body });
        expect(asAdmin.status).toBe(400);
        expect(existsSync(fileOf(nulTarget))).toBe(false);
        const token = await call(svc.url, "POST", "/v1/tokens", { token: svc.adminToken, body: { name: "nul", teams: ["ops\u0000"] } });
        expect(token.status).toBe(400);
    });
});
