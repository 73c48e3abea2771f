/** A stack's drift schedule, and its latest drift report. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Deployer } from "../../deployer";
import { callerOf } from "../auth";
import { errorResponses as err } from "../replies";
import * as s from "../schemas";

export const scheduleRoutes: FastifyPluginAsyncZod<{ deployer: Deployer }> = async (api, { deployer }) => {
    const tags = ["schedules"];

    api.get(
        "/stacks/:stack/schedule",
        {
            schema: {
                tags,
                summary: "The stack's drift schedule (cron in UTC, remediate, next check)",
                params: s.stackParams,
                response: { 200: s.scheduleView, ...err },
            },
        },
        async (req) => deployer.schedules.get(callerOf(req), req.params.stack),
    );

    api.put(
        "/stacks/:stack/schedule",
        {
            schema: {
                tags,
                summary:
                    "Set or remove (drift: null) the stack's drift schedule: a refresh --preview-only at each slot, once across replicas; remediate queues an up that refreshes first",
                params: s.stackParams,
                body: s.scheduleBody,
                response: { 200: s.scheduleView, ...err },
            },
        },
        async (req) => deployer.schedules.set(callerOf(req), req.params.stack, req.body),
    );

    api.get(
        "/stacks/:stack/drift",
        {
            schema: {
                tags,
                summary: "The latest drift report: when, the check's run, the drifted resources with their changed properties, the remediation",
                params: s.stackParams,
                response: { 200: s.driftReport, ...err },
            },
        },
        async (req) => deployer.schedules.report(callerOf(req), req.params.stack),
    );
};
