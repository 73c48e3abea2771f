/**
 * `npm run cluster -- up|down|status` as scripts and people use it: `up`
 * reuses a running cluster, `down` leaves no process behind, a stale pid file
 * does not stop the next `up`, and etcd's data (Secrets included, which only
 * the kept KMS key decrypts) survives a restart. Leaves the
 * cluster running, as it found it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { clusterDir, clusterScript, kubectl, run, uniqueName } from "./cluster";

const components = ["kms-plugin", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"];
const pids = () => components.map((c) => Number(readFileSync(path.join(clusterDir, "pids", `${c}.pid`), "utf8").trim()));
/** A live process, not a zombie waiting for init to reap it (its exit is what counts). */
const alive = async (pid: number) => {
    const ps = await run("ps", ["-o", "stat=", "-p", String(pid)]);
    return ps.code === 0 && !ps.stdout.trim().startsWith("Z");
};

describe("the local cluster's lifecycle", () => {
    it("up reuses the running cluster, down stops every process, and up again keeps the cluster's data", async () => {
        const before = pids();
        const again = await clusterScript("up");
        expect(again.code, again.stderr).toBe(0);
        expect(again.stderr).toContain("already running: reusing it");
        expect(pids()).toEqual(before);

        const ns = uniqueName("kept");
        await kubectl(["create", "namespace", ns]);
        await kubectl(["create", "configmap", "kept", "-n", ns, "--from-literal=k=v"]);
        // A Secret is ciphertext under the KMS plugin's key: readable after a restart only if that key is kept.
        await kubectl(["create", "secret", "generic", "kept", "-n", ns, "--from-literal=token=still-here"]);

        const down = await clusterScript("down");
        expect(down.code, down.stderr).toBe(0);
        for (const pid of before) expect(await alive(pid), `pid ${pid}`).toBe(false);
        const status = await clusterScript("status");
        expect(status.code).toBe(3);
        expect(status.stdout).toContain("cluster: stopped");

        // A pid file left by a crash names a process that is gone: up must start anyway.
        writeFileSync(path.join(clusterDir, "pids", "etcd.pid"), `${before[1]}\n`);
        const up = await clusterScript("up");
        expect(up.code, up.stderr).toBe(0);
        expect(up.stderr).toMatch(/ready in \d+s/);
        expect(await kubectl(["get", "configmap", "kept", "-n", ns, "-o", "jsonpath={.data.k}"])).toBe("v");
        const token = await kubectl(["get", "secret", "kept", "-n", ns, "-o", "jsonpath={.data.token}"]);
        expect(Buffer.from(token, "base64").toString()).toBe("still-here");
        await kubectl(["delete", "namespace", ns, "--wait=false"]);
        expect((await clusterScript("status")).code).toBe(0);
    });
});
