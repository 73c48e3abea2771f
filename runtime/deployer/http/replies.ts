/** What every route group shares: the error responses it documents, the Idempotency-Key, and the answer to a request that queues a run. */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Queued } from "../core/runs";
import { errorBody } from "./schemas";

/** The error statuses every /v1 route may answer, for the OpenAPI document. */
export const errorResponses = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody, 422: errorBody };

export function idempotencyKey(req: FastifyRequest): string | undefined {
    const v = req.headers["idempotency-key"];
    return typeof v === "string" && v ? v : undefined;
}

/**
 * 202 with the new run and where to follow it; 200 with the run an
 * Idempotency-Key already made. A gated operation's run is its preview, and
 * the body names the approval it waits for.
 */
export function sendQueued(reply: FastifyReply, queued: Queued): FastifyReply {
    return reply
        .code(queued.created ? 202 : 200)
        .header("location", `/v1/runs/${queued.run.id}`)
        .send(queued.approval ? { run: queued.run, approval: queued.approval } : { run: queued.run });
}
