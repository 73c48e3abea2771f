/** /v1/webhooks: a team's outgoing webhooks (the secret shown once), and each one's deliveries. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Deployer } from "../../deployer";
import { callerOf } from "../auth";
import { errorResponses as err } from "../replies";
import * as s from "../schemas";

export const webhookRoutes: FastifyPluginAsyncZod<{ deployer: Deployer }> = async (api, { deployer }) => {
    const tags = ["webhooks"];

    api.post(
        "/webhooks",
        {
            schema: {
                tags,
                summary:
                    "Register a team's webhook (http:// or https://); its signing secret is in this answer only. Deliveries are signed: X1-Signature: t=<unix>,v1=<HMAC-SHA256 hex of '<t>.<body>'>",
                body: s.createWebhookBody,
                response: { 201: s.createdWebhook, ...err },
            },
        },
        async (req, reply) => reply.code(201).send(await deployer.notifications.create(callerOf(req), req.body)),
    );

    api.get(
        "/webhooks",
        {
            schema: {
                tags,
                summary: "Webhooks of the caller's teams (never their secrets), and the events a webhook may receive",
                response: {
                    200: z.object({
                        webhooks: z.array(s.webhookView),
                        events: z.array(z.enum(s.webhookEvents)).describe("every event a webhook may receive (what `events` of POST /v1/webhooks accepts)"),
                    }),
                    ...err,
                },
            },
        },
        async (req) => ({ webhooks: await deployer.notifications.list(callerOf(req)), events: [...s.webhookEvents] }),
    );

    api.delete(
        "/webhooks/:id",
        { schema: { tags, summary: "Remove a webhook (and its pending deliveries)", params: s.webhookParams, response: { 204: z.null(), ...err } } },
        async (req, reply) => {
            await deployer.notifications.remove(callerOf(req), req.params.id);
            return reply.code(204).send(null);
        },
    );

    api.get(
        "/webhooks/:id/deliveries",
        {
            schema: {
                tags,
                summary: "A webhook's deliveries, newest first: status (pending, delivered, failed), every attempt, the body sent",
                params: s.webhookParams,
                querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).optional() }),
                response: { 200: z.object({ deliveries: z.array(s.deliveryView) }), ...err },
            },
        },
        async (req) => ({ deliveries: await deployer.notifications.deliveries(callerOf(req), req.params.id, req.query.limit) }),
    );
};
