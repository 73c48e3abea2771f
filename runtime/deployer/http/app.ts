/**
 * The deployer's HTTP API: Fastify with zod schemas at the edge (also the
 * OpenAPI document at /openapi.json), one error mapping (errors.ts), the
 * console page, and one route plugin per resource under /v1, every one of
 * them authenticated once per request (auth.ts).
 */
import { randomUUID } from "node:crypto";
import fastifySwagger from "@fastify/swagger";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import type { Deployer } from "../deployer";
import type { Logger } from "../log";
import { authenticate, refuseCredentialsInUrls } from "./auth";
import { sendError } from "./errors";
import { honourIdempotencyKeys } from "./idempotency";
import { approvalRoutes } from "./routes/approvals";
import { auditRoutes } from "./routes/audit";
import { consoleRoutes } from "./routes/console";
import { lockRoutes } from "./routes/locks";
import { meRoutes } from "./routes/me";
import { metricsRoutes } from "./routes/metrics";
import { pauseRoutes } from "./routes/pause";
import { runRoutes } from "./routes/runs";
import { scheduleRoutes } from "./routes/schedules";
import { stackRoutes } from "./routes/stacks";
import { tokenRoutes } from "./routes/tokens";
import { webhookRoutes } from "./routes/webhooks";
import { workspaceRoutes } from "./routes/workspaces";

export interface AppOptions {
    deployer: Deployer;
    /** The request log; default the deployer's own logger. Every line carries the request's id (`reqId`). */
    logger?: Logger;
    /** The bearer token /metrics asks for; unset: /metrics answers loopback clients only (routes/metrics.ts). */
    metricsToken?: string;
}

export async function buildApp({ deployer, logger = deployer.log, metricsToken }: AppOptions): Promise<FastifyInstance> {
    const app = Fastify({
        loggerInstance: logger as FastifyBaseLogger,
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
                description:
                    "Preview, up, refresh and destroy x1agent stacks through the Automation API; queued per stack, with live events, history and audit.",
            },
            components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
            security: [{ bearer: [] }],
        },
        transform: jsonSchemaTransform,
    });

    app.decorateRequest("caller", null);
    app.setErrorHandler((err, req, reply) => sendError(deployer, err, req, reply));
    app.setNotFoundHandler((req, reply) =>
        reply.code(404).send({ error: "not_found", message: `no route ${req.method} ${req.url.split("?")[0]}; see /openapi.json`, requestId: req.id }),
    );
    refuseCredentialsInUrls(app, deployer);

    let closing = false;
    app.addHook("onClose", async () => {
        closing = true;
    });

    // ---- unauthenticated: health, OpenAPI, the console page; /metrics has its own token ----
    app.get("/healthz", { schema: { hide: true } }, async () => ({ ok: true }));
    app.get("/readyz", { schema: { hide: true } }, async (_req, reply) => {
        if (closing) return reply.code(503).send({ ok: false, reason: "shutting down" });
        return { ok: true, database: deployer.database.kind, runsInProgress: deployer.worker.activeCount };
    });
    app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
    await app.register(consoleRoutes);
    await app.register(metricsRoutes, { deployer, token: metricsToken });

    // ---- /v1: every route authenticated, one plugin per resource ----
    await app.register(
        async (v1) => {
            authenticate(v1, deployer);
            honourIdempotencyKeys(v1, deployer);
            // Several replicas: this one's stack files as the shared database has them, before a route reads them.
            v1.addHook("preHandler", () => deployer.files.sync());
            await v1.register(meRoutes, { deployer });
            await v1.register(stackRoutes, { deployer });
            await v1.register(workspaceRoutes, { deployer });
            await v1.register(runRoutes, { deployer, closing: () => closing });
            await v1.register(tokenRoutes, { deployer });
            await v1.register(auditRoutes, { deployer });
            await v1.register(approvalRoutes, { deployer });
            await v1.register(pauseRoutes, { deployer });
            await v1.register(scheduleRoutes, { deployer });
            await v1.register(webhookRoutes, { deployer });
            await v1.register(lockRoutes, { deployer });
        },
        { prefix: "/v1" },
    );
    return app;
}
