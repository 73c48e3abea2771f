/**
 * Idempotency-Key on every request under /v1 that changes something (POST,
 * PUT, DELETE): the first answer (2xx) to a caller's key is kept for a day
 * and a retry with that key gets it again, with `Idempotent-Replayed: true`,
 * instead of acting twice (a second webhook, a second pause record, a second
 * approval decision). The same key with a different request is a 409; a key
 * whose first request is still being answered is a 409 saying to retry, and
 * one unanswered for `abandonedAfterSeconds` (its replica died mid-request)
 * is taken over by the retry; a request that failed keeps nothing, so a
 * corrected retry may use its key.
 *
 * Routes that queue runs declare the header in their schema and keep the key
 * on the run itself (core/runs.ts), where the scheduler's own keys also live:
 * their retry gets the run as it is now. A secret shown once (a token's
 * value, a webhook's signing secret) is never kept: a replay carries null in
 * its place.
 */
import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Deployer } from "../deployer";
import { ConflictError } from "../errors";
import { callerOf } from "./auth";
import { idempotencyKey } from "./replies";
import { idempotencyHeaders } from "./schemas";

/** How long a key's first answer is kept. */
export const keepKeysSeconds = 86_400;

/**
 * No request these keys cover takes this long to answer (none runs the
 * engine: runs are queued and keep their keys on the run), so a claim still
 * unanswered after it was held by a replica that died before answering: a
 * retry of the same request acts instead of getting a 409 for a day.
 */
export const abandonedAfterSeconds = 600;

/** Fields of an answer shown once: never stored, null in a replay. */
const shownOnce = ["token", "secret"];

declare module "fastify" {
    interface FastifyRequest {
        /** The key this request claimed (its answer is kept when it succeeds). */
        idempotencyClaim?: { subject: string; key: string };
    }
}

export function honourIdempotencyKeys(app: FastifyInstance, deployer: Deployer): void {
    app.addHook("preHandler", async (req, reply) => {
        if (!["POST", "PUT", "DELETE", "PATCH"].includes(req.method)) return;
        if (req.routeOptions.schema?.headers === idempotencyHeaders) return;
        const key = idempotencyKey(req);
        if (!key) return;
        const subject = callerOf(req).principal.subject;
        const route = `${req.method} ${req.routeOptions.url ?? req.url.split("?")[0]}`;
        const hash = requestHash(req, route);
        const held = await deployer.idempotency.claim(subject, key, route, hash, keepKeysSeconds, abandonedAfterSeconds);
        if (held.kind === "new") {
            req.idempotencyClaim = { subject, key };
            return;
        }
        if (held.requestHash !== hash) {
            throw new ConflictError(`Idempotency-Key '${key}' was already used for a different request (${held.route}); use a new key for a new request`);
        }
        if (held.kind === "in-progress") {
            throw new ConflictError(
                `the first request with Idempotency-Key '${key}' (${held.route}) is still being answered: retry in a moment ` +
                    `(one its deployer stopped answering is given up after ${abandonedAfterSeconds / 60} minutes, and the retry then acts)`,
            );
        }
        return reply.code(held.statusCode).header("idempotent-replayed", "true").type("application/json; charset=utf-8").send(held.body);
    });

    app.addHook("onSend", async (req, reply, payload) => {
        const claim = req.idempotencyClaim;
        if (!claim) return payload;
        req.idempotencyClaim = undefined;
        if (reply.statusCode >= 200 && reply.statusCode < 300) {
            await deployer.idempotency.answer(claim.subject, claim.key, reply.statusCode, withoutSecrets(payload));
        } else {
            await deployer.idempotency.release(claim.subject, claim.key);
        }
        return payload;
    });
}

/** One hash for one request: method and route, its parameters, query and body. */
function requestHash(req: FastifyRequest, route: string): string {
    return createHash("sha256")
        .update(JSON.stringify({ route, params: req.params ?? null, query: req.query ?? null, body: req.body ?? null }))
        .digest("hex");
}

/** The answer as kept: JSON with every field shown once set to null. */
function withoutSecrets(payload: unknown): string {
    const text = typeof payload === "string" ? payload : Buffer.isBuffer(payload) ? payload.toString("utf8") : "";
    if (!text) return "";
    try {
        const body = JSON.parse(text) as unknown;
        if (body && typeof body === "object" && !Array.isArray(body)) {
            for (const field of shownOnce) if (field in body) (body as Record<string, unknown>)[field] = null;
        }
        return JSON.stringify(body);
    } catch {
        return text;
    }
}
