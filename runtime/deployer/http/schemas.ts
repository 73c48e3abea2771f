/**
 * Request and response schemas of the deployer's HTTP API (zod). They
 * validate every request at the edge and generate the OpenAPI document;
 * every API type the deployer uses is z.infer of one of them.
 */
import { z } from "zod";
import { operations } from "../../engine/stack-runner";
import { secretTiers } from "../../../stacks/schema";
import { workspaceId } from "../../../stacks/schema/workspaces";
import { stackNamePattern } from "../store/stack-files";
import { runStatuses } from "../store/runs";

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
    limit: z.coerce.number().int().min(1).max(500).optional(),
});

export const eventsQuery = z.object({ after: z.coerce.number().int().min(0).optional() });

export const auditOutcomes = ["allowed", "denied", "ok", "error"] as const;
export type AuditOutcome = (typeof auditOutcomes)[number];

export const auditQuery = z.object({
    outcome: z.enum(auditOutcomes).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export const createTokenBody = z.strictObject({
    name: z.string().regex(/^[a-z0-9][-a-z0-9_.]{0,62}$/, { error: "must be a short lower-case name, e.g. portal" }),
    teams: z.array(teamName).default([]),
    admin: z.boolean().default(false),
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
        drift: z.array(resourceChange).nullable(),
        change: configChangeView.nullable(),
        approval: z.object({ approvedBy: z.string(), upRunId: z.string() }).nullable(),
        approvesRunId: z.string().nullable(),
        error: z.string().nullable(),
        message: z.string().nullable(),
        firstEventMs: z.number().nullable(),
        eventCount: z.number(),
        worker: z.object({ host: z.string(), pid: z.number() }).nullable(),
    })
    .describe("a run: one Pulumi operation on one stack");

export type RunView = z.infer<typeof runView>;

export const runResponse = z.object({ run: runView });

export const stackSummary = z.object({
    name: z.string(),
    team: z.string().nullable(),
    valid: z.boolean(),
    problems: z.number(),
    tier: z.string().nullable(),
    workspaces: z.number(),
    lastRun: runView.nullable(),
    activeRuns: z.number(),
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
export type ConfigProblem = StackDetail["problemList"][number];

export const storedEvent = z.object({ seq: z.number(), at: z.string(), kind: z.string(), data: z.record(z.string(), z.unknown()) });
export type StoredEvent = z.infer<typeof storedEvent>;

export const eventList = z.object({
    run: runView,
    events: z.array(storedEvent),
});
