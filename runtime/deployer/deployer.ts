/**
 * The deployer as a library, the one entry point the HTTP API, the CLI and
 * the tests use: it opens the database, composes the services (core/),
 * their repositories (store/) and the worker (worker/), recovers runs a
 * crash interrupted and works the queue.
 */
import { postgresStateUrl } from "../engine/backend";
import type { OidcSettings } from "./core/tokens";
import { Access, type Caller } from "./core/access";
import { Approvals } from "./core/approvals";
import { StackLocks } from "./core/locks";
import { AuditLog } from "./core/audit";
import { Metrics } from "./core/metrics";
import { Notifications } from "./core/notifications";
import { Pauses } from "./core/pause";
import { Schedules } from "./core/schedules";
import { Proposals } from "./core/proposals";
import { type Queued, type RunLimits, Runs } from "./core/runs";
import type { TeamRoles } from "./core/roles";
import { Stacks } from "./core/stacks";
import { type IssuedToken, Tokens } from "./core/tokens";
import type { CreateRunBody } from "./http/schemas";
import { createLogger, type Logger } from "./log";
import { type DeployerPaths, deployerPaths } from "./paths";
import { registerEnvironmentSecrets } from "./redact";
import { ApprovalsRepository } from "./store/approvals";
import { IdempotencyRepository } from "./store/idempotency";
import { AuditRepository } from "./store/audit";
import { type Database, type DatabaseOptions, openDatabase } from "./store/db";
import { EventsRepository } from "./store/events";
import { OwnersRepository } from "./store/owners";
import { PausesRepository } from "./store/pauses";
import { RunsRepository } from "./store/runs";
import { StackConfigsRepository } from "./store/stack-configs";
import { SchedulesRepository } from "./store/schedules";
import { StackFiles } from "./store/stack-files";
import { TokensRepository } from "./store/tokens";
import { WebhooksRepository } from "./store/webhooks";
import { RunBus } from "./worker/bus";
import { type DeliveryOptions, defaultDeliveryOptions, WebhookSender } from "./worker/deliveries";
import { RunOutcomes } from "./worker/outcomes";
import { RunQueue } from "./worker/queue";
import { Scheduler } from "./worker/scheduler";
import { Worker } from "./worker/worker";

export type { Caller } from "./core/access";
export type { RunView, StackDetail, StackSummary } from "./http/schemas";

/** The longest run timeout by default; a request may not ask for more. */
export const defaultMaxTimeoutSeconds = 7200;

/** How long an approval waits for a decision by default: a day. */
export const defaultApprovalMaxAgeSeconds = 86_400;

export interface DeployerOptions {
    database: DatabaseOptions;
    /** The project, its stacks and the policy pack (paths.ts); default this repository. */
    paths?: DeployerPaths;
    /** Runs in progress at once across every replica sharing the database. Default 2. */
    maxConcurrentRuns?: number;
    /** Timeout of a run when the request names none. Default 1800 s. */
    defaultTimeoutSeconds?: number;
    /** Longest timeout a request may ask for; at least the default. Default 7200 s. */
    maxTimeoutSeconds?: number;
    /** A replica silent this long is presumed dead. Default 20 s. */
    staleAfterSeconds?: number;
    oidc?: OidcSettings;
    /** An approval not decided within this many seconds expires. Default a day. */
    approvalMaxAgeSeconds?: number;
    /** Default 1000 ms. */
    pollIntervalMs?: number;
    /** Work the queue in this process (default true); false serves the API only, leaving runs to other replicas. */
    runWorker?: boolean;
    /** The structured log (log.ts); default info level on stdout. */
    logger?: Logger;
    /** Queued runs older than this end as `expired` (audited); 0 never. Default 86400 s. */
    queuedMaxAgeSeconds?: number;
    /** The shortest interval a drift schedule may fire at. Default 60 s. */
    scheduleMinIntervalSeconds?: number;
    /** Webhook delivery: timeout, attempts, backoff (worker/deliveries.ts). */
    webhooks?: Partial<DeliveryOptions>;
}

export class Deployer {
    readonly database: Database;
    readonly paths: DeployerPaths;
    readonly log: Logger;
    readonly bus = new RunBus();
    readonly queue: RunQueue;
    readonly worker: Worker;
    readonly files: StackFiles;
    readonly audit: AuditLog;
    readonly access: Access;
    readonly tokens: Tokens;
    readonly runs: Runs;
    readonly stacks: Stacks;
    readonly approvals: Approvals;
    readonly proposals: Proposals;
    readonly pauses: Pauses;
    readonly schedules: Schedules;
    readonly notifications: Notifications;
    readonly metrics: Metrics;
    readonly scheduler: Scheduler;
    readonly sender: WebhookSender;
    readonly outcomes: RunOutcomes;
    /** Stacks' engine locks: who holds one, clearing a stale one. */
    readonly locks: StackLocks;
    /** The first answers to Idempotency-Keys of requests that queue no run (http/idempotency.ts). */
    readonly idempotency: IdempotencyRepository;
    private readonly runWorker: boolean;
    private readonly pollIntervalMs: number;

    private constructor(database: Database, options: DeployerOptions, log: Logger, limits: RunLimits) {
        this.database = database;
        this.log = log;
        this.paths = statePaths(options.paths ?? deployerPaths(), options.database);
        const db = database.db;
        const runsRepo = new RunsRepository(db);
        const events = new EventsRepository(db);
        const owners = new OwnersRepository(db);
        // On PostgreSQL the stack config is shared by every replica through the database (store/stack-configs.ts).
        this.files = new StackFiles(this.paths.stacksDir, database.kind === "postgres" ? { configs: new StackConfigsRepository(db), log } : undefined);
        this.queue = new RunQueue(db, options.maxConcurrentRuns ?? 2);
        this.worker = new Worker(
            { db, queue: this.queue, events, owners, files: this.files, bus: this.bus, paths: this.paths, log },
            { staleAfterSeconds: options.staleAfterSeconds ?? 20, pollIntervalMs: options.pollIntervalMs ?? 1000, lockedRetries: 60 },
        );
        this.audit = new AuditLog(new AuditRepository(db));
        this.idempotency = new IdempotencyRepository(db);
        this.access = new Access(owners, this.files, this.audit);
        this.tokens = new Tokens(new TokensRepository(db), this.access, this.audit, options.oidc);
        this.runs = new Runs({
            repo: runsRepo,
            events,
            owners,
            files: this.files,
            access: this.access,
            audit: this.audit,
            queue: this.queue,
            control: this.worker,
            bus: this.bus,
            limits,
            log,
        });
        // Webhooks and metrics first: approvals and run ends tell the webhooks.
        this.runWorker = options.runWorker ?? true;
        this.pollIntervalMs = options.pollIntervalMs ?? 1000;
        this.metrics = new Metrics(db);
        const webhooks = new WebhooksRepository(db);
        this.sender = new WebhookSender({
            repo: webhooks,
            holder: this.worker.identity.id,
            options: { ...defaultDeliveryOptions, ...options.webhooks },
            log,
            onAttempt: (outcome) => this.metrics.webhookAttempt(outcome),
        });
        this.notifications = new Notifications({ repo: webhooks, access: this.access, audit: this.audit, log, wake: () => this.sender.wake() });
        this.approvals = new Approvals({
            repo: new ApprovalsRepository(db),
            runsRepo,
            runs: this.runs,
            owners,
            files: this.files,
            access: this.access,
            audit: this.audit,
            log,
            maxAgeSeconds: options.approvalMaxAgeSeconds ?? defaultApprovalMaxAgeSeconds,
            notifications: this.notifications,
            changed: (id) => this.bus.changed(id),
        });
        this.pauses = new Pauses({ repo: new PausesRepository(db), runs: runsRepo, access: this.access, audit: this.audit, control: this.worker });
        this.stacks = new Stacks(this.files, owners, runsRepo, this.runs, this.approvals, this.access, this.audit, this.pauses, this.paths.backendUrl);
        this.proposals = new Proposals(this.files, this.approvals, this.access);
        this.locks = new StackLocks({
            db,
            runs: runsRepo,
            access: this.access,
            audit: this.audit,
            backendUrl: this.paths.backendUrl,
            stateInDatabase: options.database.kind === "postgres" && this.paths.backendUrl === postgresStateUrl(options.database.url),
        });

        // Drift schedules, and what follows a run's end.
        const schedulesRepo = new SchedulesRepository(db);
        this.schedules = new Schedules({
            repo: schedulesRepo,
            files: this.files,
            owners,
            access: this.access,
            audit: this.audit,
            runs: this.runs,
            log,
            minIntervalSeconds: options.scheduleMinIntervalSeconds ?? 60,
            approvals: this.approvals,
        });
        this.scheduler = new Scheduler({ schedules: this.schedules, repo: schedulesRepo, holder: this.worker.identity.id, log });
        this.worker.resumeSlots = (stale) => this.scheduler.resumeUnsettled(stale);
        this.outcomes = new RunOutcomes({
            db,
            runs: runsRepo,
            owners,
            notifications: this.notifications,
            schedules: this.schedules,
            metrics: this.metrics,
            audit: this.audit,
            bus: this.bus,
            log,
            queuedMaxAgeSeconds: options.queuedMaxAgeSeconds ?? 86_400,
            approvals: this.approvals,
        });
    }

    /** Checks the limits, opens the database, recovers runs interrupted by a crash, and starts working the queue. */
    static async start(options: DeployerOptions): Promise<Deployer> {
        const limits = runLimits(options);
        registerEnvironmentSecrets();
        const log = options.logger ?? createLogger();
        const database = await openDatabase(options.database, log);
        const deployer = new Deployer(database, options, log, limits);
        await deployer.files.sync();
        await deployer.notifications.registerSecrets();
        if (deployer.runWorker) {
            await deployer.worker.start();
            deployer.scheduler.start(deployer.pollIntervalMs);
            deployer.outcomes.start(deployer.pollIntervalMs);
            deployer.sender.start(deployer.pollIntervalMs);
        }
        return deployer;
    }

    /** Stops taking work, lets runs finish for `graceMs` (then cancels them cleanly), closes the database. */
    async stop(graceMs = 25_000): Promise<void> {
        await this.scheduler.stop();
        await this.worker.stop(graceMs);
        // The ends of the last runs are processed (metrics, webhooks) before the sender stops.
        if (this.runWorker) await this.outcomes.pass().catch((err: unknown) => this.log.error({ err }, "processing the last ended runs failed"));
        await this.outcomes.stop();
        await this.sender.stop();
        await this.database.close();
    }

    /** Queues a run on a stack for a caller (as POST /v1/stacks/{stack}/runs does): through an approval when the stack gates it. */
    createRun(caller: Caller, stack: string, args: CreateRunBody & { idempotencyKey?: string }): Promise<Queued> {
        return this.approvals.requestRun(caller, stack, args);
    }

    /** Issues a token without a caller: for the first start and the CLI (`x1 deployer token`). */
    bootstrapToken(name: string, roles: TeamRoles = {}, admin = true): Promise<IssuedToken> {
        return this.tokens.bootstrap(name, roles, admin);
    }

    tokenCount(): Promise<number> {
        return this.tokens.liveCount();
    }
}

/** The run timeouts, checked once: a default over the maximum would refuse every run that names none. */
export function runLimits(options: Pick<DeployerOptions, "defaultTimeoutSeconds" | "maxTimeoutSeconds">): RunLimits {
    const limits = { defaultTimeoutSeconds: options.defaultTimeoutSeconds ?? 1800, maxTimeoutSeconds: options.maxTimeoutSeconds ?? defaultMaxTimeoutSeconds };
    if (limits.defaultTimeoutSeconds > limits.maxTimeoutSeconds) {
        throw new Error(
            `the default run timeout ${limits.defaultTimeoutSeconds}s (X1_DEPLOYER_RUN_TIMEOUT_SECONDS) is over the longest allowed, ${limits.maxTimeoutSeconds}s (X1_DEPLOYER_MAX_RUN_TIMEOUT_SECONDS): lower the first or raise the second`,
        );
    }
    return limits;
}

/**
 * Where the engine keeps state: the paths' own backend when given, else
 * `PULUMI_BACKEND_URL` when set; else, on PostgreSQL, that database (the
 * CLI's postgres:// backend, in a schema of its own), so replicas share
 * state with nothing but the database; else the project's file backend.
 */
export function statePaths(paths: DeployerPaths, database: DatabaseOptions, env: NodeJS.ProcessEnv = process.env): DeployerPaths {
    if (paths.backendUrl || env.PULUMI_BACKEND_URL || database.kind !== "postgres") return paths;
    return { ...paths, backendUrl: postgresStateUrl(database.url) };
}
