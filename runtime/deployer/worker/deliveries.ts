/**
 * Sends webhook deliveries (the outbox core/notifications.ts fills), on every
 * replica that works the queue: each due delivery is leased by one replica
 * for the length of one attempt, POSTed with its signature, and recorded.
 * A receiver that answers anything but 2xx, hangs past the timeout or cannot
 * be reached is tried again after an exponential backoff (base, 2x base,
 * 4x base, ... up to a cap), at most `maxAttempts` times; then the delivery
 * is `failed`. Redirects are not followed (a 3xx is a failed attempt).
 */
import { PassLoop } from "./pass-loop";
import type { Logger } from "../log";
import { redact } from "../redact";
import type { DeliveryAttempt, DeliveryRow, WebhooksRepository } from "../store/webhooks";
import { deliveryHeader, eventHeader, signatureHeader, signPayload } from "../core/notifications";

export interface DeliveryOptions {
    /** How long a receiver may take to answer one attempt. Default 10 s. */
    timeoutMs: number;
    /** Attempts before a delivery is given up as failed. Default 6. */
    maxAttempts: number;
    /** Delay before the second attempt; doubled for each further one. Default 5 s. */
    retryBaseMs: number;
    /** The longest delay between two attempts. Default 10 min. */
    retryMaxMs: number;
}

export const defaultDeliveryOptions: DeliveryOptions = { timeoutMs: 10_000, maxAttempts: 6, retryBaseMs: 5_000, retryMaxMs: 600_000 };

/** What an attempt came to, for /metrics. */
export type AttemptOutcome = "delivered" | "retry" | "failed";

/** The delay before attempt `attempts + 1`, after `attempts` failed ones. */
export function retryDelayMs(attempts: number, o: Pick<DeliveryOptions, "retryBaseMs" | "retryMaxMs">): number {
    return Math.min(o.retryBaseMs * 2 ** Math.max(0, attempts - 1), o.retryMaxMs);
}

export class WebhookSender {
    private readonly repo: WebhooksRepository;
    private readonly holder: string;
    private readonly options: DeliveryOptions;
    private readonly log: Logger;
    private readonly onAttempt: (outcome: AttemptOutcome) => void;
    private readonly loop = new PassLoop(
        () => this.pass(),
        (err: unknown) => this.log.error({ err }, "sending webhook deliveries failed; the next pass tries again"),
    );

    constructor(deps: { repo: WebhooksRepository; holder: string; options: DeliveryOptions; log: Logger; onAttempt: (outcome: AttemptOutcome) => void }) {
        this.repo = deps.repo;
        this.holder = deps.holder;
        this.options = deps.options;
        this.log = deps.log.child({ component: "webhooks" });
        this.onAttempt = deps.onAttempt;
    }

    start(everyMs: number): void {
        this.loop.start(everyMs);
    }

    /** Runs a pass now (one at a time; a wake during a pass runs another). */
    wake(): void {
        this.loop.wake();
    }

    /** Stops; the pass in flight ends first. */
    stop(): Promise<void> {
        return this.loop.stop();
    }

    private async pass(): Promise<void> {
        for (;;) {
            const due = await this.repo.leaseDue(this.holder, this.options.timeoutMs + 5_000, 10);
            if (due.length === 0) return;
            await Promise.all(due.map((d) => this.attempt(d)));
        }
    }

    private async attempt(d: DeliveryRow & { url: string; secret: string }): Promise<void> {
        const started = Date.now();
        let status: number | null = null;
        let error: string | null = null;
        try {
            const res = await fetch(d.url, {
                method: "POST",
                headers: {
                    "content-type": "application/json",
                    "user-agent": "x1agent-deployer",
                    [signatureHeader]: signPayload(d.secret, d.payload, Math.floor(started / 1000)),
                    [deliveryHeader]: d.id,
                    [eventHeader]: d.event,
                },
                body: d.payload,
                redirect: "manual",
                signal: AbortSignal.timeout(this.options.timeoutMs),
            });
            status = res.status;
            await res.body?.cancel();
            if (res.status < 200 || res.status > 299) error = `the receiver answered HTTP ${res.status}`;
        } catch (err) {
            const e = err as Error & { cause?: { code?: string; message?: string } };
            error =
                e.name === "TimeoutError" || e.name === "AbortError"
                    ? `no answer within ${this.options.timeoutMs} ms`
                    : `could not reach the receiver: ${redact(e.cause?.code ?? e.cause?.message ?? e.message)}`;
        }
        const attempt: DeliveryAttempt = { at: new Date(started).toISOString(), status, error, durationMs: Date.now() - started };
        const attempts = d.attempts + 1;
        const delivered = error === null;
        const retryAt = !delivered && attempts < this.options.maxAttempts ? new Date(Date.now() + retryDelayMs(attempts, this.options)) : undefined;
        await this.repo.recordAttempt(d, this.holder, attempt, { delivered, retryAt });
        const outcome: AttemptOutcome = delivered ? "delivered" : retryAt ? "retry" : "failed";
        this.onAttempt(outcome);
        const fields = { deliveryId: d.id, event: d.event, attempt: attempts, status, durationMs: attempt.durationMs };
        if (delivered) this.log.info(fields, "webhook delivered");
        else this.log.warn({ ...fields, error, retryAt }, retryAt ? "webhook attempt failed; retried later" : "webhook delivery failed for good");
    }
}
