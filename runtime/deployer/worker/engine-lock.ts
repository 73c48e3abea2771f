/**
 * The engine's own stack lock, as the deployer sees it, and clearing it
 * safely after a crash.
 *
 * With a file state backend the lock is a JSON file per holder under
 * `.pulumi/locks/<org>/<project>/<stack>/`, naming the holder's pid and host
 * (the format Pulumi's diy backend writes). A lock is cleared only when its
 * holder is provably gone: same host and the pid is no longer a live process.
 * A live holder (say, an engine still finishing after its deployer died, or
 * an operator's own `pulumi up`) is left alone and reported.
 *
 * With the postgres:// backend in the deployer's own database (several
 * replicas), the CLI writes the same JSON as a row of `pulumi.pulumi_state`
 * whose key is that path; `lockInDatabase` reads those rows (GET
 * /v1/stacks/{stack}/lock, core/locks.ts). Nothing expires such a row.
 *
 * Other backends (Pulumi Cloud, object stores, a postgres:// backend other
 * than the deployer's database) are not inspected: there the deployer's own
 * heartbeat decides (the worker that held the run stopped beating) and
 * `pulumi cancel` clears the lock.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { sql } from "kysely";
import { backendUrl, fileBackendDir, stateTable } from "../../engine/backend";
import { lockDirs } from "../../engine/diy-layout";
import type { Db } from "../store/db";
import { pulumiCommand, type StackTarget } from "../../engine/stack-runner";
import { removeTornSidecars } from "../../engine/torn-writes";
import { processAlive } from "./orphans";

export interface LockHolder {
    pid: number;
    host: string;
    user: string;
    since: string;
    /** Whether the holder process is alive; undefined when it runs on another host. */
    alive?: boolean;
    /** The lock file, or the key of its row in the database. */
    file: string;
}

export interface EngineLockState {
    /** `file` backends show who holds the lock; other backends are not inspected. */
    inspectable: boolean;
    holders: LockHolder[];
}

/** One lock as the CLI writes it (its diy backend's lockContent). */
interface LockContent {
    pid: number;
    hostname: string;
    username: string;
    timestamp: string;
}

function holderOf(l: LockContent, file: string): LockHolder {
    return {
        pid: l.pid,
        host: l.hostname,
        user: l.username,
        since: l.timestamp,
        alive: l.hostname === hostname() ? processAlive(l.pid) && looksLikePulumi(l.pid) : undefined,
        file,
    };
}

export function engineLock(stack: string, url = backendUrl()): EngineLockState {
    const dir = fileBackendDir(url);
    if (!dir) return { inspectable: false, holders: [] };
    const holders: LockHolder[] = [];
    for (const lockDir of lockDirs(stack).map((d) => path.join(dir, d))) {
        let names: string[];
        try {
            names = readdirSync(lockDir).filter((n) => n.endsWith(".json"));
        } catch {
            continue;
        }
        for (const name of names) {
            const file = path.join(lockDir, name);
            try {
                holders.push(holderOf(JSON.parse(readFileSync(file, "utf8")) as LockContent, file));
            } catch {
                // removed while we read it: its holder released the lock
            }
        }
    }
    return { inspectable: true, holders };
}

/** The stack's lock rows in the deployer's database (the CLI's postgres:// backend there, its table made by the migrations). */
export async function lockInDatabase(stack: string, db: Db): Promise<EngineLockState> {
    const like = lockDirs(stack).map((d) => `${d.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`);
    const rows = await sql<{ key: string; data: string }>`
        SELECT key, data::text AS data FROM ${sql.table(stateTable)}
        WHERE key LIKE ${like[0]} OR key LIKE ${like[1]} ORDER BY key`.execute(db);
    return { inspectable: true, holders: rows.rows.map((r) => holderOf(JSON.parse(r.data) as LockContent, r.key)) };
}

/** Deletes these lock rows: what `pulumi cancel` does to a diy backend's lock files. */
export async function removeLockRows(db: Db, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await sql`DELETE FROM ${sql.table(stateTable)} WHERE key IN (${sql.join(keys)})`.execute(db);
}

/** A reused pid is not the lock's holder: on Linux, check the process is a pulumi CLI. */
function looksLikePulumi(pid: number): boolean {
    if (!existsSync("/proc/self/cmdline")) return true;
    try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("pulumi");
    } catch {
        return false;
    }
}

export interface LockClearResult {
    cleared: boolean;
    /** What was done or why nothing was, for the run record. */
    note: string;
}

/**
 * Clears the stack's engine lock left by an interrupted run, unless a live
 * process still holds it; on a file backend, then repairs the writes a
 * killed engine tore (engine/torn-writes.ts). `target` is how to run
 * `pulumi cancel` for backends without inspectable locks.
 */
export async function clearStaleEngineLock(stack: string, target: () => StackTarget, url = backendUrl()): Promise<LockClearResult> {
    const state = engineLock(stack, url);
    const dir = fileBackendDir(url);
    if (state.inspectable && dir) {
        const live = state.holders.filter((h) => h.alive !== false);
        if (live.length > 0) {
            const who = live.map((h) => `pid ${h.pid} on ${h.host}${h.alive === undefined ? " (another host: liveness unknown)" : ""}`).join(", ");
            return { cleared: false, note: `the stack's lock is held by a live process (${who}); it is left alone and checked again` };
        }
        for (const h of state.holders) {
            rmSync(h.file, { force: true });
            rmSync(`${h.file}.attrs`, { force: true });
        }
        const notes = [
            state.holders.length === 0
                ? "the engine released its lock"
                : `removed the engine lock left by pid ${state.holders.map((h) => h.pid).join(", ")} (no longer running)`,
        ];
        // No engine is left on the stack: what a killed one tore can be repaired now.
        const torn = removeTornSidecars(dir, stack);
        if (torn.length > 0) {
            notes.push(
                `removed ${torn.length} attributes file(s) the engine left half-written when it died (${torn.join(", ")}); the stack reads its last checkpoint written in full`,
            );
        }
        return { cleared: true, note: notes.join("; ") };
    }
    const cmd = await pulumiCommand();
    const t = target();
    await promisify(execFile)(cmd.command, ["cancel", "--yes", "--non-interactive", "--stack", stack], {
        cwd: t.workDir,
        env: { ...process.env, ...t.env },
        timeout: 120_000,
    });
    return { cleared: true, note: "cleared the engine lock with `pulumi cancel` (the worker holding it stopped beating)" };
}
