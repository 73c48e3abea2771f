/** /v1/stacks: list, read, create from another stack, edit config, assign a team, delete. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Deployer } from "../../deployer";
import { callerOf } from "../auth";
import { errorResponses as err, idempotencyKey, sendQueued } from "../replies";
import * as s from "../schemas";

export const stackRoutes: FastifyPluginAsyncZod<{ deployer: Deployer }> = async (api, { deployer }) => {
    const tags = ["stacks"];

    api.get("/stacks", { schema: { tags, summary: "Stacks the caller's teams own", response: { 200: s.stackList, ...err } } }, async (req) => ({
        stacks: await deployer.stacks.list(callerOf(req)),
    }));

    api.post(
        "/stacks",
        {
            schema: {
                tags,
                summary: "Create a stack from an example stack's file, or from a stack the caller may read",
                body: s.createStackBody,
                response: { 201: s.stackDetail, ...err },
            },
        },
        async (req, reply) => reply.code(201).send(await deployer.stacks.create(callerOf(req), req.body)),
    );

    api.get(
        "/stacks/:stack",
        {
            schema: {
                tags,
                summary: "A stack: config (secrets masked), validity, outputs of the last up, last run, lock state",
                params: s.stackParams,
                response: { 200: s.stackDetail, ...err },
            },
        },
        async (req) => deployer.stacks.get(callerOf(req), req.params.stack),
    );

    api.put(
        "/stacks/:stack/config",
        {
            schema: {
                tags,
                summary:
                    "Replace the stack's x1agent config (validated by the stack schema; comments kept; masked values sent back unchanged keep the stored value; workspaces and the tier change only through their own requests)",
                params: s.stackParams,
                body: s.updateConfigBody,
                response: { 200: s.stackDetail, ...err },
            },
        },
        async (req) => deployer.stacks.updateConfig(callerOf(req), req.params.stack, req.body),
    );

    api.put(
        "/stacks/:stack/team",
        {
            schema: {
                tags,
                summary: "Assign the stack to a team (admin)",
                params: s.stackParams,
                body: s.setTeamBody,
                response: { 200: s.stackDetail, ...err },
            },
        },
        async (req) => deployer.stacks.setTeam(callerOf(req), req.params.stack, req.body.team),
    );

    api.delete(
        "/stacks/:stack",
        {
            schema: {
                tags,
                summary: "Destroy the stack's resources, then remove the stack; needs ?confirm=<stack>; through an approval when its destroys are gated",
                params: s.stackParams,
                querystring: s.deleteStackQuery,
                headers: s.idempotencyHeaders,
                response: { 200: s.queuedResponse, 202: s.queuedResponse, ...err },
            },
        },
        async (req, reply) => sendQueued(reply, await deployer.stacks.delete(callerOf(req), req.params.stack, req.query.confirm, idempotencyKey(req))),
    );
};
