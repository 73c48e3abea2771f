/** /v1/me: who the caller is and its role in each team, so a client shows only what the caller may do. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Deployer } from "../../deployer";
import { callerOf } from "../auth";
import { errorResponses as err } from "../replies";
import * as s from "../schemas";

export const meRoutes: FastifyPluginAsyncZod<{ deployer: Deployer }> = async (api) => {
    api.get(
        "/me",
        { schema: { tags: ["me"], summary: "The caller: subject, deployer admin or not, and its role per team", response: { 200: s.meView, ...err } } },
        async (req) => {
            const p = callerOf(req).principal;
            return { subject: p.subject, admin: p.admin, teams: Object.entries(p.roles).map(([team, role]) => ({ team, role })) };
        },
    );
};
