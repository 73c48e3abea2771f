/** Runs: queue one on a stack (through an approval when gated), history, one run, cancel, and its events (JSON or live SSE). */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Deployer } from "../../deployer";
import { callerOf } from "../auth";
import { errorResponses as err, idempotencyKey, sendQueued } from "../replies";
import * as s from "../schemas";
import { streamRun } from "../sse";

export const runRoutes: FastifyPluginAsyncZod<{ deployer: Deployer; closing: () => boolean }> = async (api, { deployer, closing }) => {
    const tags = ["runs"];

    api.post(
        "/stacks/:stack/runs",
        {
            schema: {
                tags,
                summary:
                    "Queue a preview, up, refresh (drift report), destroy (with confirm: <stack>) or preview-destroy; answers at once with the run and its place in the queue. When the stack's approval policy gates an up or destroy, the run is its preview and the answer names the approval it waits for",
                params: s.stackParams,
                body: s.createRunBody,
                headers: s.idempotencyHeaders,
                response: { 200: s.queuedResponse, 202: s.queuedResponse, ...err },
            },
        },
        async (req, reply) =>
            sendQueued(reply, await deployer.createRun(callerOf(req), req.params.stack, { ...req.body, idempotencyKey: idempotencyKey(req) })),
    );

    api.get(
        "/runs",
        {
            schema: {
                tags,
                summary: "Run history, newest first",
                querystring: s.listRunsQuery,
                response: { 200: z.object({ runs: z.array(s.runView) }), ...err },
            },
        },
        async (req) => ({ runs: await deployer.runs.list(callerOf(req), req.query) }),
    );

    api.get(
        "/runs/:id",
        {
            schema: {
                tags,
                summary: "A run: status, queue place, change counts, diff, policy results, drift",
                params: s.runParams,
                response: { 200: s.runResponse, ...err },
            },
        },
        async (req) => ({ run: await deployer.runs.get(callerOf(req), req.params.id) }),
    );

    api.post(
        "/runs/:id/cancel",
        {
            schema: {
                tags,
                summary: "Cancel: a queued run at once, a running one cleanly through the engine",
                params: s.runParams,
                response: { 200: s.runResponse, ...err },
            },
        },
        async (req) => ({ run: await deployer.runs.cancel(callerOf(req), req.params.id) }),
    );

    api.get(
        "/runs/:id/events",
        {
            schema: {
                tags,
                summary: "A run's engine events: JSON, or live Server-Sent Events with Accept: text/event-stream (replayed from Last-Event-ID or ?after)",
                params: s.runParams,
                querystring: s.eventsQuery,
                response: { 200: s.eventList, ...err },
            },
        },
        async (req, reply) => {
            const after = Number(req.headers["last-event-id"] ?? req.query.after ?? 0) || 0;
            const first = await deployer.runs.eventsOf(callerOf(req), req.params.id, after);
            if (!(req.headers.accept ?? "").includes("text/event-stream")) return first;
            await streamRun(deployer, req, reply, req.params.id, after, closing);
            return reply;
        },
    );
};
