/**
 * The deployer's structured log (pino, the logger Fastify is built on): one
 * JSON line per event, every line of a request carrying its `reqId`, and
 * nothing secret in any of them. A request's URL is logged with tokens
 * masked (a token in a query string is refused, but the refusal is logged
 * too), headers are never logged, and every message goes through `redact`.
 */
import pino, { type DestinationStream, type Logger } from "pino";
import { redact } from "./redact";

export type { Logger };

export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof logLevels)[number];

export interface LogOptions {
    level?: LogLevel;
    /** Where the lines go; default stdout. Tests pass a stream to read them. */
    stream?: DestinationStream;
}

interface LoggedRequest {
    method: string;
    url: string;
    ip?: string;
    socket?: { remotePort?: number };
}

export function createLogger(options: LogOptions = {}): Logger {
    return pino(
        {
            level: options.level ?? "info",
            base: { service: "x1-deployer" },
            serializers: {
                req: (req: LoggedRequest) => ({ method: req.method, url: redactUrl(req.url), remoteAddress: req.ip, remotePort: req.socket?.remotePort }),
                err: (err: Error) => ({ type: err.name, message: redact(err.message), stack: err.stack ? redact(err.stack) : undefined }),
            },
            hooks: {
                // Every message and every string argument is masked, whoever logs it.
                logMethod(args, method) {
                    method.apply(this, args.map((a) => (typeof a === "string" ? redact(a) : a)) as Parameters<typeof method>);
                },
            },
        },
        options.stream,
    );
}

/** Query parameters whose value is a credential wherever they appear. */
const credentialParams = /^(access_token|token|auth|authorization|api_key|apikey|password|secret)$/i;

/** The URL with tokens masked: known token shapes anywhere, and the value of credential-named query parameters. */
export function redactUrl(url: string): string {
    const [pathPart, query] = splitUrl(url);
    if (query === undefined) return redact(pathPart);
    const masked = query
        .split("&")
        .map((pair) => {
            const eq = pair.indexOf("=");
            const name = decodeSafe(eq < 0 ? pair : pair.slice(0, eq));
            return eq >= 0 && credentialParams.test(name) ? `${pair.slice(0, eq)}=[redacted]` : pair;
        })
        .join("&");
    return redact(`${pathPart}?${masked}`);
}

/** A credential in the URL (a deployer token, a JWT, a credential-named parameter), described without its value; undefined when none. */
export function credentialInUrl(url: string): string | undefined {
    const [, query] = splitUrl(url);
    if (query === undefined) return undefined;
    const decoded = decodeSafe(query);
    if (/x1d_[A-Za-z0-9_-]{8,}/.test(decoded)) return "a deployer token (x1d_...)";
    if (/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/.test(decoded)) return "a JWT";
    for (const pair of query.split("&")) {
        const eq = pair.indexOf("=");
        const name = decodeSafe(eq < 0 ? pair : pair.slice(0, eq));
        if (eq >= 0 && credentialParams.test(name)) return `a '${name}' parameter`;
    }
    return undefined;
}

function splitUrl(url: string): [string, string | undefined] {
    const q = url.indexOf("?");
    return q < 0 ? [url, undefined] : [url.slice(0, q), url.slice(q + 1)];
}

function decodeSafe(text: string): string {
    try {
        return decodeURIComponent(text.replace(/\+/g, " "));
    } catch {
        return text;
    }
}
