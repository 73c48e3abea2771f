/**
 * The cluster tier's global set-up: a running local cluster is reused as it
 * is; when none runs, `scripts/cluster.sh up` starts one (building its
 * binaries first when the toolchain lacks them) and the teardown stops that
 * one, and only that one, with `down` (its data stays for the next `up`).
 * So `npm test` needs no extra step on a fresh clone or in CI.
 */
import { clusterScript } from "./cluster";

export default async function setup(): Promise<(() => Promise<void>) | void> {
    const status = await clusterScript("status");
    if (status.code === 0) {
        console.log("[cluster tier] reusing the running local cluster");
        return;
    }
    console.log("[cluster tier] starting the local cluster (bash scripts/cluster.sh up)");
    const up = await clusterScript("up");
    if (up.code !== 0) throw new Error(`bash scripts/cluster.sh up exited ${up.code}:\n${up.stderr}${up.stdout}`);
    console.log(
        up.stderr
            .trim()
            .split("\n")
            .filter((l) => /ready|started/.test(l))
            .join("\n"),
    );
    return async () => {
        const down = await clusterScript("down");
        if (down.code !== 0) throw new Error(`bash scripts/cluster.sh down exited ${down.code}:\n${down.stderr}`);
    };
}
