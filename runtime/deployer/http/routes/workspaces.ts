/** Config changes as requests: add or remove a workspace, upgrade the secrets tier; each queues a preview and an approval (routes/approvals.ts). */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Deployer } from "../../deployer";
import { callerOf } from "../auth";
import { errorResponses as err, idempotencyKey, sendQueued } from "../replies";
import * as s from "../schemas";

export const workspaceRoutes: FastifyPluginAsyncZod<{ deployer: Deployer }> = async (api, { deployer }) => {
    const tags = ["workspaces"];
    const response = { 200: s.queuedResponse, 202: s.queuedResponse, ...err };

    api.post(
        "/stacks/:stack/workspaces",
        {
            schema: {
                tags,
                summary:
                    "Propose adding a workspace (of one of the caller's teams): queues a preview of the config change; an approver approves it (POST /v1/approvals/{id}/approve) to apply it",
                params: s.stackParams,
                body: s.workspaceBody,
                headers: s.idempotencyHeaders,
                response,
            },
        },
        async (req, reply) => sendQueued(reply, await deployer.proposals.addWorkspace(callerOf(req), req.params.stack, req.body, idempotencyKey(req))),
    );

    api.delete(
        "/stacks/:stack/workspaces/:workspace",
        {
            schema: {
                tags,
                summary: "Propose removing a workspace: queues a preview; an approver approves it (POST /v1/approvals/{id}/approve) to apply it",
                params: s.workspaceParams,
                headers: s.idempotencyHeaders,
                response,
            },
        },
        async (req, reply) =>
            sendQueued(reply, await deployer.proposals.removeWorkspace(callerOf(req), req.params.stack, req.params.workspace, idempotencyKey(req))),
    );

    api.post(
        "/stacks/:stack/secrets-tier",
        {
            schema: {
                tags,
                summary:
                    "Propose a secrets tier upgrade (kubernetes -> vault -> cloud): queues a preview; an approver approves it (POST /v1/approvals/{id}/approve) to apply it",
                params: s.stackParams,
                body: s.tierUpgradeBody,
                headers: s.idempotencyHeaders,
                response,
            },
        },
        async (req, reply) => sendQueued(reply, await deployer.proposals.upgradeTier(callerOf(req), req.params.stack, req.body, idempotencyKey(req))),
    );
};
