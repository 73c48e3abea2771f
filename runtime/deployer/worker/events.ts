/**
 * Engine events as the deployer keeps them: a projection of each Automation
 * API event that drops resource input/output values (they may hold secret
 * material) and keeps what operators read: the operation on each resource,
 * which properties change, diagnostics, policy results and the summary.
 * The recorder stores them in order and wakes live SSE readers.
 */
import type { EngineEvent, StepEventMetadata } from "@pulumi/pulumi/automation";
import { type ChangeCounts, changeKinds, countChanges, stackChangeOf, stackResourceType } from "../../engine/stack-runner";
import type { DriftedResource, PolicyResult, ResourceChange } from "../http/schemas";
import type { Logger } from "../log";
import { redact, redactDeep } from "../redact";
import type { EventsRepository } from "../store/events";

function step(meta: StepEventMetadata) {
    return {
        op: meta.op,
        urn: meta.urn,
        type: meta.type,
        name: meta.urn.split("::").pop() ?? meta.urn,
        diffs: meta.diffs ?? [],
        replaceKeys: meta.keys ?? [],
        detailedDiff: meta.detailedDiff ? Object.fromEntries(Object.entries(meta.detailedDiff).map(([k, v]) => [k, v.diffKind])) : undefined,
    };
}

/** The stored shape of one engine event, or undefined for events not worth keeping. */
export function projectEvent(e: EngineEvent): { kind: string; data: Record<string, unknown> } | undefined {
    if (e.preludeEvent) return { kind: "prelude", data: { configKeys: Object.keys(e.preludeEvent.config ?? {}).length } };
    if (e.resourcePreEvent) return { kind: "resource-pre", data: step(e.resourcePreEvent.metadata) };
    if (e.resOutputsEvent) return { kind: "resource-done", data: step(e.resOutputsEvent.metadata) };
    if (e.resOpFailedEvent) return { kind: "resource-failed", data: { ...step(e.resOpFailedEvent.metadata), status: e.resOpFailedEvent.status } };
    if (e.diagnosticEvent) {
        const d = e.diagnosticEvent;
        // Debug lines and transient status lines are noise in a run's record.
        if ((d.severity as string) === "debug" || (d.ephemeral && d.severity !== "error")) return undefined;
        return { kind: "diagnostic", data: { severity: d.severity, message: redact(d.message).trim(), urn: d.urn ?? null } };
    }
    if (e.policyEvent) {
        const p = e.policyEvent;
        return {
            kind: "policy",
            data: {
                policyPack: p.policyPackName,
                policy: p.policyName,
                enforcement: p.enforcementLevel,
                message: redact(p.message).trim(),
                resource: p.resourceUrn ?? null,
            },
        };
    }
    if (e.summaryEvent) {
        const s = e.summaryEvent;
        return {
            kind: "summary",
            data: { resourceChanges: s.resourceChanges, durationSeconds: s.durationSeconds, maybeCorrupt: s.maybeCorrupt, policyPacks: s.policyPacks },
        };
    }
    // The engine ends every event stream with a cancelEvent: a marker, not a cancellation.
    if (e.cancelEvent) return undefined;
    if (e.stdoutEvent) return { kind: "stdout", data: { message: redact(e.stdoutEvent.message).trim() } };
    return undefined;
}

/** What a run's events add up to: the diff, the policy results, the drift, what the engine did. */
export class EventDigest {
    readonly changes: ResourceChange[] = [];
    readonly policy: PolicyResult[] = [];
    /** Drifted resources by URN: a preview-only refresh may report a resource in more than one event. */
    private readonly drifted = new Map<string, DriftedResource>();
    readonly errors: string[] = [];
    /** Steps the engine finished, by kind: what a run that stopped early did. */
    private readonly done: ChangeCounts = { create: 0, update: 0, same: 0, delete: 0, replace: 0 };
    /** The engine's own totals, from its summary event (sent on failure too); they include the stack's own resource. */
    private summary?: Partial<ChangeCounts>;
    /** The step of the stack's own resource (pulumi:pulumi:Stack), once the engine reported it. */
    private stackStep?: string;

    /** What a refresh or a drift check found changed outside Pulumi: each resource, its changed properties (never their values). */
    get drift(): DriftedResource[] {
        return [...this.drifted.values()];
    }

    /** Changes to the platform's resources the engine made, as far as its events tell (the stack's own resource is not counted). */
    counts(): ChangeCounts {
        if (!this.summary) return { ...this.done };
        return countChanges(this.summary, this.stackStep);
    }

    /** What the stack's own resource did, when that is a change (`create` on the first up, `delete` on a destroy). */
    get stackChange(): string | null {
        return stackChangeOf(this.stackStep);
    }

    /**
     * Takes in one projected event; returns the event to store. The engine's
     * summary is stored as the run's counts are (the platform's resources)
     * with `stackChange`, so a run's log, its counts and its diff agree.
     */
    add(kind: string, data: Record<string, unknown>, operation: string): Record<string, unknown> {
        const isStack = data.type === stackResourceType;
        if ((kind === "resource-pre" || kind === "resource-done") && isStack) this.stackStep = String(data.op);
        if (kind === "resource-done" && !isStack && (changeKinds as readonly string[]).includes(String(data.op))) {
            this.done[data.op as keyof ChangeCounts] += 1;
        }
        if (kind === "summary") {
            this.summary = data.resourceChanges as Partial<ChangeCounts>;
            return { ...data, resourceChanges: this.counts(), stackChange: this.stackChange };
        }
        if (kind === "resource-pre" && data.op !== "same" && data.op !== "read" && data.op !== "refresh" && !isStack) {
            this.changes.push(change(data));
        }
        // A refresh reports drift when its step is done; a preview-only refresh (drift) may say it on either event.
        const reportsDrift =
            (kind === "resource-done" && operation === "refresh") || ((kind === "resource-done" || kind === "resource-pre") && operation === "drift");
        if (reportsDrift && !isStack) {
            const op = data.op as string;
            const diffs = data.diffs as string[];
            if (op === "update" || op === "delete" || (op === "refresh" && diffs.length > 0)) {
                const detailedDiff = data.detailedDiff as Record<string, string> | undefined;
                this.drifted.set(String(data.urn), { ...change(data), ...(detailedDiff ? { detailedDiff } : {}) });
            }
        }
        if (kind === "policy") this.policy.push(data as unknown as PolicyResult);
        if (kind === "diagnostic" && data.severity === "error") this.errors.push(String(data.message));
        return data;
    }
}

function change(data: Record<string, unknown>): ResourceChange {
    return { op: String(data.op), type: String(data.type), name: String(data.name), urn: String(data.urn), diffs: (data.diffs as string[]) ?? [] };
}

/**
 * Stores a run's events in arrival order, in small batches (one insert per
 * batch, at most every 150 ms), and tells listeners when new ones landed.
 * A batch that fails to store is kept and tried again with the next one, so
 * one database hiccup loses nothing and does not stop later writes; `flush`
 * reports the failure to the caller.
 */
export class EventRecorder {
    private pending: { run_id: string; seq: number; at: Date; kind: string; data: string }[] = [];
    private seq: number;
    private timer?: NodeJS.Timeout;
    private writing: Promise<void> = Promise.resolve();
    /** When the first engine event arrived (ms since epoch). */
    firstEventAt?: number;

    private readonly events: EventsRepository;
    private readonly runId: string;
    private readonly notify: () => void;
    private readonly log: Logger;

    constructor(events: EventsRepository, runId: string, startSeq: number, notify: () => void, log: Logger) {
        this.events = events;
        this.runId = runId;
        this.notify = notify;
        this.log = log;
        this.seq = startSeq;
    }

    get count(): number {
        return this.seq;
    }

    push(kind: string, data: Record<string, unknown>): void {
        this.firstEventAt ??= Date.now();
        this.seq += 1;
        this.pending.push({ run_id: this.runId, seq: this.seq, at: new Date(), kind, data: JSON.stringify(redactDeep(data)) });
        this.timer ??= setTimeout(() => {
            this.timer = undefined;
            this.flush().catch((err: unknown) => this.log.warn({ err }, "storing engine events failed; they are kept and tried again with the next batch"));
        }, 150);
    }

    /** Writes what is pending; resolves when every event pushed so far is stored, rejects (keeping them) when the database refused. */
    flush(): Promise<void> {
        if (this.timer) {
            clearTimeout(this.timer);
            this.timer = undefined;
        }
        const write = this.writing.then(async () => {
            const batch = this.pending;
            if (batch.length === 0) return;
            this.pending = [];
            try {
                await this.events.append(this.runId, batch);
            } catch (err) {
                this.pending = [...batch, ...this.pending];
                throw err;
            }
            this.notify();
        });
        // The chain goes on after a failure: the next flush tries again.
        this.writing = write.catch(() => undefined);
        return write;
    }
}
