/**
 * Fires the stacks' drift schedules, on every replica that works the queue.
 * Each tick, each schedule's latest due slot is claimed by inserting its
 * (stack, slot) row; the replica whose insert succeeds queues the check
 * (core/schedules.ts), every other replica's insert does nothing. A replica
 * that stops between its claim and the queued run leaves the slot unsettled:
 * recovery (worker/recovery.ts) queues it through the same Idempotency-Key,
 * so the slot is checked once, never twice.
 */
import { Schedules } from "../core/schedules";
import type { Logger } from "../log";
import type { SchedulesRepository } from "../store/schedules";

export class Scheduler {
    private readonly schedules: Schedules;
    private readonly repo: SchedulesRepository;
    private readonly holder: string;
    private readonly log: Logger;
    /** The last slot this replica saw settled or claimed, per stack: no insert is tried twice. */
    private readonly seen = new Map<string, number>();
    private timer?: NodeJS.Timeout;
    private running: Promise<void> = Promise.resolve();
    private busy = false;
    private ticks = 0;

    constructor(deps: { schedules: Schedules; repo: SchedulesRepository; holder: string; log: Logger }) {
        this.schedules = deps.schedules;
        this.repo = deps.repo;
        this.holder = deps.holder;
        this.log = deps.log.child({ component: "scheduler" });
    }

    start(everyMs: number): void {
        this.timer = setInterval(() => {
            if (this.busy) return;
            this.busy = true;
            this.running = this.tick()
                .catch((err: unknown) => this.log.error({ err }, "the drift scheduler's tick failed; the next one tries again"))
                .finally(() => {
                    this.busy = false;
                });
        }, everyMs);
    }

    async stop(): Promise<void> {
        clearInterval(this.timer);
        await this.running;
    }

    /** Claims and queues every due slot; now and then forgets old slots. */
    async tick(now = new Date()): Promise<void> {
        for (const schedule of await this.schedules.all()) {
            let slot: Date | undefined;
            try {
                slot = Schedules.latestDueSlot(schedule, now);
            } catch (err) {
                this.log.error({ err, stack: schedule.stack, cron: schedule.drift_cron }, "a stored drift schedule does not parse; it is not run");
                continue;
            }
            if (!slot || this.seen.get(schedule.stack) === slot.getTime()) continue;
            this.seen.set(schedule.stack, slot.getTime());
            if (!(await this.repo.claimSlot(schedule.stack, slot, this.holder))) continue;
            await this.schedules.queueCheck(schedule.stack, slot);
        }
        if (++this.ticks % 3600 === 0) await this.repo.pruneSlots(30);
    }

    /** Settles the slots whose claimer stopped before queuing their check (recovery calls it). */
    async resumeUnsettled(staleAfterSeconds: number): Promise<void> {
        for (const s of await this.repo.unsettledSlots(staleAfterSeconds)) {
            const outcome = await this.schedules.queueCheck(s.stack, s.slot);
            this.log.warn({ stack: s.stack, slot: s.slot.toISOString(), claimedBy: s.claimed_by, outcome }, "settled a slot whose claiming replica stopped");
        }
    }
}
