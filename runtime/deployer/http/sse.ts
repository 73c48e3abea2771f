/**
 * A run's events as Server-Sent Events: stored events first (from
 * Last-Event-ID or ?after), then live ones as the worker stores them, a
 * `run` message whenever the run's status or queue place changes, and an
 * `end` message once it is over. Runs on other replicas do not ring this
 * process's bus, so the stream also looks once a second.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Deployer } from "../deployer";
import { isTerminal } from "../store/runs";

const batch = 500;

export async function streamRun(
    deployer: Deployer,
    req: FastifyRequest,
    reply: FastifyReply,
    id: string,
    after: number,
    closing: () => boolean,
): Promise<void> {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-accel-buffering": "no",
    });
    let open = true;
    req.raw.on("close", () => {
        open = false;
    });
    let last = after;
    let lastState = "";
    let lastWrite = Date.now();
    const write = (text: string) => {
        raw.write(text);
        lastWrite = Date.now();
    };
    while (open && !closing()) {
        // Read the run before its events: a run reads as ended only after all its events were stored.
        const run = await deployer.runs.now(id);
        const events = await deployer.runs.eventsAfter(id, last, batch);
        for (const e of events) {
            write(`id: ${e.seq}\nevent: engine\ndata: ${JSON.stringify(e)}\n\n`);
            last = e.seq;
        }
        const state = JSON.stringify([run.status, run.queue ?? null, run.message]);
        if (state !== lastState) {
            write(`event: run\ndata: ${JSON.stringify(run)}\n\n`);
            lastState = state;
        }
        if (isTerminal(run.status) && events.length < batch) {
            write(`event: end\ndata: ${JSON.stringify(run)}\n\n`);
            break;
        }
        if (events.length === batch) continue;
        await new Promise<void>((resolve) => {
            const done = () => {
                clearTimeout(timer);
                deployer.bus.off(id, done);
                resolve();
            };
            const timer = setTimeout(done, 1000);
            deployer.bus.on(id, done);
        });
        if (Date.now() - lastWrite > 15_000) write(": keep-alive\n\n");
    }
    raw.end();
}
