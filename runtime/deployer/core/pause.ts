/**
 * Pause: of one stack (its team or an admin) or of the whole deployer
 * (admins). While paused, runs stay queued and nothing new starts (the
 * queue's claim skips them, worker/queue.ts); a run already running is let
 * finish. The reason is shown on the stack and in every queued run's place.
 * Pausing and resuming are audited.
 */
import { NotFoundError } from "../errors";
import type { PauseView } from "../http/schemas";
import { deployerScope, type PausesRepository, pauseView } from "../store/pauses";
import type { RunsRepository } from "../store/runs";
import type { Access, Caller } from "./access";
import type { AuditLog } from "./audit";
import type { RunControl } from "./runs";

export interface PauseDeps {
    repo: PausesRepository;
    runs: RunsRepository;
    access: Access;
    audit: AuditLog;
    control: Pick<RunControl, "wake">;
}

export interface StackPauseState {
    stack: string;
    paused: PauseView | null;
    runningRunId: string | null;
    queuedRuns: number;
}

export interface DeployerPauseState {
    paused: PauseView | null;
    runningRuns: string[];
    queuedRuns: number;
}

export class Pauses {
    private readonly d: PauseDeps;

    constructor(deps: PauseDeps) {
        this.d = deps;
    }

    /** What keeps the stack's runs from starting (its own pause, else the deployer's), or null. */
    async ofStack(stack: string): Promise<PauseView | null> {
        const row = await this.d.repo.forStack(stack);
        return row ? pauseView(row) : null;
    }

    async pauseStack(caller: Caller, stack: string, reason: string): Promise<StackPauseState> {
        await this.d.access.stack(caller, "pause", stack);
        await this.d.repo.set(stack, reason, caller.principal.subject);
        const state = await this.stackState(stack);
        await this.d.audit.record(
            caller,
            "pause",
            `stack:${stack}`,
            "ok",
            `${reason}${state.runningRunId ? ` (run ${state.runningRunId} keeps running)` : ""}`,
        );
        return state;
    }

    async resumeStack(caller: Caller, stack: string): Promise<StackPauseState> {
        await this.d.access.stack(caller, "resume", stack);
        const lifted = await this.d.repo.remove(stack);
        if (!lifted) throw new NotFoundError(`stack '${stack}' is not paused`);
        await this.d.audit.record(caller, "resume", `stack:${stack}`, "ok", `lifts the pause by ${lifted.paused_by}: ${lifted.reason}`);
        this.d.control.wake();
        return this.stackState(stack);
    }

    async deployerState(caller: Caller): Promise<DeployerPauseState> {
        await this.d.access.requireAdmin(caller, "read-pause", "deployer");
        return this.globalState();
    }

    async pauseDeployer(caller: Caller, reason: string): Promise<DeployerPauseState> {
        await this.d.access.requireAdmin(caller, "pause", "deployer");
        await this.d.repo.set(deployerScope, reason, caller.principal.subject);
        const state = await this.globalState();
        const running = state.runningRuns.length ? ` (${state.runningRuns.length} running run(s) keep running)` : "";
        await this.d.audit.record(caller, "pause", "deployer", "ok", `${reason}${running}`);
        return state;
    }

    async resumeDeployer(caller: Caller): Promise<DeployerPauseState> {
        await this.d.access.requireAdmin(caller, "resume", "deployer");
        const lifted = await this.d.repo.remove(deployerScope);
        if (!lifted) throw new NotFoundError("the deployer is not paused");
        await this.d.audit.record(caller, "resume", "deployer", "ok", `lifts the pause by ${lifted.paused_by}: ${lifted.reason}`);
        this.d.control.wake();
        return this.globalState();
    }

    private async stackState(stack: string): Promise<StackPauseState> {
        const active = await this.d.runs.active(stack);
        const running = active.find((r) => r.status === "running");
        return { stack, paused: await this.ofStack(stack), runningRunId: running?.id ?? null, queuedRuns: active.length - (running ? 1 : 0) };
    }

    private async globalState(): Promise<DeployerPauseState> {
        const row = await this.d.repo.get(deployerScope);
        const counts = await this.d.runs.activeCounts();
        return { paused: row ? pauseView(row) : null, runningRuns: counts.running, queuedRuns: counts.queued };
    }
}
