/** Approvals: a stack's approval policy, and the approvals of gated runs and proposed config changes (list, read, approve, reject). */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Deployer } from "../../deployer";
import { callerOf } from "../auth";
import { errorResponses as err } from "../replies";
import * as s from "../schemas";

export const approvalRoutes: FastifyPluginAsyncZod<{ deployer: Deployer }> = async (api, { deployer }) => {
    const tags = ["approvals"];

    api.get(
        "/stacks/:stack/approval-policy",
        {
            schema: {
                tags,
                summary: "Which operations of the stack need approval: set by an admin, else both for prod-like stacks",
                params: s.stackParams,
                response: { 200: s.approvalPolicyView, ...err },
            },
        },
        async (req) => deployer.approvals.policy(callerOf(req), req.params.stack),
    );

    api.put(
        "/stacks/:stack/approval-policy",
        {
            schema: {
                tags,
                summary: "Set which operations of the stack need approval (admin of the stack's team)",
                params: s.stackParams,
                body: s.approvalPolicyBody,
                response: { 200: s.approvalPolicyView, ...err },
            },
        },
        async (req) => deployer.approvals.setPolicy(callerOf(req), req.params.stack, req.body),
    );

    api.get(
        "/approvals",
        {
            schema: {
                tags,
                summary: "Approvals of the caller's teams' stacks, newest first",
                querystring: s.listApprovalsQuery,
                response: { 200: z.object({ approvals: z.array(s.approvalView) }), ...err },
            },
        },
        async (req) => ({ approvals: await deployer.approvals.list(callerOf(req), req.query) }),
    );

    api.get(
        "/approvals/:id",
        {
            schema: {
                tags,
                summary: "An approval: what is asked, its preview run, the revision previewed, who asked, its status",
                params: s.approvalParams,
                response: { 200: z.object({ approval: s.approvalView }), ...err },
            },
        },
        async (req) => ({ approval: await deployer.approvals.get(callerOf(req), req.params.id) }),
    );

    api.post(
        "/approvals/:id/approve",
        {
            schema: {
                tags,
                summary:
                    "Approve (an approver of the stack's team who is not the requester), once the preview succeeded: queues the up or destroy, pinned to the previewed revision",
                params: s.approvalParams,
                response: { 202: s.approvedResponse, ...err },
            },
        },
        async (req, reply) => {
            const approved = await deployer.approvals.approve(callerOf(req), req.params.id);
            return reply.code(202).header("location", `/v1/runs/${approved.run.id}`).send(approved);
        },
    );

    api.post(
        "/approvals/:id/reject",
        {
            schema: {
                tags,
                summary: "Reject (an approver of the stack's team), or withdraw (the requester), with a reason",
                params: s.approvalParams,
                body: s.rejectBody,
                response: { 200: z.object({ approval: s.approvalView }), ...err },
            },
        },
        async (req) => ({ approval: await deployer.approvals.reject(callerOf(req), req.params.id, req.body.reason) }),
    );
};
