/**
 * Request and response schemas of the deployer's HTTP API (zod). They
 * validate every request at the edge and generate the OpenAPI document;
 * every API type the deployer uses is z.infer of one of them.
 */
import { z } from "zod";
import { operations } from "../../engine/stack-runner";
import { roles } from "../core/roles";
import { secretTiers } from "../../../stacks/schema";
import { workspaceId } from "../../../stacks/schema/workspaces";
import { stackNamePattern } from "../store/stack-files";
import { approvalStatuses, gatedOperations } from "../store/approvals";
import { runStatuses, runTriggers } from "../store/runs";

export const stackName = z.string().regex(stackNamePattern, { error: "must be a stack name: lower-case letters, digits, '-', '_' or '.', at most 40" });
export const runId = z.uuid({ error: "must be a run id (a UUID)" });
/** A team as tokens, stacks and workspaces name it (OIDC groups such as `/payments` or `ops@corp` included). */
export const teamName = z.string().regex(/^[A-Za-z0-9_.@/:-]{1,100}$/, {
    error: "must be a team name: 1-100 letters, digits or _ . @ / : - (no spaces, no control characters)",
});
export const operation = z.enum(operations, { error: `must be one of ${operations.join(", ")}` });
export const runStatus = z.enum(runStatuses, { error: `must be one of ${runStatuses.join(", ")}` });

export const errorBody = z
    .object({
        error: z.string().describe("machine-readable kind: bad_request, unauthorized, forbidden, not_found, conflict, unprocessable, internal"),
        message: z.string().describe("what happened and what to do"),
        requestId: z.string(),
    })
    .loose();

export const idempotencyHeaders = z.looseObject({
    "idempotency-key": z.string().min(1).max(200).optional().describe("repeat a request safely: the same key returns the run it created"),
});

export const stackParams = z.object({ stack: stackName });
export const runParams = z.object({ id: runId });

export const createStackBody = z.strictObject({
    name: stackName,
    from: stackName.describe("the stack whose file is copied: an example no team owns (e.g. local), or a stack the caller may read"),
    team: teamName.describe("the team that owns the new stack"),
});

export const updateConfigBody = z.strictObject({
    config: z.record(z.string(), z.unknown()).describe("the x1agent:* keys without their namespace, e.g. { secrets: { tier: kubernetes } }"),
    revision: z.string().optional().describe("the revision this edit is based on (from GET); refused if the file changed since"),
});

export const setTeamBody = z.strictObject({ team: teamName });

export const createRunBody = z.strictObject({
    operation,
    timeoutSeconds: z
        .int()
        .min(10)
        .optional()
        .describe("cancel the run cleanly after this long (default X1_DEPLOYER_RUN_TIMEOUT_SECONDS, at most X1_DEPLOYER_MAX_RUN_TIMEOUT_SECONDS)"),
    confirm: z.string().optional().describe("destroy only: the stack's name again, since a destroy removes every resource it manages"),
    supersede: z
        .boolean()
        .optional()
        .describe("up only: the stack's older queued plain ups are skipped (recorded `superseded`); this newest one applies the stack as it is then"),
    refresh: z.boolean().optional().describe("up only: refresh the state against the cluster first (`up --refresh`), so out-of-band changes are undone"),
});
export type CreateRunBody = z.infer<typeof createRunBody>;

export const deleteStackQuery = z.object({ confirm: z.string().optional().describe("the stack's name again: deleting destroys its resources") });

export const workspaceBody = z.strictObject({
    id: workspaceId,
    team: teamName.optional(),
    quota: z.strictObject({ cpu: z.string().optional(), memory: z.string().optional(), pods: z.int().min(1).optional() }).optional(),
    egressCidrs: z.array(z.string()).optional(),
    secrets: z.array(z.strictObject({ name: z.string(), remoteKey: z.string(), property: z.string().optional() })).optional(),
});

export type WorkspaceBody = z.infer<typeof workspaceBody>;

export const workspaceParams = z.object({ stack: stackName, workspace: workspaceId });

export const tierUpgradeBody = z.strictObject({
    tier: z.enum(secretTiers),
    vault: z.record(z.string(), z.unknown()).optional(),
    aws: z.record(z.string(), z.unknown()).optional(),
    gcp: z.record(z.string(), z.unknown()).optional(),
    azure: z.record(z.string(), z.unknown()).optional(),
});
export type TierUpgradeBody = z.infer<typeof tierUpgradeBody>;

export const listRunsQuery = z.object({
    stack: stackName.optional(),
    status: runStatus.optional(),
    operation: operation.optional(),
    before: runId.optional().describe("paging: only runs older than this run (the last id of the previous page)"),
    limit: z.coerce.number().int().min(1).max(500).optional(),
});

export const eventsQuery = z.object({ after: z.coerce.number().int().min(0).optional() });

export const auditOutcomes = ["allowed", "denied", "ok", "error"] as const;
export type AuditOutcome = (typeof auditOutcomes)[number];

export const auditQuery = z.object({
    outcome: z.enum(auditOutcomes).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export const role = z.enum(roles, { error: `must be a role: ${roles.join(", ")}` });
export const teamRoles = z.record(teamName, role);

export const createTokenBody = z.strictObject({
    name: z.string().regex(/^[a-z0-9][-a-z0-9_.]{0,62}$/, { error: "must be a short lower-case name, e.g. portal" }),
    teams: z
        .union([teamRoles, z.array(teamName)], {
            error: `must be { <team>: <role> }, each role one of ${roles.join(", ")} (or a list of teams, each with the operator role)`,
        })
        .default({})
        .describe("the token's role per team, { <team>: viewer | operator | approver | admin }; a list of teams means operator in each"),
    admin: z.boolean().default(false).describe("a deployer admin: admin of every team, sees every stack, reads the audit log"),
});

export type CreateTokenBody = z.infer<typeof createTokenBody>;

export const tokenParams = z.object({ id: z.uuid() });

export const resourceChange = z.object({
    op: z.string(),
    type: z.string(),
    name: z.string(),
    urn: z.string(),
    diffs: z.array(z.string()).describe("top-level properties that change"),
});
export type ResourceChange = z.infer<typeof resourceChange>;

export const driftedResource = resourceChange.extend({
    detailedDiff: z.record(z.string(), z.string()).optional().describe("property path -> kind of difference (update, add, delete); never a value"),
});
export type DriftedResource = z.infer<typeof driftedResource>;

export const policyResult = z.object({
    policyPack: z.string(),
    policy: z.string(),
    enforcement: z.string(),
    message: z.string(),
    resource: z.string().nullable().optional().describe("the URN of the resource it was found on; none for a stack policy"),
});
export type PolicyResult = z.infer<typeof policyResult>;

export const policyRecord = z.object({
    applied: z.boolean().describe("whether the policy pack ran with this run"),
    pack: z.string().nullable(),
    note: z.string().optional(),
    results: z.array(policyResult),
    mandatory: z.number(),
    advisory: z.number(),
});
export type PolicyRecord = z.infer<typeof policyRecord>;

export const configChangeKind = z.enum(["workspace-add", "workspace-remove", "tier-upgrade"]);
export const configChangeView = z.object({ kind: configChangeKind, summary: z.string(), baseRevision: z.string() });

export const runView = z
    .object({
        id: z.string(),
        stack: z.string(),
        operation,
        status: runStatus,
        requestedBy: z.string(),
        createdAt: z.string(),
        startedAt: z.string().nullable(),
        finishedAt: z.string().nullable(),
        timeoutSeconds: z.number(),
        queue: z.object({ position: z.number(), waitingFor: z.string() }).optional(),
        cancelRequestedBy: z.string().nullable(),
        counts: z.record(z.string(), z.number()).nullable(),
        outputs: z.record(z.string(), z.unknown()).nullable(),
        changes: z.array(resourceChange),
        policy: policyRecord.nullable(),
        drift: z.array(driftedResource).nullable(),
        change: configChangeView.nullable(),
        approvalId: z.string().nullable().describe("the approval this run previews for, or the approved run of"),
        configRevision: z.string().nullable().describe("the stack file revision the run is pinned to (an approval's runs)"),
        error: z.string().nullable(),
        message: z.string().nullable(),
        firstEventMs: z.number().nullable(),
        eventCount: z.number(),
        worker: z.object({ host: z.string(), pid: z.number() }).nullable(),
        trigger: z.enum(runTriggers).describe("what queued it: a request, the stack's drift schedule, or the remediation of drift"),
        refresh: z.boolean().describe("an up that refreshes the state first"),
        supersededBy: z.string().nullable().describe("the newer up that replaced this queued one"),
    })
    .describe("a run: one Pulumi operation on one stack");

export type RunView = z.infer<typeof runView>;

export const runResponse = z.object({ run: runView });

export const approvalStatus = z.enum(approvalStatuses, { error: `must be one of ${approvalStatuses.join(", ")}` });
export const approvalRef = z.object({ id: z.string(), status: approvalStatus });

/** A request that queues a run: the run, and the approval it waits for when the operation is gated. */
export const queuedResponse = runResponse.extend({
    approval: approvalRef.optional().describe("set when the operation needs approval: the run is its preview"),
});

export const approvalView = z
    .object({
        id: z.string(),
        stack: z.string(),
        team: z.string().nullable(),
        operation: z.enum(gatedOperations),
        removeStack: z.boolean().describe("a destroy that also removes the stack (DELETE /v1/stacks/{stack})"),
        summary: z.string().describe("what is asked, in words"),
        change: configChangeView.nullable().describe("the config change, for a proposed workspace or tier change"),
        configRevision: z.string().describe("the stack file revision previewed; the approved run applies exactly this revision"),
        previewRunId: z.string(),
        preview: z.object({ status: runStatus, counts: z.record(z.string(), z.number()).nullable() }),
        status: approvalStatus,
        requestedBy: z.string(),
        requestedAt: z.string(),
        expiresAt: z.string(),
        decidedBy: z.string().nullable(),
        decidedAt: z.string().nullable(),
        reason: z.string().nullable(),
        runId: z.string().nullable().describe("the run the approval queued"),
    })
    .describe("an approval: a gated up or destroy, or a config change, previewed and waiting for an approver who is not the requester");
export type ApprovalView = z.infer<typeof approvalView>;

export const approvalParams = z.object({ id: z.uuid({ error: "must be an approval id (a UUID)" }) });
export const listApprovalsQuery = z.object({
    stack: stackName.optional(),
    status: approvalStatus.optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
});
export const rejectBody = z.strictObject({ reason: z.string().trim().min(1, { error: "say why it is rejected" }).max(2000) });
export const approvedResponse = z.object({ approval: approvalView, run: runView });

export const approvalPolicyBody = z.strictObject({
    up: z.boolean().describe("an up needs approval"),
    destroy: z.boolean().describe("a destroy (and deleting the stack) needs approval"),
});
export const approvalPolicyView = approvalPolicyBody.extend({
    stack: z.string(),
    source: z.enum(["default", "set"]).describe("default: from the prod-like rule; set: an admin set it"),
    prodLike: z.boolean().describe("the stack's name or cluster.name has the word prod or production"),
    setBy: z.string().nullable(),
    setAt: z.string().nullable(),
});
export type ApprovalPolicyView = z.infer<typeof approvalPolicyView>;

export const meView = z.object({
    subject: z.string(),
    admin: z.boolean().describe("a deployer admin: admin of every team"),
    teams: z.array(z.object({ team: z.string(), role })),
});

export const pauseView = z.object({
    scope: z.enum(["stack", "deployer"]).describe("a pause of this stack, or of the whole deployer"),
    reason: z.string(),
    by: z.string(),
    at: z.string(),
});
export type PauseView = z.infer<typeof pauseView>;

export const stackSummary = z.object({
    name: z.string(),
    team: z.string().nullable(),
    valid: z.boolean(),
    problems: z.number(),
    tier: z.string().nullable(),
    workspaces: z.number(),
    lastRun: runView.nullable(),
    lastUp: runView.nullable().describe("the stack's last `up` (any status): what its resources were last applied from"),
    appliesToCluster: z.boolean().describe("whether the stack applies to a cluster (refresh and destroy need one); false when it renders to a directory"),
    activeRuns: z.number(),
    paused: pauseView.nullable().describe("why nothing starts on this stack: its own pause or the deployer's (scope says which); null when runs start"),
});

export type StackSummary = z.infer<typeof stackSummary>;

export const stackList = z.object({ stacks: z.array(stackSummary) });

export const stackDetail = stackSummary.extend({
    revision: z.string(),
    config: z.record(z.string(), z.unknown()),
    problemList: z.array(z.object({ key: z.string(), value: z.string(), message: z.string() })),
    outputs: z.record(z.string(), z.unknown()).nullable(),
    lock: z.object({
        runningRunId: z.string().nullable(),
        queuedRuns: z.number(),
        engine: z.object({
            inspectable: z.boolean(),
            holders: z.array(z.object({ pid: z.number(), host: z.string(), since: z.string(), alive: z.boolean().nullable() })),
        }),
    }),
});

export type StackDetail = z.infer<typeof stackDetail>;

export const stackLockView = z.object({
    stack: z.string(),
    backend: z.enum(["file", "postgres", "other"]).describe("where the engine keeps this stack's state (and its lock)"),
    inspectable: z.boolean().describe("false: a backend whose lock the deployer cannot read (pulumi cancel clears it)"),
    runningRunId: z.string().nullable().describe("the run of this deployer that holds the lock now"),
    holders: z.array(
        z.object({
            pid: z.number(),
            user: z.string(),
            host: z.string(),
            since: z.string(),
            alive: z.boolean().nullable().describe("whether that process still runs; null: on another host, unknown"),
        }),
    ),
});
export type StackLockView = z.infer<typeof stackLockView>;
export type ConfigProblem = StackDetail["problemList"][number];

export const storedEvent = z.object({ seq: z.number(), at: z.string(), kind: z.string(), data: z.record(z.string(), z.unknown()) });
export type StoredEvent = z.infer<typeof storedEvent>;

export const eventList = z.object({
    run: runView,
    events: z.array(storedEvent),
});

// ---- operations: pause, schedules and drift, webhooks ----

export const pauseBody = z.strictObject({ reason: z.string().trim().min(1).max(500).describe("why: shown to everyone who looks at the stack or its queue") });

export const stackPauseResponse = z.object({
    stack: z.string(),
    paused: pauseView.nullable(),
    runningRunId: z.string().nullable().describe("a run already running is let finish; nothing new starts while paused"),
    queuedRuns: z.number(),
});

export const deployerPauseResponse = z.object({
    paused: pauseView.nullable(),
    runningRuns: z.array(z.string()).describe("runs already running are let finish; nothing new starts while paused"),
    queuedRuns: z.number(),
});

export const driftScheduleBody = z.strictObject({
    cron: z
        .string()
        .describe(
            'when to check, a cron pattern in UTC: five fields (minute hour day-of-month month day-of-week), e.g. "0 */6 * * *", or six with seconds first',
        ),
    remediate: z
        .boolean()
        .default(false)
        .describe("queue an up (refreshing first) when a scheduled check finds drift; through approval when the stack's ups are gated"),
});

export const scheduleBody = z.strictObject({
    drift: driftScheduleBody.nullable().describe("null removes the schedule"),
});
export type ScheduleBody = z.infer<typeof scheduleBody>;

export const scheduleView = z.object({
    stack: z.string(),
    drift: z
        .object({
            cron: z.string(),
            remediate: z.boolean(),
            nextCheckAt: z.string().nullable(),
            updatedBy: z.string(),
            updatedAt: z.string(),
        })
        .nullable(),
    recentSlots: z
        .array(
            z.object({
                slot: z.string().describe("the due time the check belongs to"),
                claimedBy: z.string().describe("the worker id of the one replica that claimed it"),
                runId: z.string().nullable(),
                outcome: z.string().nullable().describe("queued, or why no check was queued (the previous one still active); null while being settled"),
            }),
        )
        .describe("the latest slots, newest first: each claimed once across replicas"),
});
export type ScheduleView = z.infer<typeof scheduleView>;

export const driftReport = z.object({
    stack: z.string(),
    schedule: scheduleView.shape.drift,
    latest: z
        .object({
            runId: z.string(),
            status: runStatus,
            trigger: z.enum(runTriggers),
            checkedAt: z.string().nullable().describe("when the check ended"),
            drifted: z.boolean().nullable().describe("null when the check did not complete"),
            resources: z.array(driftedResource),
            error: z.string().nullable(),
            remediation: z.object({ runId: z.string(), status: runStatus }).nullable(),
        })
        .nullable()
        .describe("the latest drift check that ended; null before the first"),
});
export type DriftReport = z.infer<typeof driftReport>;

export const webhookEvents = ["run.succeeded", "run.failed", "run.cancelled", "drift.found", "approval.needed", "approval.expired"] as const;
export type WebhookEvent = (typeof webhookEvents)[number];

export const createWebhookBody = z.strictObject({
    team: teamName.describe("the team whose stacks' events it receives"),
    url: z.string().max(2000).describe("an http:// or https:// URL that receives POSTs"),
    events: z
        .array(z.enum(webhookEvents, { error: `must be one of ${webhookEvents.join(", ")}` }))
        .min(1)
        .optional()
        .describe("default: every event"),
    description: z.string().max(200).optional(),
});
export type CreateWebhookBody = z.infer<typeof createWebhookBody>;

export const webhookParams = z.object({ id: z.uuid({ error: "must be a webhook id (a UUID)" }) });

export const webhookView = z.object({
    id: z.string(),
    team: z.string(),
    url: z.string(),
    events: z.array(z.enum(webhookEvents)),
    description: z.string().nullable(),
    createdBy: z.string(),
    createdAt: z.string(),
});
export type WebhookView = z.infer<typeof webhookView>;

export const createdWebhook = webhookView.extend({
    secret: z.string().describe("the HMAC-SHA256 signing secret: shown once, store it with the receiver"),
});

export const deliveryAttempt = z.object({
    at: z.string(),
    status: z.number().nullable().describe("the receiver's HTTP status; null when none came"),
    error: z.string().nullable(),
    durationMs: z.number(),
});

export const deliveryView = z.object({
    id: z.string().describe("the X1-Delivery header: the same on every attempt"),
    webhookId: z.string(),
    event: z.enum(webhookEvents),
    stack: z.string().nullable(),
    runId: z.string().nullable(),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.array(deliveryAttempt),
    nextAttemptAt: z.string().nullable(),
    lastStatus: z.number().nullable(),
    lastError: z.string().nullable(),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
    payload: z.record(z.string(), z.unknown()).describe("the body sent"),
});
export type DeliveryView = z.infer<typeof deliveryView>;
