/**
 * Outgoing webhooks per team: registered by the team (or an admin), told of
 * run ends (succeeded, failed, cancelled), drift found and approvals needed
 * on the team's stacks. Each event becomes one delivery per webhook, stored
 * with its exact body (an outbox: worker/deliveries.ts sends it, retried
 * with a bounded exponential backoff, every attempt recorded).
 *
 * Signed as common forges and payment APIs do: the receiver recomputes
 * HMAC-SHA256 over `<timestamp>.<body>` with the webhook's secret and
 * compares it with the `v1` of `X1-Signature: t=<unix seconds>,v1=<hex>`,
 * refusing old timestamps (replays). The secret is shown once at creation.
 * A payload names runs, stacks and resources; it never holds a secret value
 * (errors are stored redacted, drift lists property names only, and the
 * whole body is redacted again before it is stored).
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { NotFoundError, UnprocessableError } from "../errors";
import type { CreateWebhookBody, DeliveryView, DriftedResource, WebhookEvent, WebhookView } from "../http/schemas";
import { webhookEvents } from "../http/schemas";
import type { Logger } from "../log";
import { redact, redactDeep, registerSecret } from "../redact";
import type { RunRow } from "../store/runs";
import type { Db } from "../store/db";
import { deliveryView, type WebhookRow, WebhooksRepository, webhookView } from "../store/webhooks";
import { type Access, type Action, type Caller, teamsOf } from "./access";
import type { AuditLog } from "./audit";

/** The headers of a delivery. */
export const signatureHeader = "x1-signature";
export const deliveryHeader = "x1-delivery";
export const eventHeader = "x1-event";

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signPayload(secret: string, body: string, timestamp: number): string {
    const mac = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
    return `t=${timestamp},v1=${mac}`;
}

/**
 * What a receiver does with a delivery (the README shows the same steps):
 * recompute the HMAC over `<t>.<raw body>`, compare in constant time, and
 * refuse a timestamp older than `toleranceSeconds` (a replayed delivery).
 */
export function verifySignature(secret: string, body: string, header: string, toleranceSeconds = 300, now = Date.now()): boolean {
    const parts = Object.fromEntries(header.split(",").map((p) => p.split("=", 2) as [string, string]));
    const t = Number(parts.t);
    if (!Number.isInteger(t) || !parts.v1 || Math.abs(now / 1000 - t) > toleranceSeconds) return false;
    const expected = Buffer.from(signPayload(secret, body, t).split("v1=")[1]!, "hex");
    const given = Buffer.from(parts.v1, "hex");
    return given.length === expected.length && timingSafeEqual(given, expected);
}

/** What an event says about a run: enough to act on, never a secret value. */
export function runPayload(r: RunRow): Record<string, unknown> {
    return {
        id: r.id,
        operation: r.operation,
        status: r.status,
        trigger: r.trigger,
        requestedBy: r.requested_by,
        createdAt: r.created_at.toISOString(),
        startedAt: r.started_at?.toISOString() ?? null,
        finishedAt: r.finished_at?.toISOString() ?? null,
        counts: r.counts_json ? (JSON.parse(r.counts_json) as Record<string, number>) : null,
        error: r.error,
        message: r.message,
        url: `/v1/runs/${r.id}`,
    };
}

/** The webhook event a run's end is, if any: expired and superseded runs never ran, so they are not announced. */
export function runEndEvent(status: string): WebhookEvent | undefined {
    if (status === "succeeded") return "run.succeeded";
    if (status === "cancelled") return "run.cancelled";
    if (status === "failed" || status === "timed_out" || status === "interrupted") return "run.failed";
    return undefined;
}

export interface EventFacts {
    /** The team whose webhooks are told (the stack's owner). */
    team: string | null;
    stack: string;
    run?: RunRow;
    drift?: DriftedResource[];
    /** For approval.needed and approval.expired: the approval (the approvals' own view). */
    approval?: Record<string, unknown>;
}

export class Notifications {
    private readonly repo: WebhooksRepository;
    private readonly access: Access;
    private readonly audit: AuditLog;
    private readonly log: Logger;
    /** Wakes the sender in this process: a delivery was queued. */
    private readonly wake: () => void;

    constructor(deps: { repo: WebhooksRepository; access: Access; audit: AuditLog; log: Logger; wake: () => void }) {
        this.repo = deps.repo;
        this.access = deps.access;
        this.audit = deps.audit;
        this.log = deps.log;
        this.wake = deps.wake;
    }

    /** Remembers every stored secret with the redactor, so none can reach a log or a response. */
    async registerSecrets(): Promise<void> {
        for (const s of await this.repo.secrets()) registerSecret(s);
    }

    async create(caller: Caller, body: CreateWebhookBody): Promise<WebhookView & { secret: string }> {
        await this.requireTeam(caller, "create-webhook", body.team);
        const url = checkUrl(body.url);
        const secret = `whsec_${randomBytes(32).toString("base64url")}`;
        registerSecret(secret);
        const row = await this.repo.insert({
            id: randomUUID(),
            team: body.team,
            url,
            events: JSON.stringify(body.events ? [...new Set(body.events)] : webhookEvents),
            secret,
            description: body.description ?? null,
            created_by: caller.principal.subject,
        });
        await this.audit.record(caller, "create-webhook", `webhook:${row.id}`, "ok", `team '${row.team}' -> ${redact(url)}`);
        return { ...webhookView(row), secret };
    }

    async list(caller: Caller): Promise<WebhookView[]> {
        const p = caller.principal;
        return (await this.repo.list(p.admin ? undefined : teamsOf(p))).map(webhookView);
    }

    async remove(caller: Caller, id: string): Promise<void> {
        const row = await this.webhook(caller, "delete-webhook", id);
        await this.repo.remove(id);
        await this.audit.record(caller, "delete-webhook", `webhook:${id}`, "ok", `team '${row.team}'`);
    }

    async deliveries(caller: Caller, id: string, limit = 50): Promise<DeliveryView[]> {
        await this.webhook(caller, "read-webhook", id);
        return (await this.repo.deliveries(id, limit)).map(deliveryView);
    }

    /**
     * Queues one delivery of `event` per webhook of the team that asked for
     * it; inside the caller's transaction when `tx` is given (the caller then
     * wakes the sender after its commit).
     */
    async emit(event: WebhookEvent, facts: EventFacts, tx?: Db): Promise<number> {
        if (!facts.team) return 0;
        const repo = tx ? new WebhooksRepository(tx) : this.repo;
        const hooks = (await repo.list([facts.team])).filter((h) => (JSON.parse(h.events) as string[]).includes(event));
        const occurredAt = new Date().toISOString();
        const rows = hooks.map((h) => {
            const id = randomUUID();
            const payload = redactDeep({
                id,
                event,
                occurredAt,
                team: facts.team,
                stack: facts.stack,
                ...(facts.run ? { run: runPayload(facts.run) } : {}),
                ...(facts.drift ? { drift: { resources: facts.drift } } : {}),
                ...(facts.approval ? { approval: facts.approval } : {}),
            });
            return { id, webhook_id: h.id, event, stack: facts.stack, run_id: facts.run?.id ?? null, payload: JSON.stringify(payload), status: "pending" };
        });
        await repo.addDeliveries(rows);
        if (rows.length > 0) {
            this.log.info({ event, stack: facts.stack, runId: facts.run?.id, deliveries: rows.length }, "webhook deliveries queued");
            if (!tx) this.wake();
        }
        return rows.length;
    }

    /** Sends what was queued in a transaction that has committed. */
    wakeSender(): void {
        this.wake();
    }

    private async webhook(caller: Caller, action: Action, id: string): Promise<WebhookRow> {
        const row = await this.repo.byId(id);
        if (!row) throw new NotFoundError(`no webhook '${id}'`);
        await this.requireTeam(caller, action, row.team, `webhook:${id}`);
        return row;
    }

    /** A team's webhooks are a team setting: its admins create and delete them, its members read them and their deliveries. */
    private requireTeam(caller: Caller, action: Action, team: string, target = `team:${team}`): Promise<void> {
        return this.access.role(caller, action, target, `the webhooks of team '${team}'`, team);
    }
}

/** An http(s) URL without credentials, or a 422 naming the key, the value and the fix. */
export function checkUrl(value: string): string {
    const refuse = (why: string) => {
        const shown = redact(value);
        throw new UnprocessableError(`url '${shown}' ${why}`, { problems: [{ key: "url", value: shown, message: why }] });
    };
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        return refuse("is not a URL: send an absolute http:// or https:// URL, e.g. https://hooks.example.com/x1");
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
        return refuse(`has scheme '${url.protocol.replace(/:$/, "")}': webhooks are POSTed over http:// or https:// only, e.g. https://hooks.example.com/x1`);
    }
    if (url.username || url.password) {
        return refuse(
            "carries credentials: a URL is shown to everyone who reads the webhook; the receiver authenticates deliveries by their X1-Signature instead",
        );
    }
    return url.toString();
}
