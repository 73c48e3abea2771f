/**
 * Repairing what an engine killed mid-write leaves in a `file://` backend.
 *
 * The CLI writes each blob of a file backend through gocloud's fileblob: the
 * data goes to a temporary file renamed into place (atomic), but first its
 * attributes go to a sidecar, `<blob>.attrs`, truncated and then written in
 * place (not atomic). An engine killed between the two (SIGKILL, the OOM
 * killer, a pod's container stopped, or the SIGPIPE a Go program dies of
 * when the deployer that read its output is gone) leaves an empty or partial
 * sidecar beside the previous, intact blob, and every later command on the
 * stack fails with `failed to load checkpoint: EOF`. The sidecar holds only
 * a content type and a checksum nobody verifies on read; without it the blob
 * reads with defaults. So removing a torn sidecar gives back the last
 * checkpoint written in full, which is what the rename protected.
 *
 * Only the stack's own blobs are looked at, and only once no live process
 * holds its lock (another stack's engine may be mid-write right now).
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { checkpointDirs, historyDirs, lockDirs } from "./diy-layout";

const sidecar = ".attrs";

/** Removes the stack's torn sidecars under a file backend's folder; returns their paths relative to it. */
export function removeTornSidecars(backendDir: string, stack: string): string[] {
    const candidates: string[] = [];
    for (const dir of checkpointDirs()) {
        candidates.push(...sidecarsIn(backendDir, dir).filter((f) => path.posix.basename(f).startsWith(`${stack}.json`)));
    }
    for (const dir of [...historyDirs(stack), ...lockDirs(stack)]) candidates.push(...sidecarsIn(backendDir, dir));
    candidates.push(path.posix.join(".pulumi", `meta.yaml${sidecar}`));
    const removed: string[] = [];
    for (const key of candidates) {
        const file = path.join(backendDir, key);
        let text: string;
        try {
            text = readFileSync(file, "utf8");
        } catch {
            continue;
        }
        if (parses(text)) continue;
        rmSync(file, { force: true });
        removed.push(key);
    }
    return removed;
}

function sidecarsIn(backendDir: string, dir: string): string[] {
    try {
        return readdirSync(path.join(backendDir, dir))
            .filter((n) => n.endsWith(sidecar))
            .map((n) => path.posix.join(dir, n));
    } catch {
        return [];
    }
}

function parses(text: string): boolean {
    try {
        JSON.parse(text);
        return true;
    } catch {
        return false;
    }
}
