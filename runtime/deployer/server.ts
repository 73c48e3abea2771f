/**
 * Starts the deployer: settings from the environment (validated), the
 * database (embedded PGlite by default, PostgreSQL when
 * X1_DEPLOYER_DATABASE_URL is set), recovery of runs a crash interrupted,
 * the HTTP API, and a graceful shutdown on SIGTERM/SIGINT (stop accepting,
 * let runs finish for a grace period, then cancel them cleanly).
 *
 *   npm run deployer            # or: npm run x1 -- deployer serve
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { projectRoot } from "../engine/project";
import { parseGroupRoles } from "./core/roles";
import type { OidcSettings } from "./core/tokens";
import { defaultApprovalMaxAgeSeconds, defaultMaxTimeoutSeconds, Deployer, type DeployerOptions, runLimits } from "./deployer";
import { buildApp } from "./http/app";
import { createLogger, logLevels } from "./log";
import { deployerPaths } from "./paths";

const int = (fallback: number, min: number) => z.coerce.number().int().min(min).default(fallback);

export const settingsSchema = z.object({
    X1_DEPLOYER_HOST: z.string().default("127.0.0.1"),
    X1_DEPLOYER_PORT: int(8780, 0),
    X1_DEPLOYER_DATABASE_URL: z
        .string()
        .regex(/^postgres(ql)?:\/\//, { error: "must be a postgres:// URL; leave it unset for the embedded database" })
        .optional(),
    X1_DEPLOYER_DATA_DIR: z.string().default(path.join(projectRoot, ".x1", "deployer")),
    /** The project the deployer runs (its stacks/ and policies/ inside); default this repository. */
    X1_DEPLOYER_PROJECT_DIR: z.string().default(projectRoot),
    X1_DEPLOYER_MAX_RUNS: int(2, 1),
    X1_DEPLOYER_RUN_TIMEOUT_SECONDS: int(1800, 10),
    X1_DEPLOYER_MAX_RUN_TIMEOUT_SECONDS: int(defaultMaxTimeoutSeconds, 10),
    X1_DEPLOYER_STALE_SECONDS: int(20, 3),
    X1_DEPLOYER_SHUTDOWN_GRACE_SECONDS: int(25, 0),
    X1_DEPLOYER_LOG_LEVEL: z.enum(logLevels).default("info"),
    /** Queued runs older than this end as `expired`; 0 never. */
    X1_DEPLOYER_QUEUED_MAX_AGE_SECONDS: int(86_400, 0),
    X1_DEPLOYER_SCHEDULE_MIN_INTERVAL_SECONDS: int(60, 1),
    X1_DEPLOYER_WEBHOOK_TIMEOUT_SECONDS: int(10, 1),
    X1_DEPLOYER_WEBHOOK_MAX_ATTEMPTS: int(6, 1),
    /** The bearer token /metrics asks for; unset: /metrics answers loopback clients only. */
    X1_DEPLOYER_METRICS_TOKEN: z.string().min(16, { error: "must be at least 16 characters (it guards /metrics)" }).optional(),
    X1_OIDC_ISSUER: z.url().optional(),
    X1_OIDC_AUDIENCE: z.string().optional(),
    X1_OIDC_JWKS_URL: z.url().optional(),
    X1_OIDC_TEAMS_CLAIM: z.string().optional(),
    X1_OIDC_ADMIN_TEAM: z.string().optional(),
    /** OIDC groups to team roles, `group=team:role,...` (core/roles.ts); unset: every group is a team with the operator role. */
    X1_OIDC_GROUP_ROLES: z
        .string()
        .optional()
        .transform((text, ctx) => {
            if (text === undefined) return undefined;
            try {
                return parseGroupRoles(text);
            } catch (err) {
                ctx.addIssue({ code: "custom", message: (err as Error).message });
                return z.NEVER;
            }
        }),
    X1_DEPLOYER_APPROVAL_MAX_AGE_SECONDS: int(defaultApprovalMaxAgeSeconds, 60),
});
export type Settings = z.infer<typeof settingsSchema>;

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
    const r = settingsSchema.safeParse(env);
    if (!r.success) {
        throw new Error(`deployer settings are invalid:\n${r.error.issues.map((i) => `  - ${i.path.join(".")}: ${i.message}`).join("\n")}`);
    }
    if (r.data.X1_OIDC_ISSUER && !r.data.X1_OIDC_AUDIENCE)
        throw new Error("deployer settings are invalid:\n  - X1_OIDC_AUDIENCE: is required with X1_OIDC_ISSUER");
    try {
        runLimits(deployerOptions(r.data));
    } catch (err) {
        throw new Error(`deployer settings are invalid:\n  - ${(err as Error).message}`);
    }
    return r.data;
}

export function deployerOptions(settings: Settings): DeployerOptions {
    const oidc: OidcSettings | undefined = settings.X1_OIDC_ISSUER
        ? {
              issuer: settings.X1_OIDC_ISSUER,
              audience: settings.X1_OIDC_AUDIENCE!,
              jwksUrl: settings.X1_OIDC_JWKS_URL,
              teamsClaim: settings.X1_OIDC_TEAMS_CLAIM,
              adminTeam: settings.X1_OIDC_ADMIN_TEAM,
              groupRoles: settings.X1_OIDC_GROUP_ROLES,
          }
        : undefined;
    return {
        database: settings.X1_DEPLOYER_DATABASE_URL
            ? { kind: "postgres", url: settings.X1_DEPLOYER_DATABASE_URL }
            : { kind: "embedded", dir: path.join(settings.X1_DEPLOYER_DATA_DIR, "db") },
        paths: deployerPaths(settings.X1_DEPLOYER_PROJECT_DIR),
        maxConcurrentRuns: settings.X1_DEPLOYER_MAX_RUNS,
        defaultTimeoutSeconds: settings.X1_DEPLOYER_RUN_TIMEOUT_SECONDS,
        maxTimeoutSeconds: settings.X1_DEPLOYER_MAX_RUN_TIMEOUT_SECONDS,
        staleAfterSeconds: settings.X1_DEPLOYER_STALE_SECONDS,
        approvalMaxAgeSeconds: settings.X1_DEPLOYER_APPROVAL_MAX_AGE_SECONDS,
        oidc,
        queuedMaxAgeSeconds: settings.X1_DEPLOYER_QUEUED_MAX_AGE_SECONDS,
        scheduleMinIntervalSeconds: settings.X1_DEPLOYER_SCHEDULE_MIN_INTERVAL_SECONDS,
        webhooks: { timeoutMs: settings.X1_DEPLOYER_WEBHOOK_TIMEOUT_SECONDS * 1000, maxAttempts: settings.X1_DEPLOYER_WEBHOOK_MAX_ATTEMPTS },
    };
}

/** Runs the deployer until SIGTERM/SIGINT. */
export async function serve(env: NodeJS.ProcessEnv = process.env): Promise<void> {
    const settings = readSettings(env);
    const logger = createLogger({ level: settings.X1_DEPLOYER_LOG_LEVEL });
    const deployer = await Deployer.start({ ...deployerOptions(settings), logger });
    const app = await buildApp({ deployer, metricsToken: settings.X1_DEPLOYER_METRICS_TOKEN });

    // First start: no token exists yet. Issue an admin token into a 0600 file
    // (never into the log) so an operator can create the portal's tokens.
    if ((await deployer.tokenCount()) === 0) {
        mkdirSync(settings.X1_DEPLOYER_DATA_DIR, { recursive: true });
        const file = path.join(settings.X1_DEPLOYER_DATA_DIR, "admin-token");
        const issued = await deployer.bootstrapToken("admin");
        writeFileSync(file, `${issued.token}\n`, { mode: 0o600 });
        chmodSync(file, 0o600);
        app.log.info(`no tokens yet: issued an admin token into ${file} (mode 0600); create team tokens with POST /v1/tokens`);
    }

    const address = await app.listen({ host: settings.X1_DEPLOYER_HOST, port: settings.X1_DEPLOYER_PORT });
    console.log(
        `x1 deployer listening on ${address} (database: ${deployer.database.kind} ${deployer.database.location}; at most ${settings.X1_DEPLOYER_MAX_RUNS} runs at once; console ${address}/console/)`,
    );

    let stopping = false;
    const shutdown = async (signal: string) => {
        if (stopping) {
            console.error(`${signal} again: exiting now; runs in progress are marked interrupted on the next start`);
            process.exit(130);
        }
        stopping = true;
        console.log(
            `${signal}: shutting down: no new requests; runs in progress get ${settings.X1_DEPLOYER_SHUTDOWN_GRACE_SECONDS}s to finish, then are cancelled cleanly`,
        );
        await app.close();
        await deployer.stop(settings.X1_DEPLOYER_SHUTDOWN_GRACE_SECONDS * 1000);
        console.log("deployer stopped");
        process.exit(0);
    };
    process.on("SIGTERM", () => void shutdown("SIGTERM"));
    process.on("SIGINT", () => void shutdown("SIGINT"));
}

if (require.main === module) {
    serve().catch((err: unknown) => {
        console.error(`x1 deployer: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
    });
}
