/**
 * Engine processes left behind by a deployer that was killed (SIGKILL, OOM):
 * the pulumi CLI, its language host and provider plugins outlive their
 * parent. Each worker marks the processes it starts with its id in the
 * environment (X1_DEPLOYER_WORKER_ID, inherited by every child); recovery
 * finds a dead worker's processes by that mark and stops them: the CLI with
 * SIGINT (Pulumi's clean cancel, which releases the stack's lock), the rest
 * with SIGTERM. Linux only (it reads /proc); elsewhere nothing is found.
 */
import { readdirSync, readFileSync } from "node:fs";

export const workerIdVariable = "X1_DEPLOYER_WORKER_ID";

export interface EngineProcess {
    pid: number;
    command: string;
}

/** Processes carrying this worker's mark. */
export function processesOfWorker(workerId: string): EngineProcess[] {
    return processesWithEnvironment(`${workerIdVariable}=${workerId}`);
}

/** Processes (other than this one) whose environment holds `entry` (NAME=value). */
export function processesWithEnvironment(entry: string): EngineProcess[] {
    const mark = entry;
    const found: EngineProcess[] = [];
    let pids: string[];
    try {
        pids = readdirSync("/proc").filter((d) => /^[0-9]+$/.test(d));
    } catch {
        return found;
    }
    for (const p of pids) {
        const pid = Number(p);
        if (pid === process.pid) continue;
        try {
            if (!readFileSync(`/proc/${p}/environ`, "utf8").split("\0").includes(mark)) continue;
            found.push({ pid, command: readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0")[0] ?? "" });
        } catch {
            // gone, or not ours to read
        }
    }
    return found;
}

/** Stops a dead worker's engine processes; returns what was signalled. */
export function stopProcessesOfWorker(workerId: string): EngineProcess[] {
    const found = processesOfWorker(workerId);
    for (const p of found) {
        try {
            process.kill(p.pid, /(^|\/)pulumi$/.test(p.command) ? "SIGINT" : "SIGTERM");
        } catch {
            // exited meanwhile
        }
    }
    return found;
}

/** Whether a process with this pid exists (EPERM: it exists, run by someone else). */
export function processAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
}
