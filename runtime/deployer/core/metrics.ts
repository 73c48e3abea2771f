/**
 * /metrics in the Prometheus text format, with prom-client (one registry per
 * deployer, never the library's global one).
 *
 * Two kinds of series. Counters and histograms of run ends (runs by
 * operation and result, run duration, queue wait) and of webhook attempts
 * count what this replica processed: each run's end is processed by exactly
 * one replica (worker/outcomes.ts), so `sum()` across replicas is the total.
 * Gauges of the shared state (queue depth, oldest queued run, drifted and
 * paused stacks, deliveries by status) are read from the database at scrape
 * time: every replica reports the same value, so aggregate them with `max()`.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { sql } from "kysely";
import { ApprovalsRepository, approvalStatuses } from "../store/approvals";
import type { Db } from "../store/db";
import { deployerScope, PausesRepository } from "../store/pauses";
import type { RunRow } from "../store/runs";
import { SchedulesRepository } from "../store/schedules";
import { deliveryStatuses, WebhooksRepository } from "../store/webhooks";
import type { AttemptOutcome } from "../worker/deliveries";

const prefix = "x1_deployer_";

export class Metrics {
    readonly registry = new Registry();
    private readonly runs: Counter<"operation" | "result">;
    private readonly duration: Histogram<"operation" | "result">;
    private readonly wait: Histogram<"operation">;
    private readonly attempts: Counter<"outcome">;
    private readonly failures: Counter;

    constructor(db: Db) {
        const registers = [this.registry];
        collectDefaultMetrics({ register: this.registry, prefix });
        this.runs = new Counter({
            name: `${prefix}runs_total`,
            help: "Runs that ended, by operation and result (succeeded, failed, cancelled, interrupted, timed_out, expired, superseded)",
            labelNames: ["operation", "result"],
            registers,
        });
        this.duration = new Histogram({
            name: `${prefix}run_duration_seconds`,
            help: "How long runs ran, from start to end, by operation and result",
            labelNames: ["operation", "result"],
            buckets: [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
            registers,
        });
        this.wait = new Histogram({
            name: `${prefix}queue_wait_seconds`,
            help: "How long runs waited in the queue before they started, by operation",
            labelNames: ["operation"],
            buckets: [1, 5, 15, 30, 60, 300, 900, 3600, 14400, 86400],
            registers,
        });
        this.attempts = new Counter({
            name: `${prefix}webhook_attempts_total`,
            help: "Webhook delivery attempts: delivered, retry (failed, tried again later), failed (the last attempt failed: the delivery is given up)",
            labelNames: ["outcome"],
            registers,
        });
        this.failures = new Counter({
            name: `${prefix}webhook_delivery_failures_total`,
            help: "Webhook delivery attempts that failed (the receiver answered non-2xx, hung past the timeout, or could not be reached)",
            registers,
        });

        const schedules = new SchedulesRepository(db);
        const pauses = new PausesRepository(db);
        const webhooks = new WebhooksRepository(db);
        const approvals = new ApprovalsRepository(db);
        new Gauge({
            name: `${prefix}queue_depth`,
            help: "Runs waiting in the queue (all replicas)",
            registers,
            async collect() {
                this.set(await countRuns(db, "queued"));
            },
        });
        new Gauge({
            name: `${prefix}runs_in_progress`,
            help: "Runs running now (all replicas)",
            registers,
            async collect() {
                this.set(await countRuns(db, "running"));
            },
        });
        new Gauge({
            name: `${prefix}queue_oldest_wait_seconds`,
            help: "How long the oldest queued run has waited; 0 when none waits",
            registers,
            async collect() {
                const r = await sql<{ s: number | null }>`
                    SELECT extract(epoch FROM now() - min(created_at))::float8 AS s FROM runs WHERE status = 'queued'`.execute(db);
                this.set(Math.max(0, Number(r.rows[0]?.s ?? 0)));
            },
        });
        new Gauge({
            name: `${prefix}drifted_stacks`,
            help: "Stacks whose latest drift check found drift that no later refreshing up or refresh settled",
            registers,
            async collect() {
                this.set(await schedules.driftedStacks());
            },
        });
        new Gauge({
            name: `${prefix}paused`,
            help: "Pauses in force: scope=deployer is 1 while the whole deployer is paused; scope=stack counts paused stacks",
            labelNames: ["scope"],
            registers,
            async collect() {
                this.set({ scope: "deployer" }, (await pauses.get(deployerScope)) ? 1 : 0);
                this.set({ scope: "stack" }, await pauses.pausedStacks());
            },
        });
        new Gauge({
            name: `${prefix}approvals`,
            help: "Approvals by status (pending: waiting for an approver; expired: nobody decided in time)",
            labelNames: ["status"],
            registers,
            async collect() {
                const counts = await approvals.countByStatus();
                for (const s of approvalStatuses) this.set({ status: s }, counts[s]);
            },
        });
        new Gauge({
            name: `${prefix}webhook_deliveries`,
            help: "Webhook deliveries by status (pending: to be tried or retried; failed: given up)",
            labelNames: ["status"],
            registers,
            async collect() {
                const counts = await webhooks.countByStatus();
                for (const s of deliveryStatuses) this.set({ status: s }, counts[s]);
            },
        });
    }

    /** A run's end, processed once across replicas (worker/outcomes.ts). */
    runEnded(r: Pick<RunRow, "operation" | "status" | "created_at" | "started_at" | "finished_at">): void {
        const labels = { operation: r.operation, result: r.status };
        this.runs.inc(labels);
        if (r.started_at) {
            this.wait.observe({ operation: r.operation }, Math.max(0, (r.started_at.getTime() - r.created_at.getTime()) / 1000));
            if (r.finished_at) this.duration.observe(labels, Math.max(0, (r.finished_at.getTime() - r.started_at.getTime()) / 1000));
        }
    }

    webhookAttempt(outcome: AttemptOutcome): void {
        this.attempts.inc({ outcome });
        if (outcome !== "delivered") this.failures.inc();
    }

    text(): Promise<string> {
        return this.registry.metrics();
    }

    get contentType(): string {
        return this.registry.contentType;
    }
}

async function countRuns(db: Db, status: "queued" | "running"): Promise<number> {
    const r = await db
        .selectFrom("runs")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("status", "=", status)
        .executeTakeFirstOrThrow();
    return Number(r.n);
}
