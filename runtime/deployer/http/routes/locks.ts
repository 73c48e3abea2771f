/** A stack's engine lock: who holds it, and clearing a stale one (the team's admin). */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Deployer } from "../../deployer";
import { callerOf } from "../auth";
import { errorResponses as err } from "../replies";
import * as s from "../schemas";

export const lockRoutes: FastifyPluginAsyncZod<{ deployer: Deployer }> = async (api, { deployer }) => {
    const tags = ["locks"];

    api.get(
        "/stacks/:stack/lock",
        {
            schema: {
                tags,
                summary: "Who holds the stack's engine lock (the CLI's lock file or row: pid, user, host, since, alive), and the deployer's run holding it",
                params: s.stackParams,
                response: { 200: s.stackLockView, ...err },
            },
        },
        async (req) => deployer.locks.get(callerOf(req), req.params.stack),
    );

    api.delete(
        "/stacks/:stack/lock",
        {
            schema: {
                tags,
                summary:
                    "Clear a stale engine lock, as pulumi cancel does (the team's admin; audited); refused while a run of this stack is running or a holder is a live process on this host",
                params: s.stackParams,
                response: { 200: s.stackLockView, ...err },
            },
        },
        async (req) => deployer.locks.clear(callerOf(req), req.params.stack),
    );
};
