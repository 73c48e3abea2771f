/**
 * Authentication, as hooks on the Fastify instance whose routes it guards:
 * once per request, before a handler runs, the bearer token is checked and
 * the caller decorated on the request (`request.caller`); a refusal is
 * audited. A credential in the URL is refused before anything else on every
 * route (it lands in proxy logs and browser history).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Caller } from "../core/access";
import { anonymous as anonymousPrincipal } from "../core/audit";
import type { Deployer } from "../deployer";
import { BadRequestError, DeployerError, UnauthorizedError } from "../errors";
import { credentialInUrl, redactUrl } from "../log";

declare module "fastify" {
    interface FastifyRequest {
        caller: Caller | null;
    }
}

/** The authenticated caller of a route under /v1 (the hook guarantees one). */
export function callerOf(req: FastifyRequest): Caller {
    if (!req.caller) throw new UnauthorizedError("not authenticated");
    return req.caller;
}

/** Refuses credentials in URLs on every route. */
export function refuseCredentialsInUrls(app: FastifyInstance, deployer: Deployer): void {
    app.addHook("onRequest", async (req) => {
        const found = credentialInUrl(req.url);
        if (!found) return;
        const reason = `the URL carries ${found}: send credentials only in the Authorization header (Bearer <token>), and revoke that token, it has been exposed`;
        await deployer.audit.record(
            { principal: anonymousPrincipal, requestId: req.id, remote: req.ip },
            `${req.method} ${req.url.split("?")[0]}`,
            redactUrl(req.url),
            "denied",
            reason,
        );
        throw new BadRequestError(reason);
    });
}

/** Authenticates every request of the routes it is registered on. */
export function authenticate(app: FastifyInstance, deployer: Deployer): void {
    app.addHook("onRequest", async (req) => {
        try {
            req.caller = { principal: await deployer.tokens.authenticate(req.headers.authorization), requestId: req.id, remote: req.ip };
        } catch (err) {
            const reason = err instanceof DeployerError ? err.message : "authentication failed";
            await deployer.audit.record(
                { principal: anonymousPrincipal, requestId: req.id, remote: req.ip },
                `${req.method} ${req.routeOptions.url ?? req.url.split("?")[0]}`,
                req.url.split("?")[0] ?? req.url,
                "denied",
                reason,
            );
            throw err instanceof DeployerError ? err : new UnauthorizedError(reason);
        }
    });
}
