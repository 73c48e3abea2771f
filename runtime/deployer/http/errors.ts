/**
 * One error mapping for every route, which never leaks a raw error: a
 * malformed request is a 400 listing each problem (audited when the caller
 * is known), the deployer's own errors their status and message, Fastify's
 * 4xx (bad JSON, body too large) a sentence saying what to send, anything
 * else a 500 naming the request id to look up in the server log.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import type { Deployer } from "../deployer";
import { DeployerError } from "../errors";
import { redact } from "../redact";

export async function sendError(deployer: Deployer, err: unknown, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    if (hasZodFastifySchemaValidationErrors(err)) {
        const where = (err as { validationContext?: string }).validationContext ?? "request";
        const issues = err.validation.map((v) => {
            const at = v.instancePath ? v.instancePath.replace(/^\//, "").replace(/\//g, ".") : "";
            const extra = (v.params as { issue?: { keys?: string[] } }).issue?.keys;
            return `${where}${at ? `.${at}` : ""}: ${v.message}${extra?.length ? ` (${extra.join(", ")})` : ""}`;
        });
        const message = `invalid request: ${issues.join("; ")}`;
        // A refused request of a known caller is in the audit log like any other refusal.
        if (req.caller) await deployer.audit.record(req.caller, `${req.method} ${req.routeOptions.url ?? ""}`, req.url.split("?")[0] ?? "", "denied", message);
        return reply.code(400).send({ error: "bad_request", message, issues, requestId: req.id });
    }
    if (err instanceof DeployerError) {
        return reply.code(err.status).send({ error: err.code, message: redact(err.message), ...(err.details ?? {}), requestId: req.id });
    }
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
        const message =
            e.code === "FST_ERR_CTP_INVALID_JSON_BODY" || /JSON/.test(e.message ?? "")
                ? `the body is not valid JSON (${redact(e.message ?? "")}): send a JSON object with Content-Type: application/json`
                : redact(e.message ?? "bad request");
        return reply.code(e.statusCode).send({ error: e.statusCode === 400 ? "bad_request" : "client_error", message, requestId: req.id });
    }
    req.log.error({ err }, "request failed");
    return reply
        .code(500)
        .send({ error: "internal", message: `the deployer failed on this request; the server log has details under request id ${req.id}`, requestId: req.id });
}
