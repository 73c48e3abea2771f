/** /v1/tokens (admin): issue (shown once), list (never their values), revoke. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Deployer } from "../../deployer";
import { callerOf } from "../auth";
import * as s from "../schemas";

export const tokenRoutes: FastifyPluginAsyncZod<{ deployer: Deployer }> = async (api, { deployer }) => {
    const tags = ["tokens"];

    api.post("/tokens", { schema: { tags, summary: "Issue a bearer token (admin); the token is shown once", body: s.createTokenBody } }, async (req, reply) =>
        reply.code(201).send(await deployer.tokens.create(callerOf(req), req.body)),
    );

    api.get("/tokens", { schema: { tags, summary: "Tokens (never their values) (admin)" } }, async (req) => ({
        tokens: await deployer.tokens.list(callerOf(req)),
    }));

    api.delete("/tokens/:id", { schema: { tags, summary: "Revoke a token (admin)", params: s.tokenParams } }, async (req, reply) => {
        await deployer.tokens.revoke(callerOf(req), req.params.id);
        return reply.code(204).send();
    });
};
