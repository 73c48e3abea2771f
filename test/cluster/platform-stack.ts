/**
 * A throwaway copy of the `local` stack applied to the cluster tier's
 * cluster, as the platform files of this tier use it: every add-on from its
 * upstream chart (the chart mirror folder, X1_CHART_MIRROR), the real engine
 * and provider, a state backend of the file's own. Each file applying it
 * installs the whole platform once (minutes on a 2-core machine), so the
 * files run one after the other (vitest.config.mts) and each destroys what
 * it applied; every stack of theirs has the namespaces of `local`, so two
 * never run at once.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { stacksDir } from "../../runtime/engine/project";
import { openStack, runOperation } from "../../runtime/engine/stack-runner";
import { chartMirrorFolder } from "../fixtures/charts";
import { type EngineSandbox, engineSandbox, restoreEnv } from "../helpers/engine";
import { kubeconfig, kubectlJson } from "./cluster";

/** The workspace namespace of `local`'s one workspace, `demo`. */
export const ws = "x1agent-ws-demo";

/** A resource as the state records it. */
export interface StateResource {
    urn: string;
    type: string;
    protect?: boolean;
    retainOnDelete?: boolean;
    outputs?: any;
}

export interface PlatformStack {
    name: string;
    /** Writes the stack file: `local`'s config pointed at this tier's cluster, with `edit` applied; also into `mirrors`. */
    write(edit?: (config: Record<string, any>) => void): void;
    /** Files kept equal to the stack file (a deployer's copy of the project). */
    mirrors: string[];
    /** The stack's resources as the state records them (no engine run). */
    state(): Promise<StateResource[]>;
    /** Destroys what is left (a failed test's leftovers), removes the stack file and the state backend. */
    cleanup(beforeDestroy?: (resources: StateResource[]) => Promise<void>): Promise<void>;
}

/** Sets up a platform stack named `name`: its sandboxed state backend, the chart mirror, its passphrase, its file. */
export async function platformStack(name: string): Promise<PlatformStack> {
    const saved = { PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE, X1_CHART_MIRROR: process.env.X1_CHART_MIRROR };
    const sandbox: EngineSandbox = await engineSandbox(name);
    process.env.X1_CHART_MIRROR = chartMirrorFolder();
    // Its own passphrase: the stack file carries no salt of `local`'s.
    process.env.PULUMI_CONFIG_PASSPHRASE = name;
    const file = path.join(stacksDir, `Pulumi.${name}.yaml`);
    const stack: PlatformStack = {
        name,
        mirrors: [],
        write(edit = () => undefined) {
            const local = parse(readFileSync(path.join(stacksDir, "Pulumi.local.yaml"), "utf8")) as { config: Record<string, any> };
            // The cluster this tier runs against (X1_CLUSTER_DIR moves it from .x1/cluster/).
            local.config["x1agent:cluster"] = { ...local.config["x1agent:cluster"], kubeconfig };
            edit(local.config);
            const text = `# Written by the cluster tier (test/cluster/platform-stack.ts) and removed after it: the local stack on its cluster.\n${stringify({ config: local.config })}`;
            for (const f of [file, ...stack.mirrors]) writeFileSync(f, text);
        },
        async state() {
            return (await (await openStack(name)).exportStack()).deployment.resources ?? [];
        },
        async cleanup(beforeDestroy) {
            stack.mirrors = [];
            try {
                // Left by a failed test: take it down so the next run starts clean (destroy is idempotent).
                const left = await stack.state().catch(() => []);
                if (left.length > 0) {
                    await beforeDestroy?.(left);
                    await runOperation(name, "destroy").catch((err: Error) =>
                        console.error(`[cluster tier] cleanup destroy of ${name} failed: ${err.message.split("\n").slice(-5).join("\n")}`),
                    );
                }
            } finally {
                rmSync(file, { force: true });
                restoreEnv(saved);
                sandbox.cleanup();
            }
        },
    };
    stack.write();
    return stack;
}

/** Every object of a kind on the cluster (in one namespace, or all). */
export async function list<T = any>(kind: string, namespace?: string): Promise<T[]> {
    return (await kubectlJson<{ items: T[] }>(["get", kind, ...(namespace ? ["-n", namespace] : ["-A"])])).items;
}

const condition = (o: any, type: string) => o.status?.conditions?.find((c: { type: string }) => c.type === type)?.status;

/** Every CRD Established, every Deployment Available, every StatefulSet with all replicas ready; what is not, by name. */
export async function notReady(): Promise<string[]> {
    const out: string[] = [];
    for (const crd of await list("crd")) if (condition(crd, "Established") !== "True") out.push(`CRD ${crd.metadata.name}`);
    for (const d of await list("deploy")) if (condition(d, "Available") !== "True") out.push(`Deployment ${d.metadata.namespace}/${d.metadata.name}`);
    for (const s of await list("sts"))
        if ((s.status.readyReplicas ?? 0) !== s.spec.replicas)
            out.push(`StatefulSet ${s.metadata.namespace}/${s.metadata.name} ${s.status.readyReplicas ?? 0}/${s.spec.replicas}`);
    return out;
}

/**
 * What a destroy left on the cluster: namespaces of ours, objects still being
 * deleted, CRDs. cert-manager's and CloudNativePG's charts keep their CRDs
 * (Helm's keep policy, which the provider honours with retainOnDelete), so
 * uninstalling never deletes every certificate or database with them: on
 * purpose, and not counted.
 */
export async function leftAfterDestroy(): Promise<{ namespaces: string[]; deleting: string[]; crds: string[] }> {
    const ours = ["x1agent", "x1agent-secrets", ws, "cert-manager", "external-secrets", "cnpg-system"];
    const namespaces = (await list("namespaces")).filter((n) => ours.includes(n.metadata.name)).map((n) => `${n.metadata.name} ${n.status.phase}`);
    const crds = await list("crd");
    return {
        namespaces,
        deleting: crds.filter((c) => c.metadata.deletionTimestamp).map((c) => c.metadata.name),
        crds: crds.map((c) => c.metadata.name).filter((n) => !n.endsWith(".cert-manager.io") && !n.endsWith(".postgresql.cnpg.io")),
    };
}
