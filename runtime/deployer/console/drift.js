// Drift: the latest drift report of a stack (GET /v1/stacks/{stack}/drift),
// which resources differ from what the stack last applied and how.
import { ApiError, get, getOptional } from "./api.js";
import { badge, el, reporting, shortId, table, when, fill } from "./dom.js";

/**
 * The stack's latest drift report as {at, runId, resources: [{op, type, name, diffs}]},
 * null when it was never checked. A deployer without the drift route yet
 * answers from the last refresh run, which records the same finding.
 */
export async function loadDrift(stack) {
    let body;
    try {
        body = await getOptional(`/v1/stacks/${encodeURIComponent(stack)}/drift`);
    } catch (err) {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
    }
    if (body !== undefined) return normalize(body);
    const { runs } = await get(`/v1/runs?stack=${encodeURIComponent(stack)}&operation=refresh&status=succeeded&limit=1`);
    const run = runs[0];
    return run ? { at: run.finishedAt, runId: run.id, resources: run.drift ?? [], source: "refresh run" } : null;
}

/** The report's latest check, in the console's terms (the deployer's drift report names it `latest`). */
function normalize(body) {
    const r = body.latest;
    if (!r) return null;
    return {
        at: r.checkedAt,
        runId: r.runId,
        status: r.status,
        trigger: r.trigger,
        error: r.error,
        resources: r.resources ?? [],
        remediation: r.remediation,
        schedule: body.schedule,
    };
}

/** A table cell: in sync, N drifted, a failed check, or not checked yet. */
export function driftSummary(report, stack) {
    if (report === undefined) return el("span", { class: "muted" }, "n/a");
    if (report === null) return el("span", { class: "muted" }, stack?.appliesToCluster === false ? "no cluster" : "not checked");
    if (report.status && report.status !== "succeeded")
        return el("span", {}, badge("failed", "check failed"), " ", el("span", { class: "muted" }, when(report.at)));
    const n = report.resources.length;
    return el("span", {}, n ? badge("drifted", `${n} drifted`) : badge("in-sync", "in sync"), " ", el("span", { class: "muted" }, when(report.at)));
}

/** A property difference in words, as the engine frames a refresh: what the cluster has compared with the stack's state. */
const kindWords = {
    update: "changed",
    add: "added",
    delete: "removed",
    "update-replace": "changed (up replaces it)",
    "add-replace": "added (up replaces it)",
    "delete-replace": "removed (up replaces it)",
};

/**
 * What differs on one drifted resource: each property path the engine
 * named (the Kubernetes provider names paths only, e.g.
 * `metadata.labels["pod-security.kubernetes.io/enforce"] changed`), else the
 * top-level keys; a resource deleted outside Pulumi says so.
 */
export function driftedProperties(r) {
    if (r.op === "delete") return "deleted outside Pulumi: the next up creates it again";
    const detailed = r.detailedDiff ? Object.entries(r.detailedDiff).map(([path, kind]) => `${path} ${kindWords[kind] ?? kind}`) : [];
    const parts = detailed.length ? detailed : (r.diffs ?? []).map((k) => `${k} changed`);
    return parts.length ? parts.join(", ") : "changed outside Pulumi (the engine named no property)";
}

/** The drift column: changed or deleted outside Pulumi. */
export const driftWord = (op) => (op === "delete" ? "deleted" : op === "update" ? "changed" : op);

/** The stack page's Drift tab. */
export function driftTab(container, stack) {
    const errors = el("p", { class: "error", role: "alert" });
    const body = el("div", {}, el("p", { class: "muted" }, "Loading the drift report..."));
    container.append(el("section", { class: "card", "aria-labelledby": "drift-title" }, el("h2", { id: "drift-title" }, "Drift"), errors, body));
    const runLink = (id) => el("a", { href: `#/stacks/${encodeURIComponent(stack.name)}/runs/${id}` }, shortId(id));
    reporting(errors, async () => {
        const report = await loadDrift(stack.name);
        if (report === null) {
            fill(
                body,
                el(
                    "p",
                    { id: "drift-summary" },
                    stack.appliesToCluster
                        ? "No drift report yet: a drift check (Check drift, or the stack's drift schedule) compares the cluster with the stack's state."
                        : "This stack renders manifests to a directory: there is no cluster to drift from.",
                ),
            );
            return;
        }
        const failed = report.status && report.status !== "succeeded";
        const rows = report.resources.map((r) =>
            el(
                "tr",
                { "data-urn": r.urn, "data-name": r.name, "data-type": r.type },
                el("td", { class: `nowrap op-${r.op}` }, driftWord(r.op)),
                el("td", { class: "wrap" }, `${r.type} ${r.name}`),
                el("td", { class: "wrap" }, driftedProperties(r)),
            ),
        );
        fill(
            body,
            el(
                "p",
                { id: "drift-summary" },
                failed
                    ? badge("failed", `the last check ${report.status.replace("_", " ")}`)
                    : report.resources.length
                      ? badge("drifted", `${report.resources.length} resource(s) drifted`)
                      : badge("in-sync", "in sync"),
                ` checked ${when(report.at)}`,
                report.runId ? [" by run ", runLink(report.runId)] : "",
                report.trigger ? ` (${report.trigger})` : "",
                report.remediation ? [" · remediated by up ", runLink(report.remediation.runId), ` (${report.remediation.status})`] : "",
                report.schedule === undefined ? "" : report.schedule ? ` · checked on cron "${report.schedule.cron}" (UTC)` : " · no drift schedule",
            ),
            failed && report.error ? el("div", { class: "banner bad" }, report.error) : null,
            table(
                "Drifted resources",
                ["Drift", "Resource", "What differs"],
                rows,
                failed ? "The check did not complete." : "Every resource matches the stack's state.",
                {
                    id: "drift-table",
                },
            ),
        );
    });
    return () => undefined;
}
