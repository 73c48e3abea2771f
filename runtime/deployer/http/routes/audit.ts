/** /v1/audit (admin): who did what, when, with what outcome; every refusal included. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Deployer } from "../../deployer";
import { callerOf } from "../auth";
import * as s from "../schemas";

export const auditRoutes: FastifyPluginAsyncZod<{ deployer: Deployer }> = async (api, { deployer }) => {
    api.get("/audit", { schema: { tags: ["audit"], summary: "The audit log, newest first (admin)", querystring: s.auditQuery } }, async (req) => ({
        entries: await deployer.audit.list(deployer.access, callerOf(req), req.query),
    }));
};
