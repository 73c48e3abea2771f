/**
 * The web console: static files from runtime/deployer/console/ (an HTML
 * page, ES modules, one stylesheet), unauthenticated like any page; the
 * console calls /v1 with the token the user signs in with. Only plain file
 * names of that folder are served, read on each request (no build step).
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import type { FastifyPluginAsync } from "fastify";

const dir = path.join(__dirname, "..", "..", "console");
const types: Record<string, string> = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
};
/** No inline script or style, nothing from elsewhere: the page talks only to this deployer. */
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

export const consoleRoutes: FastifyPluginAsync = async (app) => {
    app.get("/", { schema: { hide: true } }, async (_req, reply) => reply.redirect("/console/"));
    app.get<{ Params: { file?: string } }>("/console/:file?", { schema: { hide: true } }, async (req, reply) => {
        const file = req.params.file || "index.html";
        const type = types[path.extname(file)];
        const full = path.join(dir, file);
        if (!/^[a-z0-9-]+\.[a-z]+$/.test(file) || !type || !existsSync(full)) {
            return reply.code(404).send({ error: "not_found", message: `the console has no file '${file}'`, requestId: req.id });
        }
        return reply
            .type(type)
            .header("content-security-policy", csp)
            .header("x-content-type-options", "nosniff")
            .header("cache-control", "no-cache")
            .send(readFileSync(full, "utf8"));
    });
};
