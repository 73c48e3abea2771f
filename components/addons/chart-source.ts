import * as path from "node:path";
import type * as k8s from "@pulumi/kubernetes";
import type { ChartSource } from "../../stacks/schema";

/** A chart in a Helm repository (HTTP index or `oci://` registry) at one exact version. */
export interface PinnedChart {
    repo: string;
    name: string;
    version: string;
}

/**
 * The upstream chart each add-on installs by default: the project's own
 * repository, the chart name it publishes, and an exact version (never a
 * range, so every stack renders the same manifests until someone bumps it
 * here). Chosen as the newest release of each line that had been out for a
 * while when pinned; bump deliberately and read the upstream release notes.
 *
 * - External Secrets Operator 2.12.0: serves the `external-secrets.io/v1`
 *   API this program writes (v1beta1 stopped being served in 0.17); 2.0
 *   only removed the unmaintained Alibaba and Device42 providers.
 * - cert-manager v1.21.1 (jetstack's chart versions carry the `v`): 1.21.0
 *   crash-looped on `renewal.policy: Disabled`; 1.21.1 fixes that and
 *   dropped Secret informer events. CRDs come from the chart (`crds.enabled`).
 * - NATS 2.12.3: from 2.12 the chart's major.minor follows the NATS server's;
 *   the 1.x/2.x values layout (`config.nats.tls`, `tlsCA`) is what we set.
 * - CloudNativePG 0.27.1: the operator's chart, CRDs included
 *   (`crds.create`).
 */
export const upstreamCharts = {
    externalSecrets: { repo: "https://charts.external-secrets.io", name: "external-secrets", version: "2.12.0" },
    certManager: { repo: "https://charts.jetstack.io", name: "cert-manager", version: "v1.21.1" },
    nats: { repo: "https://nats-io.github.io/k8s/helm/charts/", name: "nats", version: "2.12.3" },
    postgresOperator: { repo: "https://cloudnative-pg.github.io/charts", name: "cloudnative-pg", version: "0.27.1" },
} as const satisfies Record<string, PinnedChart>;

/** The fields of `helm.v4.ChartArgs` that say where the chart comes from. */
export type ChartLocation = Pick<k8s.helm.v4.ChartArgs, "chart" | "version" | "repositoryOpts">;

/**
 * Turns a stack's `addons.<name>.chart` override into the location
 * `helm.v4.Chart` takes, over the pinned upstream default:
 *
 * - unset: the pinned upstream repo, name and version;
 * - `{ path }`: a local chart directory or `.tgz` (air-gapped sites, engine
 *   tests' fixture charts), resolved against the program's working directory,
 *   which Pulumi sets to the project root;
 * - `{ repo, name?, version? }`: a mirror; name and version fall back to the
 *   pinned ones, so a mirror serves exactly what upstream would;
 * - an `oci://` repo becomes `oci://<registry path>/<name>`, as Helm expects.
 */
export function chartLocation(override: ChartSource | undefined, pinned: PinnedChart): ChartLocation {
    if (override?.path) return { chart: path.resolve(override.path) };
    const repo = override?.repo ?? pinned.repo;
    const name = override?.name ?? pinned.name;
    const version = override?.version ?? pinned.version;
    if (repo.startsWith("oci://")) return { chart: `${repo.replace(/\/+$/, "")}/${name}`, version };
    return { chart: name, version, repositoryOpts: { repo } };
}

/**
 * Merges the stack's extra Helm values over a component's defaults, objects
 * key by key (arrays and scalars from the stack win whole), so a user can
 * change one nested setting without restating the rest.
 */
export function mergeValues(defaults: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...defaults };
    for (const [key, value] of Object.entries(extra)) {
        const base = out[key];
        out[key] = isPlainObject(base) && isPlainObject(value) ? mergeValues(base, value) : value;
    }
    return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}
