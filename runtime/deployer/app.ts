/**
 * The deployer's HTTP API: routes, request/response schemas (zod, also the
 * OpenAPI document at /openapi.json), authentication on every /v1 route,
 * Server-Sent Events for live engine events, the web console, and one error
 * mapping that never leaks a raw error: known errors become their status
 * and message, anything else a 500 naming the request id to look up in the
 * server log.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import fastifySwagger from "@fastify/swagger";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import {
    hasZodFastifySchemaValidationErrors,
    jsonSchemaTransform,
    serializerCompiler,
    validatorCompiler,
    type ZodTypeProvider,
} from "fastify-type-provider-zod";
import { z } from "zod";
import { BadRequestError, DeployerError, UnauthorizedError } from "./errors";
import { credentialInUrl, type Logger, redactUrl } from "./log";
import { isTerminal } from "./queue";
import { redact } from "./redact";
import * as s from "./schemas";
import type { Caller, Deployer } from "./service";

declare module "fastify" {
    interface FastifyRequest {
        caller?: Caller;
    }
}

export interface AppOptions {
    deployer: Deployer;
    /** The deployer's logger (log.ts createLogger); none when unset (tests that do not read the log). */
    logger?: Logger;
}

const consoleHtml = () => readFileSync(path.join(__dirname, "console", "index.html"), "utf8");

export async function buildApp({ deployer, logger }: AppOptions): Promise<FastifyInstance> {
    const app = Fastify({
        ...(logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false }),
        genReqId: () => randomUUID(),
        bodyLimit: 1024 * 1024,
        // Long-lived SSE streams must not keep a shutdown waiting.
        forceCloseConnections: true,
    }).withTypeProvider<ZodTypeProvider>();
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);

    await app.register(fastifySwagger, {
        openapi: {
            info: {
                title: "x1agent deployer",
                version: "1",
                description: "Preview, up, refresh and destroy x1agent stacks through the Automation API; queued per stack, with live events, history and audit.",
            },
            components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
            security: [{ bearer: [] }],
        },
        transform: jsonSchemaTransform,
    });

    app.setErrorHandler((err, req, reply) => sendError(deployer, err, req, reply));
    app.setNotFoundHandler((req, reply) =>
        reply.code(404).send({ error: "not_found", message: `no route ${req.method} ${req.url.split("?")[0]}; see /openapi.json`, requestId: req.id }),
    );

    // A credential belongs in the Authorization header only: in a URL it lands in
    // proxy logs, browser history and Referer headers. Refused before anything else.
    app.addHook("onRequest", async (req) => {
        const found = credentialInUrl(req.url);
        if (!found) return;
        const reason = `the URL carries ${found}: send credentials only in the Authorization header (Bearer <token>), and revoke that token, it has been exposed`;
        await deployer.auditUnauthenticated(`${req.method} ${req.url.split("?")[0]}`, redactUrl(req.url), reason, req.id, req.ip);
        throw new BadRequestError(reason);
    });

    let closing = false;
    app.addHook("onClose", async () => {
        closing = true;
    });

    // ---- unauthenticated: health, OpenAPI, the console page ----
    app.get("/healthz", { schema: { hide: true } }, async () => ({ ok: true }));
    app.get("/readyz", { schema: { hide: true } }, async (_req, reply) => {
        if (closing) return reply.code(503).send({ ok: false, reason: "shutting down" });
        return { ok: true, database: deployer.database.kind, runsInProgress: deployer.worker.activeCount };
    });
    app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
    app.get("/", { schema: { hide: true } }, async (_req, reply) => reply.redirect("/console/"));
    app.get("/console/", { schema: { hide: true } }, async (_req, reply) =>
        reply
            .type("text/html; charset=utf-8")
            .header("content-security-policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self'")
            .send(consoleHtml()),
    );

    // ---- /v1: every route authenticated ----
    await app.register(
        async (v1) => {
            const api = v1.withTypeProvider<ZodTypeProvider>();
            api.addHook("onRequest", async (req) => {
                try {
                    const principal = await deployer.auth.authenticate(req.headers.authorization);
                    req.caller = { principal, requestId: req.id, remote: req.ip };
                } catch (err) {
                    const reason = err instanceof DeployerError ? err.message : "authentication failed";
                    await deployer.auditUnauthenticated(`${req.method} ${req.routeOptions.url ?? req.url}`, req.url.split("?")[0] ?? req.url, reason, req.id, req.ip);
                    throw err instanceof DeployerError ? err : new UnauthorizedError(reason);
                }
            });
            const caller = (req: FastifyRequest): Caller => req.caller!;
            const idem = (req: FastifyRequest) => {
                const v = req.headers["idempotency-key"];
                return typeof v === "string" && v ? v : undefined;
            };
            const err = { 400: s.errorBody, 401: s.errorBody, 403: s.errorBody, 404: s.errorBody, 409: s.errorBody, 422: s.errorBody };

            api.get("/stacks", { schema: { tags: ["stacks"], summary: "Stacks the caller's teams own", response: { 200: s.stackList, ...err } } }, async (req) => ({
                stacks: await deployer.listStacks(caller(req)),
            }));

            api.post(
                "/stacks",
                { schema: { tags: ["stacks"], summary: "Create a stack from an example stack's file", body: s.createStackBody, response: { 201: s.stackDetail, ...err } } },
                async (req, reply) => reply.code(201).send(await deployer.createStack(caller(req), req.body)),
            );

            api.get(
                "/stacks/:stack",
                { schema: { tags: ["stacks"], summary: "A stack: config, validity, outputs of the last up, last run, lock state", params: s.stackParams, response: { 200: s.stackDetail, ...err } } },
                async (req) => deployer.getStack(caller(req), req.params.stack),
            );

            api.put(
                "/stacks/:stack/config",
                {
                    schema: {
                        tags: ["stacks"],
                        summary: "Replace the stack's x1agent config (validated by the stack schema; comments in the file kept)",
                        params: s.stackParams,
                        body: s.updateConfigBody,
                        response: { 200: s.stackDetail, ...err },
                    },
                },
                async (req) => deployer.updateStackConfig(caller(req), req.params.stack, req.body),
            );

            api.put(
                "/stacks/:stack/team",
                { schema: { tags: ["stacks"], summary: "Assign the stack to a team (admin)", params: s.stackParams, body: s.setTeamBody, response: { 200: s.stackDetail, ...err } } },
                async (req) => deployer.setStackTeam(caller(req), req.params.stack, req.body.team),
            );

            api.delete(
                "/stacks/:stack",
                {
                    schema: {
                        tags: ["stacks"],
                        summary: "Destroy the stack's resources, then remove the stack; needs ?confirm=<stack>",
                        params: s.stackParams,
                        querystring: s.deleteStackQuery,
                        headers: s.idempotencyHeaders,
                        response: { 200: s.runResponse, 202: s.runResponse, ...err },
                    },
                },
                async (req, reply) => {
                    const r = await deployer.deleteStack(caller(req), req.params.stack, req.query.confirm, idem(req));
                    return reply.code(r.created ? 202 : 200).send({ run: r.run });
                },
            );

            api.post(
                "/stacks/:stack/runs",
                {
                    schema: {
                        tags: ["runs"],
                        summary: "Queue a preview, up, refresh (drift report) or destroy; answers at once with the run and its place in the queue",
                        params: s.stackParams,
                        body: s.createRunBody,
                        headers: s.idempotencyHeaders,
                        response: { 200: s.runResponse, 202: s.runResponse, ...err },
                    },
                },
                async (req, reply) => {
                    const r = await deployer.createRun(caller(req), { stack: req.params.stack, ...req.body, idempotencyKey: idem(req) });
                    return reply.code(r.created ? 202 : 200).header("location", `/v1/runs/${r.run.id}`).send({ run: r.run });
                },
            );

            api.post(
                "/stacks/:stack/workspaces",
                {
                    schema: {
                        tags: ["workspaces"],
                        summary: "Propose adding a workspace: queues a preview of the config change; approve it to apply",
                        params: s.stackParams,
                        body: s.workspaceBody,
                        headers: s.idempotencyHeaders,
                        response: { 200: s.runResponse, 202: s.runResponse, ...err },
                    },
                },
                async (req, reply) => {
                    const r = await deployer.addWorkspace(caller(req), req.params.stack, req.body, idem(req));
                    return reply.code(r.created ? 202 : 200).send({ run: r.run });
                },
            );

            api.delete(
                "/stacks/:stack/workspaces/:workspace",
                {
                    schema: {
                        tags: ["workspaces"],
                        summary: "Propose removing a workspace: queues a preview; approve it to apply",
                        params: s.workspaceParams,
                        headers: s.idempotencyHeaders,
                        response: { 200: s.runResponse, 202: s.runResponse, ...err },
                    },
                },
                async (req, reply) => {
                    const r = await deployer.removeWorkspace(caller(req), req.params.stack, req.params.workspace, idem(req));
                    return reply.code(r.created ? 202 : 200).send({ run: r.run });
                },
            );

            api.post(
                "/stacks/:stack/secrets-tier",
                {
                    schema: {
                        tags: ["workspaces"],
                        summary: "Propose a secrets tier upgrade (kubernetes -> vault -> cloud): queues a preview; approve it to apply",
                        params: s.stackParams,
                        body: s.tierUpgradeBody,
                        headers: s.idempotencyHeaders,
                        response: { 200: s.runResponse, 202: s.runResponse, ...err },
                    },
                },
                async (req, reply) => {
                    const r = await deployer.upgradeTier(caller(req), req.params.stack, req.body, idem(req));
                    return reply.code(r.created ? 202 : 200).send({ run: r.run });
                },
            );

            api.get(
                "/runs",
                { schema: { tags: ["runs"], summary: "Run history, newest first", querystring: s.listRunsQuery, response: { 200: z.object({ runs: z.array(s.runView) }), ...err } } },
                async (req) => ({ runs: await deployer.listRuns(caller(req), req.query) }),
            );

            api.get(
                "/runs/:id",
                { schema: { tags: ["runs"], summary: "A run: status, queue place, change counts, diff, policy results, drift", params: s.runParams, response: { 200: s.runResponse, ...err } } },
                async (req) => ({ run: await deployer.getRun(caller(req), req.params.id) }),
            );

            api.post(
                "/runs/:id/cancel",
                { schema: { tags: ["runs"], summary: "Cancel: a queued run at once, a running one cleanly through the engine", params: s.runParams, response: { 200: s.runResponse, ...err } } },
                async (req) => ({ run: await deployer.cancelRun(caller(req), req.params.id) }),
            );

            api.post(
                "/runs/:id/approve",
                {
                    schema: {
                        tags: ["runs"],
                        summary: "Approve a succeeded preview of a config change: queues the up that applies it",
                        params: s.runParams,
                        headers: s.idempotencyHeaders,
                        response: { 200: s.runResponse, 202: s.runResponse, ...err },
                    },
                },
                async (req, reply) => {
                    const r = await deployer.approveRun(caller(req), req.params.id, idem(req));
                    return reply.code(r.created ? 202 : 200).send({ run: r.run });
                },
            );

            api.get(
                "/runs/:id/events",
                {
                    schema: {
                        tags: ["runs"],
                        summary: "A run's engine events: JSON, or live Server-Sent Events with Accept: text/event-stream (replayed from Last-Event-ID or ?after)",
                        params: s.runParams,
                        querystring: s.eventsQuery,
                        response: { 200: s.eventList, ...err },
                    },
                },
                async (req, reply) => {
                    const after = Number(req.headers["last-event-id"] ?? req.query.after ?? 0) || 0;
                    const first = await deployer.runEvents(caller(req), req.params.id, after);
                    if (!(req.headers.accept ?? "").includes("text/event-stream")) return first;
                    await streamRun(deployer, req, reply, req.params.id, after, () => closing);
                    return reply;
                },
            );

            api.get(
                "/audit",
                { schema: { tags: ["audit"], summary: "The audit log, newest first (admin)", querystring: s.auditQuery } },
                async (req) => ({ entries: await deployer.listAudit(caller(req), req.query) }),
            );

            api.post(
                "/tokens",
                { schema: { tags: ["tokens"], summary: "Issue a bearer token (admin); the token is shown once", body: s.createTokenBody } },
                async (req, reply) => reply.code(201).send(await deployer.createToken(caller(req), req.body)),
            );
            api.get("/tokens", { schema: { tags: ["tokens"], summary: "Tokens (never their values) (admin)" } }, async (req) => ({
                tokens: await deployer.listTokens(caller(req)),
            }));
            api.delete("/tokens/:id", { schema: { tags: ["tokens"], summary: "Revoke a token (admin)", params: s.tokenParams } }, async (req, reply) => {
                await deployer.revokeToken(caller(req), req.params.id);
                return reply.code(204).send();
            });
        },
        { prefix: "/v1" },
    );
    return app;
}

/** Writes a run's events as SSE until the run ends (replaying stored ones first), then an `end` event. */
async function streamRun(deployer: Deployer, req: FastifyRequest, reply: FastifyReply, id: string, after: number, closing: () => boolean): Promise<void> {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
    let open = true;
    req.raw.on("close", () => {
        open = false;
    });
    let last = after;
    let lastState = "";
    let lastWrite = Date.now();
    const write = (text: string) => {
        raw.write(text);
        lastWrite = Date.now();
    };
    while (open && !closing()) {
        // Read the run before its events: a run reads as ended only after all its events were stored.
        const run = await deployer.runNow(id);
        const events = await deployer.eventsAfter(id, last, 500);
        for (const e of events) {
            write(`id: ${e.seq}\nevent: engine\ndata: ${JSON.stringify(e)}\n\n`);
            last = e.seq;
        }
        const state = JSON.stringify([run.status, run.queue ?? null, run.message]);
        if (state !== lastState) {
            write(`event: run\ndata: ${JSON.stringify(run)}\n\n`);
            lastState = state;
        }
        if (isTerminal(run.status) && events.length < 500) {
            write(`event: end\ndata: ${JSON.stringify(run)}\n\n`);
            break;
        }
        if (events.length === 500) continue;
        await new Promise<void>((resolve) => {
            const done = () => {
                clearTimeout(timer);
                deployer.bus.off(id, done);
                resolve();
            };
            // Runs on another replica do not ring this bus: poll once a second too.
            const timer = setTimeout(done, 1000);
            deployer.bus.on(id, done);
        });
        if (Date.now() - lastWrite > 15_000) write(": keep-alive\n\n");
    }
    raw.end();
}

async function sendError(deployer: Deployer, err: unknown, req: FastifyRequest, reply: FastifyReply) {
    if (hasZodFastifySchemaValidationErrors(err)) {
        const where = (err as { validationContext?: string }).validationContext ?? "request";
        const issues = err.validation.map((v) => {
            const at = v.instancePath ? v.instancePath.replace(/^\//, "").replace(/\//g, ".") : "";
            const extra = (v.params as { issue?: { keys?: string[] } }).issue?.keys;
            return `${where}${at ? `.${at}` : ""}: ${v.message}${extra?.length ? ` (${extra.join(", ")})` : ""}`;
        });
        const message = `invalid request: ${issues.join("; ")}`;
        // A refused request of a known caller is in the audit log like any other refusal.
        if (req.caller) await deployer.audit(req.caller, `${req.method} ${req.routeOptions.url ?? ""}`, req.url.split("?")[0] ?? "", "denied", message);
        return reply.code(400).send({ error: "bad_request", message, issues, requestId: req.id });
    }
    if (err instanceof DeployerError) {
        return reply.code(err.status).send({ error: err.code, message: redact(err.message), ...(err.details ?? {}), requestId: req.id });
    }
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
        // Fastify's own 4xx: malformed JSON, wrong content type, body too large.
        const message =
            e.code === "FST_ERR_CTP_INVALID_JSON_BODY" || /JSON/.test(e.message ?? "")
                ? `the body is not valid JSON (${redact(e.message ?? "")}): send a JSON object with Content-Type: application/json`
                : redact(e.message ?? "bad request");
        return reply.code(e.statusCode).send({ error: e.statusCode === 400 ? "bad_request" : "client_error", message, requestId: req.id });
    }
    req.log.error({ err: redact(err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ""}` : String(err)) }, "request failed");
    return reply.code(500).send({ error: "internal", message: `the deployer failed on this request; the server log has details under request id ${req.id}`, requestId: req.id });
}
