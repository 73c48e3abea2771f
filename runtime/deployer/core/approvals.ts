/**
 * Approvals: the one mechanism for everything that needs a second person.
 *
 * A stack's approval policy says whether its `up` and its `destroy` need
 * approval (prod-like stacks: both, unless an admin set otherwise); a
 * proposed config change (a workspace added or removed, a tier upgrade)
 * always does. Such a request queues a preview (a destroy: a destroy
 * preview) pinned to the stack file's revision, and an approval waiting for
 * it. An approver of the stack's team who is not the requester approves it
 * once the preview succeeded; the approved run is pinned to the same
 * revision, so it applies exactly what was previewed. A stack file changed
 * since the preview invalidates the approval (409 naming both revisions);
 * an approval not decided within the configured age expires. Every
 * decision, refusal and expiry is audited.
 */
import { randomUUID } from "node:crypto";
import { ConflictError, NotFoundError } from "../errors";
import type { ApprovalPolicyView, ApprovalView, CreateRunBody } from "../http/schemas";
import type { Logger } from "../log";
import { type ApprovalFilter, type ApprovalRow, type ApprovalsRepository, type ApprovalStatus, type GatedOperation, gatedOperations } from "../store/approvals";
import type { OwnersRepository } from "../store/owners";
import { changeOf, type RunTrigger, type RunsRepository } from "../store/runs";
import { type StackFiles, x1ConfigOf } from "../store/stack-files";
import { type Access, type Caller, teamsOf } from "./access";
import type { AuditLog } from "./audit";
import type { Notifications } from "./notifications";
import type { ConfigChange } from "./proposals";
import type { EnqueueArgs, Queued, Runs } from "./runs";
import type { Principal } from "./tokens";

/** Who acts when the deployer itself decides (an expiry). */
const deployerCaller: Caller = { principal: { subject: "deployer", roles: {}, admin: true } satisfies Principal };

/**
 * The prod-like rule: a stack is prod-like when its name or its
 * `cluster.name` has the word `prod` or `production` (words split on
 * anything but letters and digits), e.g. `prod`, `payments-prod`, or a copy
 * of `prod` under another name (its cluster is still `x1agent-prod`).
 */
export function prodLike(stack: string, text: string): boolean {
    const cluster = clusterName(stack, text);
    const words = `${stack} ${typeof cluster === "string" ? cluster : ""}`.toLowerCase().split(/[^a-z0-9]+/);
    return words.includes("prod") || words.includes("production");
}

/** The stack's `cluster.name`; none when the file does not parse (the stack's name alone decides then). */
function clusterName(stack: string, text: string): unknown {
    try {
        return (x1ConfigOf(text, stack).cluster as { name?: unknown } | undefined)?.name;
    } catch {
        return undefined;
    }
}

export interface ApprovalsDeps {
    repo: ApprovalsRepository;
    runsRepo: RunsRepository;
    runs: Runs;
    owners: OwnersRepository;
    files: StackFiles;
    access: Access;
    audit: AuditLog;
    log: Logger;
    /** An approval not decided within this many seconds expires. */
    maxAgeSeconds: number;
    /** Tells the team's webhooks an approval is needed, or expired (core/notifications.ts). */
    notifications?: Pick<Notifications, "emit">;
    /** Tells followers of a run (SSE, the console) that it changed. */
    changed?: (runId: string) => void;
}

/** What a gated request asks for, beyond the run it would queue. */
interface ApprovalRequest extends EnqueueArgs {
    operation: GatedOperation;
    summary: string;
}

export class Approvals {
    private readonly d: ApprovalsDeps;

    constructor(deps: ApprovalsDeps) {
        this.d = deps;
    }

    // ---- policy ----

    async policy(caller: Caller, stack: string): Promise<ApprovalPolicyView> {
        await this.d.access.stack(caller, "read", stack);
        return this.policyOf(stack);
    }

    async setPolicy(caller: Caller, stack: string, policy: { up: boolean; destroy: boolean }): Promise<ApprovalPolicyView> {
        await this.d.access.stack(caller, "set-approval-policy", stack);
        await this.d.repo.setPolicy(stack, policy, caller.principal.subject);
        await this.d.audit.record(
            caller,
            "set-approval-policy",
            `stack:${stack}`,
            "ok",
            `up ${policy.up ? "gated" : "not gated"}, destroy ${policy.destroy ? "gated" : "not gated"}`,
        );
        return this.policyOf(stack);
    }

    private async policyOf(stack: string): Promise<ApprovalPolicyView> {
        const isProd = prodLike(stack, this.d.files.read(stack).text);
        const row = await this.d.repo.policy(stack);
        return row
            ? { stack, up: row.up, destroy: row.destroy, source: "set", prodLike: isProd, setBy: row.set_by, setAt: row.set_at.toISOString() }
            : { stack, up: isProd, destroy: isProd, source: "default", prodLike: isProd, setBy: null, setAt: null };
    }

    // ---- requests ----

    /** A run request (POST /v1/stacks/{stack}/runs): queued at once, or as a preview and an approval when the policy gates it. */
    async requestRun(caller: Caller, stack: string, args: CreateRunBody & { idempotencyKey?: string }): Promise<Queued> {
        await this.d.runs.check(caller, stack, args);
        return this.queue(caller, {
            stack,
            operation: args.operation,
            timeoutSeconds: args.timeoutSeconds,
            idempotencyKey: args.idempotencyKey,
            refresh: args.refresh,
            supersede: args.supersede,
        });
    }

    /** Queues an authorized run, through an approval when the stack's policy gates its operation. */
    async queue(caller: Caller, args: EnqueueArgs): Promise<Queued> {
        const op = args.operation;
        if (!isGated(op) || !(await this.policyOf(args.stack))[op]) return this.d.runs.enqueue(caller, args);
        const summary = args.removeStack ? `destroy and remove stack '${args.stack}'` : `${op} stack '${args.stack}'`;
        return this.request(caller, { ...args, operation: op, summary });
    }

    /** A proposed config change: always previewed and approved before an `up` applies it. */
    proposeChange(caller: Caller, stack: string, change: ConfigChange, idempotencyKey?: string): Promise<Queued> {
        return this.request(caller, { stack, operation: "up", change, summary: change.summary, idempotencyKey });
    }

    /** Queues the preview of a gated operation, pinned to the stack file's revision, and the approval that waits for it. */
    private async request(caller: Caller, args: ApprovalRequest): Promise<Queued> {
        const revision = args.change?.baseRevision ?? this.d.files.read(args.stack).revision;
        const id = randomUUID();
        const preview = await this.d.runs.enqueue(caller, {
            ...args,
            operation: args.operation === "up" ? "preview" : "preview-destroy",
            removeStack: false,
            approvalId: id,
            configRevision: revision,
        });
        if (!preview.created) {
            // An Idempotency-Key already used: the approval that request made.
            const existing = await this.d.repo.byPreview(preview.run.id);
            return { ...preview, approval: existing ? { id: existing.id, status: existing.status as ApprovalStatus } : undefined };
        }
        await this.d.repo.insert({
            id,
            stack: args.stack,
            team: (await this.d.owners.of(args.stack))?.team ?? null,
            operation: args.operation,
            remove_stack: args.removeStack ?? false,
            summary: args.summary,
            config_revision: revision,
            preview_run_id: preview.run.id,
            status: "pending",
            requested_by: caller.principal.subject,
            expires_at: new Date(Date.now() + this.d.maxAgeSeconds * 1000),
        });
        await this.d.audit.record(caller, "request-approval", `approval:${id}`, "ok", `${args.summary} at revision ${revision}; preview run ${preview.run.id}`);
        const row = await this.d.repo.byId(id);
        const previewRow = await this.d.runsRepo.byId(preview.run.id);
        if (row) await this.d.notifications?.emit("approval.needed", { team: row.team, stack: args.stack, approval: await this.view(row), run: previewRow });
        return { ...preview, approval: { id, status: "pending" } };
    }

    // ---- reading ----

    async list(caller: Caller, filter: Omit<ApprovalFilter, "teams">): Promise<ApprovalView[]> {
        await this.expireOverdue();
        if (filter.stack) await this.d.access.stack(caller, "read", filter.stack);
        const rows = await this.d.repo.list({ ...filter, teams: caller.principal.admin ? undefined : teamsOf(caller.principal) });
        return Promise.all(rows.map((r) => this.view(r)));
    }

    async get(caller: Caller, id: string): Promise<ApprovalView> {
        await this.expireOverdue();
        const row = await this.row(id);
        await this.authorize(caller, "read", row);
        return this.view(row);
    }

    // ---- decisions ----

    /** Approves a pending approval whose preview succeeded: queues the run it gates, pinned to the previewed revision. */
    async approve(caller: Caller, id: string): Promise<{ approval: ApprovalView; run: Queued["run"] }> {
        await this.expireOverdue();
        const row = await this.row(id);
        await this.authorize(caller, "approve", row);
        const subject = caller.principal.subject;
        if (row.requested_by === subject) {
            await this.d.access.deny(
                caller,
                "approve",
                `approval:${id}`,
                `${subject} requested this ${row.operation} and may not approve it: an approver who is not the requester approves it, someone with the approver or admin role in team '${row.team ?? "(none)"}' (or a deployer admin)`,
            );
        }
        this.refuseDecided(row);
        const preview = await this.d.runsRepo.byId(row.preview_run_id);
        if (preview?.status === "queued" || preview?.status === "running") {
            throw new ConflictError(
                `approval ${id} waits for its preview run ${preview.id}, still ${preview.status}: approve it when the preview has succeeded`,
            );
        }
        if (preview?.status !== "succeeded") {
            await this.invalidate(caller, row, `its preview run ${row.preview_run_id} ${preview?.status ?? "is gone"}: request the ${row.operation} again`);
        }
        const current = this.d.files.read(row.stack).revision;
        if (current !== row.config_revision) {
            await this.invalidate(
                caller,
                row,
                `stacks/Pulumi.${row.stack}.yaml changed since the preview: revision ${row.config_revision} was previewed and approval was asked for it, the file is now at revision ${current}; request the ${row.operation} again to preview revision ${current}`,
            );
        }
        if (!(await this.d.repo.decide(id, "approved", subject, null))) this.refuseDecided((await this.d.repo.byId(id)) ?? row);
        let queued: Queued;
        try {
            queued = await this.d.runs.enqueue(caller, {
                stack: row.stack,
                operation: row.operation as GatedOperation,
                change: (preview && changeOf(preview)) ?? undefined,
                removeStack: row.remove_stack,
                approvalId: id,
                configRevision: row.config_revision,
                timeoutSeconds: preview?.timeout_seconds,
                // A remediation's preview refreshed first: so does the up it approves.
                refresh: preview?.refresh_first || undefined,
                trigger: (preview?.trigger as RunTrigger | undefined) ?? "request",
            });
        } catch (err) {
            await this.d.repo.undoApprove(id);
            throw err;
        }
        await this.d.repo.setRun(id, queued.run.id);
        await this.d.audit.record(
            caller,
            "approve",
            `approval:${id}`,
            "ok",
            `${row.summary} at revision ${row.config_revision}, requested by ${row.requested_by}; run ${queued.run.id}`,
        );
        this.d.log.info({ reqId: caller.requestId, approvalId: id, runId: queued.run.id, by: subject }, "approval approved");
        return { approval: await this.view(await this.row(id)), run: queued.run };
    }

    /** Rejects a pending approval (an approver), or withdraws it (its requester). */
    async reject(caller: Caller, id: string, reason: string): Promise<ApprovalView> {
        await this.expireOverdue();
        const row = await this.row(id);
        const own = row.requested_by === caller.principal.subject;
        await this.authorize(caller, own ? "read" : "reject", row);
        this.refuseDecided(row);
        if (!(await this.d.repo.decide(id, "rejected", caller.principal.subject, reason))) this.refuseDecided((await this.d.repo.byId(id)) ?? row);
        await this.d.audit.record(caller, own ? "withdraw-approval" : "reject", `approval:${id}`, "ok", `${row.summary}: ${reason}`);
        return this.view(await this.row(id));
    }

    /**
     * Marks approvals past their age expired: on a timer (the worker's
     * outcomes pass, worker/outcomes.ts) and before approvals are read or
     * decided. Each expiry happens once across replicas (one UPDATE ...
     * RETURNING), is audited, ends its preview as `expired` when that never
     * started (a paused stack), and is announced (approval.expired).
     */
    async expireOverdue(): Promise<number> {
        const expired = await this.d.repo.expireOverdue(`not decided within ${this.d.maxAgeSeconds}s (X1_DEPLOYER_APPROVAL_MAX_AGE_SECONDS)`);
        for (const a of expired) {
            const previewEnded = await this.d.runsRepo.expireOne(
                a.preview_run_id,
                `its approval ${a.id} expired (not decided within ${this.d.maxAgeSeconds}s) before this preview started: nothing was run; request the ${a.operation} again`,
            );
            if (previewEnded) this.d.changed?.(a.preview_run_id);
            await this.d.audit.record(
                deployerCaller,
                "expire-approval",
                `approval:${a.id}`,
                "ok",
                `${a.summary}, requested by ${a.requested_by} at ${a.requested_at.toISOString()}${previewEnded ? `; its queued preview ${a.preview_run_id} ended as expired` : ""}`,
            );
            this.d.log.info({ approvalId: a.id, stack: a.stack, previewRunId: a.preview_run_id }, "approval expired");
            const preview = await this.d.runsRepo.byId(a.preview_run_id);
            await this.d.notifications?.emit("approval.expired", { team: a.team, stack: a.stack, approval: await this.view(a), run: preview });
        }
        return expired.length;
    }

    // ---- helpers ----

    private async authorize(caller: Caller, action: "read" | "approve" | "reject", row: ApprovalRow): Promise<void> {
        await this.d.access.onStackOf(caller, action, `approval:${row.id}`, `approval ${row.id}`, row.stack, row.team);
    }

    /** 409 for an approval already decided, saying how and what to do. */
    private refuseDecided(row: ApprovalRow): void {
        if (row.status === "pending") return;
        const when = row.decided_at?.toISOString() ?? "?";
        const how =
            row.status === "approved"
                ? `approved by ${row.decided_by} at ${when}${row.run_id ? `; its run is ${row.run_id}` : ""}`
                : row.status === "rejected"
                  ? `rejected by ${row.decided_by} at ${when}: ${row.reason}`
                  : row.status === "expired"
                    ? `expired at ${when}, ${row.reason}; request the ${row.operation} again`
                    : `invalidated at ${when}: ${row.reason}`;
        throw new ConflictError(`approval ${row.id} is already ${row.status}: ${how}`, { status: row.status });
    }

    /** Marks the approval invalidated (audited) and answers 409 with the reason. */
    private async invalidate(caller: Caller, row: ApprovalRow, reason: string): Promise<never> {
        if (await this.d.repo.decide(row.id, "invalidated", caller.principal.subject, reason)) {
            await this.d.audit.record(caller, "invalidate-approval", `approval:${row.id}`, "ok", reason);
        }
        throw new ConflictError(`approval ${row.id} cannot be approved: ${reason}`, { status: "invalidated" });
    }

    private async row(id: string): Promise<ApprovalRow> {
        const row = /^[0-9a-f-]{36}$/.test(id) ? await this.d.repo.byId(id) : undefined;
        if (!row) throw new NotFoundError(`no approval '${id}'`);
        return row;
    }

    private async view(r: ApprovalRow): Promise<ApprovalView> {
        const preview = await this.d.runsRepo.byId(r.preview_run_id);
        const change = preview ? changeOf(preview) : null;
        return {
            id: r.id,
            stack: r.stack,
            team: r.team,
            operation: r.operation as GatedOperation,
            removeStack: r.remove_stack,
            summary: r.summary,
            change: change ? { kind: change.kind, summary: change.summary, baseRevision: change.baseRevision } : null,
            configRevision: r.config_revision,
            previewRunId: r.preview_run_id,
            preview: {
                status: (preview?.status ?? "cancelled") as ApprovalView["preview"]["status"],
                counts: preview?.counts_json ? (JSON.parse(preview.counts_json) as Record<string, number>) : null,
            },
            status: r.status as ApprovalStatus,
            requestedBy: r.requested_by,
            requestedAt: r.requested_at.toISOString(),
            expiresAt: r.expires_at.toISOString(),
            decidedBy: r.decided_by,
            decidedAt: r.decided_at?.toISOString() ?? null,
            reason: r.reason,
            runId: r.run_id,
        };
    }
}

function isGated(op: string): op is GatedOperation {
    return (gatedOperations as readonly string[]).includes(op);
}
