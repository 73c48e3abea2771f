/**
 * One claimed run, start to end: the stack is read and validated once (as
 * the proposed copy for a config change) and that target is carried through
 * the engine run, the stack file update and the removal of a deleted stack.
 * An approved change is written to the stack file as soon as the engine
 * returns, before anything else can fail; events are stored as they come
 * and flushed at the end; the run record says what happened and what to do.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { type ChangeCounts, type Operation, prepareStack, pulumiCommand, runOperation, type StackTarget } from "../../engine/stack-runner";
import type { PolicyRecord } from "../http/schemas";
import type { DeployerPaths } from "../paths";
import { redact } from "../redact";
import type { Db } from "../store/db";
import { ApprovalsRepository } from "../store/approvals";
import { changeOf, type RunRow } from "../store/runs";
import { proposedConfigFile } from "../store/stack-files";
import { clearStaleEngineLock, engineLock } from "./engine-lock";
import { EventDigest, EventRecorder, projectEvent } from "./events";
import type { WorkerIdentity } from "./queue";
import type { WorkerDeps } from "./worker";

export type AbortReason = "cancel" | "timeout" | "shutdown";

export interface ActiveRun {
    controller: AbortController;
    reason?: AbortReason;
    done: Promise<void>;
}

class LockedByOtherProcess extends Error {}

export interface ExecutorDeps extends WorkerDeps {
    identity: WorkerIdentity;
    /** Retries while something outside the deployer holds the stack's lock (5 s apart). */
    lockedRetries: number;
}

export async function executeRun(d: ExecutorDeps, run: RunRow, entry: ActiveRun): Promise<void> {
    const log = d.log.child({ runId: run.id, reqId: run.request_id ?? undefined, stack: run.stack, operation: run.operation });
    const operation = run.operation as Operation;
    const recorder = new EventRecorder(d.events, run.id, run.event_count, () => d.bus.changed(run.id), log);
    const digest = new EventDigest();
    const timer = setTimeout(() => {
        entry.reason ??= "timeout";
        entry.controller.abort();
    }, run.timeout_seconds * 1000);
    const change = changeOf(run);
    const policy = policyRecord(d.paths);
    let proposed: { file: string; cleanup: () => void } | undefined;
    let target: StackTarget | undefined;
    let message: string | null = null;
    /** The stack file as the run found it (the engine may re-encode it to write the salt: StackFiles.keepLayout). */
    let before: string | undefined;
    log.info({ attempt: run.attempts }, "run started");
    try {
        // This replica's working copy gets the stack file as the shared database has it (several replicas).
        await d.files.sync(run.stack);
        before = d.files.read(run.stack).text;
        await checkEngineLock(d, run.stack);
        if (change) {
            const current = d.files.read(run.stack);
            if (current.revision !== change.baseRevision) {
                throw new Error(
                    `stacks/Pulumi.${run.stack}.yaml changed since this change was proposed (revision ${change.baseRevision}, now ${current.revision}): propose the change again`,
                );
            }
            proposed = proposedConfigFile(run.stack, change.proposedText);
        } else if (run.config_revision) {
            // An approval's run: exactly the revision that was previewed, from a copy read once.
            const current = d.files.read(run.stack);
            if (current.revision !== run.config_revision) {
                throw new Error(
                    `stacks/Pulumi.${run.stack}.yaml changed since approval was asked (revision ${run.config_revision}, now ${current.revision}): request the ${run.operation === "preview-destroy" ? "destroy" : run.operation === "preview" ? "up" : run.operation} again`,
                );
            }
            proposed = proposedConfigFile(run.stack, current.text);
        }
        target = prepareStack(run.stack, { ...d.paths, configFile: proposed?.file });
        entry.controller.signal.throwIfAborted();
        const result = await runOperation(target, operation, {
            onEvent: (e) => {
                const p = projectEvent(e);
                if (!p) return;
                recorder.push(p.kind, digest.add(p.kind, p.data, operation));
            },
            policyPacks: policy.applied && policy.pack ? [policy.pack] : undefined,
            signal: entry.controller.signal,
            refresh: run.refresh_first,
            // Remediation puts back what kubectl changed: fields kubectl's field manager took over are taken back.
            takeFieldOwnership: run.trigger === "remediation",
        });
        // The cluster has the change now: the stack file must say so before anything else can fail.
        if (change && operation === "up") {
            await d.files.write(run.stack, change.proposedText, change.baseRevision);
            message = `config change applied: ${change.summary}; stacks/Pulumi.${run.stack}.yaml updated`;
        }
        if (run.remove_stack && operation === "destroy") {
            await removeStack(d, target);
            message = `stack '${run.stack}' destroyed and removed (state and stacks/Pulumi.${run.stack}.yaml)`;
        }
        await flushPatiently(recorder);
        await finish(
            d,
            run,
            "succeeded",
            { counts_json: JSON.stringify(result.counts), outputs_json: operation === "up" ? JSON.stringify(result.outputs) : null, message },
            digest,
            policy,
            recorder,
        );
        log.info({ counts: result.counts, durationMs: result.durationMs }, "run succeeded");
    } catch (err) {
        await recorder.flush().catch((e: unknown) => log.error({ err: e }, "storing the run's last engine events failed"));
        if ((err instanceof LockedByOtherProcess || isConcurrentUpdate(err)) && run.attempts < d.lockedRetries && !entry.reason) {
            const why = redact((err as Error).message.split("\n")[0] ?? "");
            await d.queue.requeue(run.id, d.identity, 5, `waiting: ${why}`);
            log.info({ why }, "stack locked outside the deployer: run back in the queue");
            return;
        }
        const status =
            entry.reason === "timeout" ? "timed_out" : entry.reason === "cancel" ? "cancelled" : entry.reason === "shutdown" ? "interrupted" : "failed";
        const canceller = entry.reason === "cancel" ? await cancelledBy(d.db, run.id) : null;
        // An up or destroy that stopped early has changed what it reached: say what, and what to do.
        const counts = digest.counts();
        const partial = (operation === "up" || operation === "destroy") && counts.create + counts.update + counts.delete + counts.replace > 0;
        const error = describeFailure(err, digest, entry.reason, run, canceller);
        await finish(
            d,
            run,
            status,
            { counts_json: JSON.stringify(counts), error, message: partial ? partlyApplied(operation, counts) : message },
            digest,
            policy,
            recorder,
        );
        log.warn({ status, counts, error: redact(error) }, `run ${status}`);
    } finally {
        clearTimeout(timer);
        proposed?.cleanup();
        if (before !== undefined) {
            try {
                d.files.keepLayout(run.stack, before);
            } catch (err) {
                log.error({ err }, "restoring the stack file's layout after the engine wrote its salt failed");
            }
        }
        // A first run wrote the stack's encryptionsalt into this working copy: share it now, before another replica runs the stack.
        await d.files.sync(run.stack).catch((err: unknown) => log.error({ err }, "syncing the stack file with the shared database failed"));
    }
}

/**
 * This worker holds the stack's slot in the queue, so a lock left by a dead
 * engine is stale: clear it. A live holder is a process outside the deployer
 * (an operator's `pulumi up`): wait for it.
 */
async function checkEngineLock(d: ExecutorDeps, stack: string): Promise<void> {
    const lock = engineLock(stack, d.paths.backendUrl);
    if (!lock.inspectable || lock.holders.length === 0) return;
    const result = await clearStaleEngineLock(stack, () => prepareStack(stack, d.paths), d.paths.backendUrl);
    if (!result.cleared) throw new LockedByOtherProcess(`${result.note}; the run waits for it`);
}

/** The run's last events, tried a few times: a database that failed a moment ago may be back. */
async function flushPatiently(recorder: EventRecorder, attempts = 4): Promise<void> {
    for (let i = 1; ; i++) {
        try {
            return await recorder.flush();
        } catch (err) {
            if (i >= attempts) throw err;
            await new Promise((r) => setTimeout(r, 1000 * i));
        }
    }
}

async function cancelledBy(db: Db, id: string): Promise<string | null> {
    const row = await db.selectFrom("runs").select("cancel_requested_by").where("id", "=", id).executeTakeFirst();
    return row?.cancel_requested_by ?? null;
}

/** The pack applied to every run: policies/run-pack starts it with any language host (the offline-built one cannot start a pack folder itself). */
function policyRecord(paths: DeployerPaths): PolicyRecord {
    const dir = paths.policyPackDir;
    const pack = existsSync(path.join(dir, "run-pack")) ? path.join(dir, "run-pack") : dir;
    if (existsSync(path.join(dir, "PulumiPolicy.yaml"))) return { applied: true, pack, results: [], mandatory: 0, advisory: 0 };
    return {
        applied: false,
        pack: null,
        note: `no policy pack at ${path.relative(paths.projectRoot, dir) || dir}/PulumiPolicy.yaml`,
        results: [],
        mandatory: 0,
        advisory: 0,
    };
}

async function finish(
    d: ExecutorDeps,
    run: RunRow,
    status: string,
    fields: { counts_json?: string | null; outputs_json?: string | null; error?: string; message: string | null },
    digest: EventDigest,
    policy: PolicyRecord,
    recorder: EventRecorder,
): Promise<void> {
    const mandatory = digest.policy.filter((p) => p.enforcement === "mandatory").length;
    const record: PolicyRecord = { ...policy, results: digest.policy, mandatory, advisory: digest.policy.length - mandatory };
    await d.db
        .updateTable("runs")
        .set({
            status,
            finished_at: new Date(),
            counts_json: fields.counts_json ?? null,
            outputs_json: fields.outputs_json ?? null,
            changes_json: JSON.stringify(digest.changes),
            drift_json: run.operation === "refresh" || run.operation === "drift" ? JSON.stringify(digest.drift) : null,
            policy_json: JSON.stringify(record),
            error: fields.error ? redact(fields.error) : null,
            message: fields.message,
            first_event_ms: recorder.firstEventAt ? recorder.firstEventAt - run.created_at.getTime() : null,
            event_count: recorder.count,
        })
        .where("id", "=", run.id)
        .where("worker_id", "=", d.identity.id)
        .where("status", "=", "running")
        .execute();
}

async function removeStack(d: ExecutorDeps, target: StackTarget): Promise<void> {
    const ws = await LocalWorkspace.create({ workDir: target.workDir, pulumiCommand: await pulumiCommand(), envVars: target.env });
    await ws.removeStack(target.name);
    await d.files.remove(target.name);
    await d.owners.remove(target.name);
    await new ApprovalsRepository(d.db).removePolicy(target.name);
}

function isConcurrentUpdate(err: unknown): boolean {
    const text = err instanceof Error ? err.message : String(err);
    return err?.constructor?.name === "ConcurrentUpdateError" || /currently locked by|Another update is currently in progress/.test(text);
}

/** The run's message when an up or destroy stopped after changing resources. */
function partlyApplied(operation: Operation, counts: ChangeCounts): string {
    const did = `${counts.create} created, ${counts.update} updated, ${counts.replace} replaced, ${counts.delete} deleted`;
    return `the stack is partly ${operation === "up" ? "applied" : "destroyed"}: the engine ${did} before the ${operation} stopped; fix the cause in the error, then run a preview to see what is left and ${operation} again`;
}

/** A short, secret-free account of why a run did not succeed. */
function describeFailure(err: unknown, digest: EventDigest, reason: AbortReason | undefined, run: RunRow, canceller: string | null): string {
    if (reason === "cancel") return `cancelled by ${canceller ?? "request"}; the engine stopped cleanly and released the stack`;
    if (reason === "timeout") return `timed out after ${run.timeout_seconds}s; the engine was cancelled cleanly and released the stack`;
    if (reason === "shutdown") return "the deployer shut down during this run; the engine was cancelled cleanly; start the run again";
    const mandatory = digest.policy.filter((p) => p.enforcement === "mandatory");
    if (mandatory.length > 0) {
        // One line per policy and message, naming the resources it was found on.
        const byCause = new Map<string, string[]>();
        for (const p of mandatory) {
            const cause = `${p.policy}: ${p.message.split("\n")[0]}`;
            byCause.set(cause, [...(byCause.get(cause) ?? []), p.resource ? (p.resource.split("::").pop() ?? p.resource) : "the stack"]);
        }
        const lines = [...byCause].map(([cause, on]) => `- ${cause} (on ${[...new Set(on)].join(", ")})`);
        return `policy violations (${mandatory.length} mandatory):\n${lines.join("\n")}`;
    }
    if (digest.errors.length > 0) {
        // The engine repeats one cause per resource: say each distinct one once, with how often.
        const counts = new Map<string, number>();
        for (const e of digest.errors) {
            const line = e.split("\n").slice(0, 12).join("\n");
            counts.set(line, (counts.get(line) ?? 0) + 1);
        }
        return [...counts].map(([line, n]) => (n > 1 ? `${line} (${n} resources)` : line)).join("\n");
    }
    const text = err instanceof Error ? err.message : String(err);
    return text
        .split("\n")
        .filter((l) => l.trim())
        .slice(-12)
        .join("\n");
}
