/**
 * A loopback HTTP proxy (node:http) between a browser and the deployer that
 * loses one answer: the first request matching `lose` is forwarded, the
 * deployer's whole answer is read, and then the browser's connection is
 * destroyed without a byte of it. So the request certainly reached the
 * deployer and certainly acted there, and the browser certainly got nothing:
 * the lost answer the console's Idempotency-Key is for, made deterministic.
 * Later matching requests are held until `release()`, so a test can look at
 * the page while the console is about to ask again. Every other request
 * passes through as it is (streams included). Every answer closes its
 * connection, so the browser never sends a request on a reused connection
 * and never repeats one by itself (chromium resends a request whose reused
 * connection broke): a second request is the console's.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** A request that matched, as the proxy saw it. */
export interface SeenRequest {
    method: string;
    url: string;
    idempotencyKey: string | undefined;
    /** The deployer's answer (for the lost one: what the browser never got). */
    status?: number;
    body?: string;
}

export interface LossyProxy {
    /** The proxy's base URL: open the console here. */
    url: string;
    /** Matching requests in arrival order; the first is the one whose answer was lost. */
    seen: SeenRequest[];
    /** Resolves with the lost request once its answer has been read from the deployer and the browser's connection destroyed. */
    lost: Promise<SeenRequest>;
    /** Resolves with the second matching request when it arrives (it is held until `release`). */
    repeated: Promise<SeenRequest>;
    /** Lets held requests (and every later one) through. */
    release(): void;
    close(): Promise<void>;
}

export async function lossyProxy(target: string, lose: (method: string, url: string) => boolean): Promise<LossyProxy> {
    const upstream = new URL(target);
    const seen: SeenRequest[] = [];
    let onLost!: (r: SeenRequest) => void;
    let onRepeated!: (r: SeenRequest) => void;
    let released!: () => void;
    const lost = new Promise<SeenRequest>((r) => (onLost = r));
    const repeated = new Promise<SeenRequest>((r) => (onRepeated = r));
    const gate = new Promise<void>((r) => (released = r));

    /** Sends the browser's request on to the deployer; `answer` gets the deployer's response. */
    const forward = (req: http.IncomingMessage, body: Buffer, answer: (res: http.IncomingMessage) => void, fail: (err: Error) => void) => {
        const out = http.request(
            {
                host: upstream.hostname,
                port: upstream.port,
                method: req.method,
                path: req.url,
                headers: { ...req.headers, host: upstream.host, connection: "close" },
            },
            answer,
        );
        out.on("error", fail);
        out.end(body);
    };

    /** Reads the deployer's whole answer into `entry` (status and body), then hands it on. */
    const record = (entry: SeenRequest, up: http.IncomingMessage, then: (answer: Buffer) => void) => {
        const parts: Buffer[] = [];
        up.on("data", (c: Buffer) => parts.push(c));
        up.on("end", () => {
            const answer = Buffer.concat(parts);
            entry.status = up.statusCode;
            entry.body = answer.toString("utf8");
            then(answer);
        });
    };

    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", async () => {
            const body = Buffer.concat(chunks);
            const fail = (err: Error) => {
                if (!res.headersSent) res.writeHead(502, { "content-type": "application/json", connection: "close" });
                res.end(JSON.stringify({ message: `proxy: ${err.message}` }));
            };
            const method = req.method ?? "GET";
            const url = req.url ?? "/";
            if (!lose(method, url)) {
                forward(
                    req,
                    body,
                    (up) => {
                        res.writeHead(up.statusCode ?? 502, { ...up.headers, connection: "close" });
                        up.pipe(res);
                    },
                    fail,
                );
                return;
            }
            const key = req.headers["idempotency-key"];
            const entry: SeenRequest = { method, url, idempotencyKey: Array.isArray(key) ? key[0] : key };
            seen.push(entry);
            if (seen.length === 1) {
                // The lost answer: the deployer acts and answers; the browser gets a closed connection.
                forward(
                    req,
                    body,
                    (up) =>
                        record(entry, up, () => {
                            req.socket.destroy();
                            onLost(entry);
                        }),
                    fail,
                );
                return;
            }
            if (seen.length === 2) onRepeated(entry);
            await gate;
            forward(
                req,
                body,
                (up) =>
                    record(entry, up, (answer) => {
                        res.writeHead(up.statusCode ?? 502, { ...up.headers, connection: "close" });
                        res.end(answer);
                    }),
                fail,
            );
        });
    });
    server.keepAliveTimeout = 0;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    return {
        url: `http://127.0.0.1:${port}`,
        seen,
        lost,
        repeated,
        release: () => released(),
        close: async () => {
            released();
            server.closeAllConnections();
            await new Promise<void>((r) => server.close(() => r()));
        },
    };
}
