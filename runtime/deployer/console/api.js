// The deployer's API as the console calls it: the bearer token of this tab
// (sessionStorage, never a URL), JSON in and out, an Idempotency-Key on every
// request that changes something, errors kept whole (a 422's problems).

const tokenKey = "x1-token";

/** The signed-in tab: its token, and what to do when the deployer says it is no longer valid. */
export const session = {
    token: sessionStorage.getItem(tokenKey) ?? "",
    /** @type {(message: string) => void} */
    onExpired: () => undefined,
    /** What the console is doing about an answer it did not get (null once it has one, or gave up). @type {(message: string | null) => void} */
    onRetry: () => undefined,
};

export function keepToken(token) {
    session.token = token;
    sessionStorage.setItem(tokenKey, token);
}

export function forgetToken() {
    session.token = "";
    sessionStorage.removeItem(tokenKey);
}

/** An answer other than 2xx: its status, the deployer's message, and the body (problems of a 422, runId of a 409...). */
export class ApiError extends Error {
    constructor(status, body) {
        super(body.message || `the deployer answered ${status}`);
        this.status = status;
        this.body = body;
        /** @type {{key: string, value: string, message: string}[]} */
        this.problems = Array.isArray(body.problems) ? body.problems : [];
    }
    /** The route itself is missing (an API this deployer does not have yet), not a missing object. */
    get noRoute() {
        return this.status === 404 && /^no route /.test(this.message);
    }
}

/** No answer came (the connection failed or broke before the answer was read): the deployer may or may not have acted. */
export class NoAnswer extends Error {}

/** Waits before each repeat of a keyed request whose answer was lost (then it gives up and says so). */
const retryDelaysMs = [1000, 3000];

/** A fresh Idempotency-Key. getRandomValues works on plain-http pages too (randomUUID does not). */
export function newKey() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    return `console-${Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")}`;
}

function headers(extra) {
    return { authorization: `Bearer ${session.token}`, ...extra };
}

async function request(method, url, body, key) {
    const h = headers(body === undefined ? {} : { "content-type": "application/json" });
    if (method !== "GET") h["idempotency-key"] = key ?? newKey();
    // The deployer answers every changing request once per Idempotency-Key (a
    // repeat gets the first answer, nothing is done twice), so one whose answer
    // was lost is sent again by itself, with the same key.
    if (method === "GET") return answer(method, url, h, body);
    for (let attempt = 1; ; attempt++) {
        try {
            const data = await answer(method, url, h, body);
            session.onRetry(null);
            return data;
        } catch (err) {
            const wait = retryDelaysMs[attempt - 1];
            if (!(err instanceof NoAnswer) || wait === undefined) {
                session.onRetry(null);
                if (err instanceof NoAnswer) {
                    throw new NoAnswer(
                        `the deployer did not answer ${attempt} times, so it may or may not have acted: try again; the retry carries the same Idempotency-Key, so it cannot act twice`,
                    );
                }
                throw err;
            }
            session.onRetry(
                `No answer from the deployer to ${method} ${url.split("?")[0]} (attempt ${attempt}): asking again in ${wait / 1000} s with the same Idempotency-Key, so it acts once`,
            );
            await new Promise((r) => setTimeout(r, wait));
        }
    }
}

/** One request and its answer (a 2xx body), an ApiError, or NoAnswer. */
async function answer(method, url, h, body) {
    let res;
    let text;
    try {
        res = await fetch(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
        text = res.status === 204 ? "" : await res.text();
    } catch {
        // No answer, or a broken one: the request may or may not have reached the deployer.
        throw new NoAnswer(
            method === "GET"
                ? "the deployer did not answer: check the connection and try again"
                : "the deployer did not answer, so it may or may not have acted: look (reload the page) before you try again",
        );
    }
    let data = {};
    try {
        data = text ? JSON.parse(text) : {};
    } catch {
        data = { message: text.slice(0, 300) };
    }
    if (res.status === 401) session.onExpired(data.message || "signed out");
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
}

export const get = (url) => request("GET", url);

/**
 * A request that changes something. `key` is the Idempotency-Key of the
 * user's intent: the same key for a repeated click, so the deployer answers
 * the first request's result instead of acting twice.
 */
export const send = (method, url, body, key) => request(method, url, body, key);

/** Query string from an object, skipping empty values. */
export function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    const s = q.toString();
    return s ? `?${s}` : "";
}

/**
 * A run's Server-Sent Events (fetch, so the token travels in a header, not
 * the URL): calls `on(event, data)` for each message until the stream ends
 * or `signal` aborts.
 */
export async function streamEvents(runId, signal, on) {
    const res = await fetch(`/v1/runs/${runId}/events`, { headers: headers({ accept: "text/event-stream" }), signal });
    if (!res.ok) {
        const body = await res.json().catch(() => ({}));
        if (res.status === 401) session.onExpired(body.message || "signed out");
        throw new ApiError(res.status, body);
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        let i = buf.indexOf("\n\n");
        while (i >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) on(event, JSON.parse(data));
            i = buf.indexOf("\n\n");
        }
    }
}

/** GET of a route this deployer may not have yet (an API landing in steps): undefined when the route is missing. */
export async function getOptional(url) {
    try {
        return await get(url);
    } catch (err) {
        if (err instanceof ApiError && err.noRoute) return undefined;
        throw err;
    }
}
