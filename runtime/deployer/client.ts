/**
 * A small client for the deployer's HTTP API, used by the `x1` CLI when
 * X1_DEPLOYER_URL is set: JSON calls with the bearer token from
 * X1_DEPLOYER_TOKEN, and the SSE stream of a run's events.
 */
import type { RunView, StoredEvent } from "./http/schemas";

/** One Server-Sent Events message as the deployer writes them (http/sse.ts). */
export interface SseMessage {
    event: string;
    id?: string;
    data: string;
}

/** The messages of an SSE response body, in order; ends when the stream does. */
export async function* sseMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let i: number;
        while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data !== undefined) yield { event, id: /^id: (.*)$/m.exec(block)?.[1], data };
        }
    }
}

export class DeployerClient {
    readonly url: string;
    private readonly token: string;

    constructor(url: string, token: string | undefined) {
        if (!token) throw new Error("X1_DEPLOYER_URL is set but X1_DEPLOYER_TOKEN is not: export the bearer token the deployer issued you");
        this.url = url.replace(/\/$/, "");
        this.token = token;
    }

    async call<T>(method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
        const res = await fetch(`${this.url}${route}`, {
            method,
            headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
            body: body === undefined ? undefined : JSON.stringify(body),
        }).catch((err: unknown) => {
            throw new Error(`cannot reach the deployer at ${this.url} (${(err as Error).message}); is it running? (npm run deployer)`);
        });
        const text = await res.text();
        const data = text ? (JSON.parse(text) as T & { message?: string }) : ({} as T & { message?: string });
        if (!res.ok) throw new Error(`deployer answered ${res.status}: ${data.message ?? text}`);
        return data;
    }

    /** Calls `onEvent` for each engine event and `onRun` on each run update until the run ends; returns the final run. */
    async watch(runId: string, onEvent: (e: StoredEvent) => void, onRun: (r: RunView) => void): Promise<RunView> {
        let last = 0;
        for (;;) {
            // Reconnects (resuming after the last event seen) if the stream drops before the end.
            const res = await fetch(`${this.url}/v1/runs/${runId}/events`, {
                headers: { authorization: `Bearer ${this.token}`, accept: "text/event-stream", "last-event-id": String(last) },
            });
            if (!res.ok || !res.body) throw new Error(`deployer answered ${res.status} for the event stream of run ${runId}`);
            for await (const m of sseMessages(res.body)) {
                if (m.event === "engine") {
                    const e = JSON.parse(m.data) as StoredEvent;
                    last = e.seq;
                    onEvent(e);
                } else if (m.event === "run") onRun(JSON.parse(m.data) as RunView);
                else if (m.event === "end") return JSON.parse(m.data) as RunView;
            }
        }
    }
}

/** One progress line for an engine event, or undefined for events not worth a line. */
export function describeEvent(e: Pick<StoredEvent, "kind" | "data">): string | undefined {
    const d = e.data as Record<string, any>;
    const symbol = ({ create: "+", update: "~", delete: "-", replace: "+-" } as Record<string, string>)[d.op] ?? "*";
    switch (e.kind) {
        case "resource-done":
            return d.op === "same" || d.type === "pulumi:pulumi:Stack" ? undefined : `  ${symbol} ${d.type} ${d.name} (${d.op})`;
        case "resource-failed":
            return `  ! ${d.type} ${d.name} failed`;
        case "diagnostic":
            return d.severity === "error" || d.severity === "warning" ? `  ${d.severity}: ${String(d.message).split("\n")[0]}` : undefined;
        case "policy":
            return `  policy ${d.enforcement}: ${d.policy}: ${String(d.message).split("\n")[0]}`;
        default:
            return undefined;
    }
}
