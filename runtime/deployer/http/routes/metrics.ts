/**
 * GET /metrics, Prometheus text (core/metrics.ts). Not under /v1 and not
 * behind the API's tokens: a scraper gets its own credential. With a metrics
 * token set (X1_DEPLOYER_METRICS_TOKEN), a scrape must send it as a bearer
 * token, from anywhere; without one, only loopback clients are answered (a
 * Prometheus or agent on the same host or in the same pod), since the
 * series name operations, queue sizes and failure counts.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyPluginAsync } from "fastify";
import type { Deployer } from "../../deployer";
import { ForbiddenError, UnauthorizedError } from "../../errors";

export interface MetricsRouteOptions {
    deployer: Deployer;
    /** The bearer token a scrape must send; undefined: loopback clients only, without a token. */
    token?: string;
}

export function isLoopback(address: string | undefined): boolean {
    if (!address) return false;
    return address === "::1" || /^(::ffff:)?127\./.test(address);
}

const digest = (s: string) => createHash("sha256").update(s).digest();

export const metricsRoutes: FastifyPluginAsync<MetricsRouteOptions> = async (app, { deployer, token }) => {
    app.get("/metrics", { schema: { hide: true } }, async (req, reply) => {
        if (token) {
            const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1] ?? "";
            if (!timingSafeEqual(digest(given), digest(token))) {
                throw new UnauthorizedError("/metrics needs the metrics token: send Authorization: Bearer <X1_DEPLOYER_METRICS_TOKEN>");
            }
        } else if (!isLoopback(req.socket.remoteAddress)) {
            throw new ForbiddenError(
                "/metrics answers loopback clients only while no metrics token is set: set X1_DEPLOYER_METRICS_TOKEN on the deployer and give it to the scraper as a bearer token",
            );
        }
        return reply.type(deployer.metrics.contentType).send(await deployer.metrics.text());
    });
};
