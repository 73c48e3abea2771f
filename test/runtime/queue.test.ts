/**
 * The run queue as several deployer replicas share it: two replicas (two
 * connection pools on one PostgreSQL database; one handle on the embedded
 * one) claim at the same time, and still no stack ever has two running runs,
 * the global bound holds, and each stack is served first come first served.
 * Also which runs count as orphaned after a crash. No engine here: the
 * queue's rules are SQL, tested on both backends.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../../runtime/deployer/store/db";
import { RunQueue } from "../../runtime/deployer/worker/queue";
import { backendNames, freshDatabase } from "./helpers";

describe.each(backendNames)("the shared run queue (%s database)", (backend) => {
    let replicas: Database[];
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
        const db = await freshDatabase(backend);
        cleanup = db.cleanup;
        const first = await openDatabase(db.options);
        replicas = backend === "postgres" ? [first, await openDatabase(db.options)] : [first, first];
    });

    afterAll(async () => {
        for (const r of new Set(replicas)) await r.close();
        await cleanup?.();
    });

    async function enqueue(stack: string): Promise<string> {
        const id = randomUUID();
        await replicas[0]!.db
            .insertInto("runs")
            .values({ id, stack, operation: "preview", status: "queued", requested_by: "test", request_hash: "h", timeout_seconds: 60 })
            .execute();
        return id;
    }

    async function running() {
        return replicas[0]!.db.selectFrom("runs").select(["id", "stack", "seq"]).where("status", "=", "running").execute();
    }

    it("never runs two runs of one stack, never exceeds the bound, and serves each stack in order", async () => {
        const stacks = ["s1", "s2", "s3", "s4"];
        const order = new Map<string, string[]>();
        for (let round = 0; round < 3; round++) {
            for (const s of stacks) order.set(s, [...(order.get(s) ?? []), await enqueue(s)]);
        }
        const queues = replicas.map((r) => new RunQueue(r.db, 3));
        const workers = [0, 1].map((i) => ({ id: `replica-${i}`, host: hostname(), pid: process.pid }));
        const served = new Map<string, string[]>();
        let peak = 0;
        for (let step = 0; step < 12; step++) {
            // Both replicas race to claim five times each.
            await Promise.all(queues.flatMap((q, i) => Array.from({ length: 5 }, () => q.claim(workers[i]!))));
            const now = await running();
            peak = Math.max(peak, now.length);
            expect(now.length).toBeLessThanOrEqual(3);
            expect(new Set(now.map((r) => r.stack)).size).toBe(now.length);
            for (const r of now) {
                if (!served.get(r.stack)?.includes(r.id)) served.set(r.stack, [...(served.get(r.stack) ?? []), r.id]);
            }
            if (now.length === 0) break;
            // The oldest running run finishes; the queue moves on.
            const done = now.sort((x, y) => x.seq - y.seq)[0]!;
            await replicas[1]!.db.updateTable("runs").set({ status: "succeeded", finished_at: new Date() }).where("id", "=", done.id).execute();
        }
        expect(peak).toBe(3);
        for (const s of stacks) expect(served.get(s)).toEqual(order.get(s));
    });

    it("counts a run as orphaned when its worker's process is gone or it stopped beating", async () => {
        const queue = new RunQueue(replicas[0]!.db, 3);
        const me = { id: "me", host: hostname(), pid: process.pid };
        const cases = [
            { stack: "dead-pid", host: hostname(), pid: 2 ** 22 + 12345, beat: new Date(), orphaned: true },
            { stack: "our-pid-earlier-life", host: hostname(), pid: process.pid, beat: new Date(), orphaned: true },
            { stack: "other-host-beating", host: "another-replica", pid: 1, beat: new Date(), orphaned: false },
            { stack: "other-host-silent", host: "another-replica", pid: 1, beat: new Date(Date.now() - 60_000), orphaned: true },
        ];
        await replicas[0]!.db.deleteFrom("runs").execute();
        for (const c of cases) {
            await replicas[0]!.db
                .insertInto("runs")
                .values({
                    id: randomUUID(),
                    stack: c.stack,
                    operation: "up",
                    status: "running",
                    requested_by: "test",
                    request_hash: "h",
                    timeout_seconds: 60,
                    worker_id: `w-${c.stack}`,
                    worker_host: c.host,
                    worker_pid: c.pid,
                    heartbeat_at: c.beat,
                })
                .execute();
        }
        const orphaned = (await queue.orphaned(me, 20)).map((r) => r.stack).sort();
        expect(orphaned).toEqual(
            cases
                .filter((c) => c.orphaned)
                .map((c) => c.stack)
                .sort(),
        );
    });
});
