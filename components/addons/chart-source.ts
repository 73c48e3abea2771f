import { existsSync } from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { Addon, ChartSource, StackConfig } from "../../stacks/schema";
import { RenderedChart } from "./rendered-chart";

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
 * - External Secrets Operator 2.9.0: serves the `external-secrets.io/v1`
 *   API this program writes (v1beta1 stopped being served in 0.17, and in
 *   2.9.0 only with `crds.unsafeServeV1Beta1`); 2.0 only removed the
 *   unmaintained Alibaba and Device42 providers. 2.12.0 was pinned before,
 *   but the chart mirror air-gapped sites and the test machines install from
 *   has no release after 2.9.0, and a pin nobody can install is untested:
 *   2.9.0's values keep every key we set (`installCRDs`, the
 *   `process*` switches and `rbac.aggregateTo*` of hardenedValues), with the
 *   same meaning. Bump it together with the mirror.
 * - cert-manager v1.21.1 (jetstack's chart versions carry the `v`): 1.21.0
 *   crash-looped on `renewal.policy: Disabled`; 1.21.1 fixes that and
 *   dropped Secret informer events. CRDs come from the chart (`crds.enabled`).
 * - NATS 2.12.3: from 2.12 the chart's major.minor follows the NATS server's;
 *   the 1.x/2.x values layout (`config.nats.tls`, `tlsCA`) is what we set.
 * - CloudNativePG 0.27.1: the operator's chart, CRDs included
 *   (`crds.create`).
 */
export const upstreamCharts = {
    externalSecrets: { repo: "https://charts.external-secrets.io", name: "external-secrets", version: "2.9.0" },
    certManager: { repo: "https://charts.jetstack.io", name: "cert-manager", version: "v1.21.1" },
    nats: { repo: "https://nats-io.github.io/k8s/helm/charts/", name: "nats", version: "2.12.3" },
    postgresOperator: { repo: "https://cloudnative-pg.github.io/charts", name: "cloudnative-pg", version: "0.27.1" },
} as const satisfies Record<string, PinnedChart>;

/** An add-on that installs a chart, by its key under `addons`. */
export type ChartedAddon = keyof typeof upstreamCharts;

/**
 * The environment variable that points every add-on at a chart mirror, for
 * offline and air-gapped sites: a folder of packaged charts
 * (`<name>-<version>.tgz`, as `helm package` names them) or a Helm repository
 * URL (`https://`, `http://`, `oci://`). A stack's own `addons.<name>.chart`
 * wins over it; unset, every chart comes from its upstream repository.
 */
export const chartMirrorVariable = "X1_CHART_MIRROR";

/** The chart mirror `env` names (`X1_CHART_MIRROR`; empty means unset), as the program reads it. */
export function chartMirrorFrom(env: NodeJS.ProcessEnv = process.env): string | undefined {
    return env[chartMirrorVariable] || undefined;
}

/**
 * Which add-ons' charts the stack installs: `addons.<name>.install`, and the
 * database operator's only for the bundled database (the only one it runs).
 */
export function chartInstalls(config: Pick<StackConfig, "addons" | "postgres">): Record<ChartedAddon, boolean> {
    return {
        externalSecrets: config.addons.externalSecrets.install,
        certManager: config.addons.certManager.install,
        nats: config.addons.nats.install,
        postgresOperator: config.addons.postgresOperator.install && config.postgres.bundled.enabled,
    };
}

/**
 * An add-on as its component receives it: the stack's `addons.<name>`, its
 * chart source settled (withChartMirror) and, when the stack renders to a
 * folder, the Kubernetes version its chart is rendered for (forRendering).
 */
export type SettledAddon = Addon & {
    /**
     * Set when the stack renders to a folder: the Kubernetes version Helm
     * renders the chart for (`cluster.kubernetesVersion` or its default).
     * Unset when the stack applies to a cluster: Helm asks that cluster.
     */
    renderKubernetesVersion?: string;
};

/**
 * The stack's add-ons with each chart source settled: `addons.<name>.chart`
 * when the stack sets it, else the mirror (`X1_CHART_MIRROR`), else nothing
 * (the pinned upstream). A folder mirror must hold every chart this stack
 * installs (`installs`): a missing one fails here, before anything is
 * registered, naming the file and the fix.
 */
export function withChartMirror(addons: StackConfig["addons"], mirror: string | undefined, installs: Record<ChartedAddon, boolean>): StackConfig["addons"] {
    if (!mirror) return addons;
    const settled = { ...addons };
    const missing: string[] = [];
    for (const name of Object.keys(upstreamCharts) as ChartedAddon[]) {
        const addon: Addon = addons[name];
        if (addon.chart) continue;
        const pinned = upstreamCharts[name];
        const source = mirrorSource(mirror, pinned);
        if (installs[name] && source.path && !existsSync(path.resolve(source.path))) missing.push(`${pinned.name}-${pinned.version}.tgz (addons.${name})`);
        settled[name] = { ...addon, chart: source };
    }
    if (missing.length > 0) {
        throw new Error(
            `${chartMirrorVariable}=${mirror} is a folder without ${missing.join(", ")}: put the packaged chart${missing.length > 1 ? "s" : ""} there ` +
                `(helm pull <repo>/<name> --version <version>), point ${chartMirrorVariable} at a Helm repository URL that serves ${missing.length > 1 ? "them" : "it"}, ` +
                `or set addons.<name>.chart in the stack`,
        );
    }
    return settled;
}

/**
 * The add-ons marked for rendering at `kubernetesVersion` (see SettledAddon);
 * unchanged when it is undefined (the stack applies to a cluster).
 */
export function forRendering(addons: StackConfig["addons"], kubernetesVersion: string | undefined): SettledAddons {
    if (kubernetesVersion === undefined) return addons;
    const settled: SettledAddons = { ...addons };
    for (const name of Object.keys(upstreamCharts) as ChartedAddon[]) settled[name] = { ...addons[name], renderKubernetesVersion: kubernetesVersion };
    return settled;
}

/** The stack's `addons` with each charted add-on settled. */
export type SettledAddons = Omit<StackConfig["addons"], ChartedAddon> & Record<ChartedAddon, SettledAddon>;

/** A mirror's source for one pinned chart: the same repository layout under another URL, or the packaged file in a folder. */
function mirrorSource(mirror: string, pinned: PinnedChart): ChartSource {
    if (/^(https?|oci):\/\//.test(mirror)) return { repo: mirror };
    return { path: path.join(mirror, `${pinned.name}-${pinned.version}.tgz`) };
}

/**
 * What to do when a chart cannot be had, for the errors the provider reports
 * then (`unable to locate the chart`, a repository that does not answer):
 * they name the chart and the source but not the way out.
 */
export const chartUnavailableHint =
    `Without network, set ${chartMirrorVariable} to a folder of packaged charts or a Helm repository URL that holds the chart, ` +
    "or set addons.<name>.chart (repo or path) in the stack; addons.<name>.install: false if the cluster runs the add-on already.";

/** Whether an engine error line says a chart could not be fetched or found. */
export function isChartUnavailable(line: string): boolean {
    return /unable to locate the chart|failed to pull chart|is not a valid chart repository or cannot be reached|failed to fetch .*index\.yaml/.test(line);
}

/**
 * What to do when a chart refuses the Kubernetes version Helm renders for
 * (`chart requires kubeVersion: ... which is incompatible with Kubernetes
 * v...`): Helm names the chart's range and the version, not where the version
 * came from.
 */
export const chartKubeVersionHint =
    "Rendering to a folder, Helm renders the charts for cluster.kubernetesVersion (default: the local control plane's): set it to the version " +
    "of the cluster the manifests are for, within the chart's range; applying to a cluster, Helm uses that cluster's version, which the chart does not support.";

/** Whether an engine error line says a chart refused the Kubernetes version. */
export function isKubeVersionRefused(line: string): boolean {
    return /requires kubeVersion: .* which is incompatible with Kubernetes/.test(line);
}

/** The fields of `helm.v4.ChartArgs` that say where the chart comes from, as plain values. */
export interface ChartLocation {
    chart: string;
    version?: string;
    repositoryOpts?: { repo: string };
}

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

/** What an add-on component says about its chart; where it comes from and how it is rendered is the add-on's (SettledAddon). */
export interface AddonChartArgs {
    /** The settled `addons.<name>`: chart source, and the Kubernetes version when rendering. */
    addon: SettledAddon;
    /** The upstream chart this add-on pins (upstreamCharts). */
    pinned: PinnedChart;
    /** The Helm release name (`.Release.Name` in the chart's templates). */
    release: string;
    /** The namespace the release installs into. */
    namespace: pulumi.Input<string>;
    /** The Helm values, ours merged with `addons.<name>.values`. */
    values: Record<string, unknown>;
}

/**
 * An add-on's chart as Pulumi resources, the one place that decides how:
 *
 * - applying to a cluster: `helm.v4.Chart`, whose Helm renders for the
 *   cluster's own Kubernetes version and API groups (discovery);
 * - rendering to a folder (`addon.renderKubernetesVersion` set): there is no
 *   cluster to ask, and `helm.v4.Chart` (in @pulumi/kubernetes 4.25) has no
 *   `kubeVersion` input, so its Helm assumes Kubernetes 1.20 and a chart
 *   requiring more (cert-manager: `>= 1.22.0-0`) refuses. `helm.v3.Chart`
 *   takes `kubeVersion`, and renders through the same provider's Helm. It
 *   differs from `helm.v4.Chart` in three ways, made equal here: it keeps
 *   Helm hooks (left out, as helm.v4.Chart leaves them), it ignores
 *   `helm.sh/resource-policy: keep` (those objects are retained on delete, as
 *   helm.v4.Chart retains them), and it names the chart after the release and
 *   each object `<namespace>/<name>` (each object is aliased to its URN under
 *   the helm.v4.Chart this add-on registered before, so a stack rendered
 *   before keeps its objects and files; the chart component itself is
 *   replaced, it has no file). See RenderedChart.
 *
 * What still differs when rendering: `.Capabilities.APIVersions` is Helm's
 * built-in set, not what a cluster serves (ESO's chart, asked for a
 * ServiceMonitor with `renderMode: skipIfMissing`, finds none), and the
 * chart's `lookup` finds nothing.
 */
export function addonChart(name: string, args: AddonChartArgs, opts: pulumi.ComponentResourceOptions): pulumi.Resource {
    const location = chartLocation(args.addon.chart, args.pinned);
    const kubeVersion = args.addon.renderKubernetesVersion;
    if (kubeVersion === undefined) {
        return new k8s.helm.v4.Chart(name, { ...location, name: args.release, namespace: args.namespace, values: args.values }, opts);
    }
    return new RenderedChart(name, { location, release: args.release, namespace: args.namespace, values: args.values, kubeVersion }, opts);
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
