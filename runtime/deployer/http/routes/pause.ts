/** Pause a stack or the whole deployer: runs stay queued, nothing new starts, a running run finishes. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Deployer } from "../../deployer";
import { callerOf } from "../auth";
import { errorResponses as err } from "../replies";
import * as s from "../schemas";

export const pauseRoutes: FastifyPluginAsyncZod<{ deployer: Deployer }> = async (api, { deployer }) => {
    const tags = ["pause"];

    api.post(
        "/stacks/:stack/pause",
        {
            schema: {
                tags,
                summary: "Pause the stack: its runs stay queued and none starts (a running one finishes); the reason is shown on the stack and its queue",
                params: s.stackParams,
                body: s.pauseBody,
                response: { 200: s.stackPauseResponse, ...err },
            },
        },
        async (req) => deployer.pauses.pauseStack(callerOf(req), req.params.stack, req.body.reason),
    );

    api.delete(
        "/stacks/:stack/pause",
        { schema: { tags, summary: "Lift the stack's pause: its queued runs start", params: s.stackParams, response: { 200: s.stackPauseResponse, ...err } } },
        async (req) => deployer.pauses.resumeStack(callerOf(req), req.params.stack),
    );

    api.get(
        "/pause",
        { schema: { tags, summary: "Whether the whole deployer is paused (admin)", response: { 200: s.deployerPauseResponse, ...err } } },
        async (req) => deployer.pauses.deployerState(callerOf(req)),
    );

    api.post(
        "/pause",
        {
            schema: {
                tags,
                summary: "Pause the whole deployer (admin): every run stays queued and none starts; running runs finish",
                body: s.pauseBody,
                response: { 200: s.deployerPauseResponse, ...err },
            },
        },
        async (req) => deployer.pauses.pauseDeployer(callerOf(req), req.body.reason),
    );

    api.delete("/pause", { schema: { tags, summary: "Lift the deployer's pause (admin)", response: { 200: s.deployerPauseResponse, ...err } } }, async (req) =>
        deployer.pauses.resumeDeployer(callerOf(req)),
    );
};
