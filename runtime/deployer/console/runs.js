// A stack's runs: the list (filter by operation and status, paged) and one
// run, followed live: its log, its diff and its policy results grow as the
// engine's events arrive, and the outcome is said in one place (no changes,
// applied, partly applied, each cause of a failure once).
import { get, query, send, streamEvents } from "./api.js";
import { action, badge, countsSentence, countsText, el, isActive, reporting, runDuration, shortId, stackChangeText, table, when, fill } from "./dom.js";
import { driftedProperties, driftWord } from "./drift.js";
import { denied } from "./me.js";

const pageSize = 15;
const operations = ["preview", "up", "refresh", "drift", "destroy", "preview-destroy"];
/** Operations that compare the cluster with the stack's state: their finding is drift, not a diff. */
const checksDrift = (op) => op === "refresh" || op === "drift";
const statuses = ["queued", "running", "succeeded", "failed", "cancelled", "interrupted", "timed_out"];

/** The list's filter and page per stack, kept while the user moves between runs. */
const listState = new Map();

/** A run's change counts; a run that did not succeed and changed nothing shows none (not "no changes", which reads as a finding). */
function changesText(run) {
    // A drift check or refresh changes nothing in the cluster: what it found is drift.
    if (checksDrift(run.operation) && run.status === "succeeded" && run.drift) return run.drift.length ? `${run.drift.length} drifted` : "in sync";
    const text = countsText(run.counts);
    return text === "no changes" && run.status !== "succeeded" ? "" : text;
}

const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);

const partly = (run) => /partly (applied|destroyed)/.test(run.message ?? "");

/** A run's status in words: a stopped up that changed resources says so. */
export function statusBadge(run) {
    if (partly(run)) return badge("partly", `${run.status.replace("_", " ")}, partly ${run.operation === "destroy" ? "destroyed" : "applied"}`);
    return badge(run.status);
}

export function runsPanel(container, stack, selected, onChange) {
    const ui = listState.get(stack) ?? { operation: "", status: "", pages: [] };
    listState.set(stack, ui);
    const select = (id, label, values, current) =>
        el(
            "label",
            { for: id },
            label,
            el(
                "select",
                {
                    id,
                    onchange: (ev) => {
                        ui[id === "filter-operation" ? "operation" : "status"] = ev.target.value;
                        ui.pages = [];
                        onChange();
                    },
                },
                el("option", { value: "" }, "all"),
                values.map((v) => el("option", { value: v, selected: v === current }, v.replace("_", " "))),
            ),
        );
    const list = el("div", { id: "runs-table" });
    const newer = el("button", { type: "button", id: "runs-newer" }, "Newer");
    const older = el("button", { type: "button", id: "runs-older" }, "Older");
    const page = el("span", { class: "muted", id: "runs-page" });
    let lastRuns = [];
    let more = false;
    newer.addEventListener("click", () => {
        ui.pages.pop();
        onChange();
    });
    older.addEventListener("click", () => {
        ui.pages.push(lastRuns[lastRuns.length - 1].id);
        onChange();
    });
    container.append(
        el(
            "section",
            { class: "card", "aria-labelledby": "runs-title" },
            el("h2", { id: "runs-title" }, "Runs"),
            el(
                "div",
                { class: "row" },
                select("filter-operation", "Operation", operations, ui.operation),
                select("filter-status", "Status", statuses, ui.status),
                el("span", { class: "grow" }),
                page,
                newer,
                older,
            ),
            list,
        ),
    );

    return {
        /** This page of runs, newest first. */
        async fetch() {
            const before = ui.pages[ui.pages.length - 1];
            const { runs } = await get(`/v1/runs${query({ stack, operation: ui.operation, status: ui.status, before, limit: pageSize + 1 })}`);
            more = runs.length > pageSize;
            return runs.slice(0, pageSize);
        },
        render(runs) {
            lastRuns = runs;
            newer.disabled = ui.pages.length === 0;
            older.disabled = !more;
            page.textContent = `page ${ui.pages.length + 1}`;
            const rows = runs.map((r) =>
                el(
                    "tr",
                    { "data-run": r.id, class: r.id === selected ? "selected" : null, "aria-selected": r.id === selected ? "true" : null },
                    el("td", { class: "nowrap mono" }, el("a", { href: `#/stacks/${encodeURIComponent(stack)}/runs/${r.id}` }, shortId(r.id))),
                    el("td", {}, el("b", {}, r.operation), r.change ? el("div", { class: "muted" }, r.change.summary) : ""),
                    el("td", { class: "wrap" }, r.requestedBy),
                    el("td", { class: "nowrap" }, when(r.createdAt)),
                    el("td", { class: "nowrap" }, runDuration(r)),
                    el("td", { class: "nowrap mono" }, changesText(r)),
                    el("td", {}, statusBadge(r)),
                ),
            );
            const filtered = ui.operation || ui.status;
            fill(
                list,
                table(
                    `Runs of ${stack}`,
                    ["Run", "Operation", "Requested by", "Queued", "Duration", "Changes", "Status"],
                    rows,
                    filtered ? "No runs match this filter." : "No runs yet: start a preview.",
                ),
            );
        },
    };
}

const symbol = (op) => ({ create: "+", update: "~", delete: "-", replace: "+-" })[op] ?? "*";

/** One engine event as a log line, or null for those not worth a line. */
function describe(e, operation) {
    const d = e.data;
    if (checksDrift(operation)) {
        // A refresh or drift check reads each resource (a `refresh` step); its result says what differs from the state.
        if (e.kind === "resource-pre" && d.op === "refresh") return null;
        if (e.kind === "resource-done") {
            if (d.type === "pulumi:pulumi:Stack" || !["update", "delete"].includes(d.op)) return null;
            return `${symbol(d.op)} drift: ${d.type} ${d.name} ${d.op === "delete" ? "deleted outside Pulumi" : `changed outside Pulumi (${driftedProperties(d)})`}`;
        }
        if (e.kind === "summary") {
            const c = d.resourceChanges ?? {};
            return `summary: drift in ${(c.update ?? 0) + (c.delete ?? 0)} resource(s): ${c.update ?? 0} changed, ${c.delete ?? 0} deleted outside Pulumi; ${c.same ?? 0} unchanged, in ${d.durationSeconds} s`;
        }
    }
    switch (e.kind) {
        case "prelude":
            return "engine started";
        case "resource-pre":
            return d.op === "same" ? null : `${symbol(d.op)} ${d.type} ${d.name} (${d.op})${d.diffs.length ? ` [${d.diffs.join(", ")}]` : ""}`;
        case "resource-done":
            return d.op === "same" ? null : `  done ${d.name} (${d.op})`;
        case "resource-failed":
            return `  FAILED ${d.name}`;
        case "diagnostic":
            return d.severity === "debug" ? null : `${d.severity}: ${d.message}`;
        case "policy":
            return `policy ${d.enforcement}: ${d.policy}${d.resource ? ` on ${d.resource.split("::").pop()}` : ""}: ${d.message}`;
        case "summary": {
            // The deployer stores the summary as it counts a run: the platform's resources, the stack's own resource said apart.
            const preview = operation.startsWith("preview");
            const counted = countsSentence(d.resourceChanges, !preview) || (preview ? "no changes" : "nothing changed");
            const stackNote = d.stackChange ? `; ${stackChangeText(d.stackChange, !preview)}` : "";
            return `summary: ${counted} (${d.resourceChanges?.same ?? 0} unchanged)${stackNote} in ${d.durationSeconds} s`;
        }
        default:
            return null;
    }
}

/** The diff rule of the deployer's own digest: steps that change something, the stack resource left out. */
const isChange = (d) => !["same", "read", "refresh"].includes(d.op) && d.type !== "pulumi:pulumi:Stack";

/** What the run came to, in one place: each cause once; `stackChange` is the stack's own resource's change, from the run's summary event. */
function outcome(run, stackChange) {
    const box = (kind, head, ...rest) => el("div", { class: `banner ${kind}`, id: "run-outcome" }, el("b", {}, head), ...rest);
    const counts = run.counts ?? {};
    if (run.status === "queued") {
        return box("info", "Queued", run.queue ? `#${run.queue.position} in the queue; waiting for ${run.queue.waitingFor}` : "waiting for a worker");
    }
    if (run.status === "running") {
        return box("info", "Running", "The log, the diff and the policy results below grow as the engine works.");
    }
    if (run.status === "succeeded") {
        const note = run.message ? el("div", {}, run.message) : null;
        if (run.operation === "preview") {
            if (run.changes.length === 0)
                return box("ok", "No changes", `The stack matches its configuration: ${counts.same ?? 0} resource(s) unchanged. Nothing to apply.`, note);
            const stackNote = stackChange ? ` ${capital(stackChangeText(stackChange, false))}.` : "";
            return box(
                "ok",
                `Preview: ${countsSentence(counts, false)}`,
                `${counts.same ?? 0} unchanged.${stackNote} Nothing has been changed yet: Up applies it.`,
                note,
            );
        }
        if (checksDrift(run.operation)) {
            const n = run.drift?.length ?? 0;
            return n ? box("warn", `Drift: ${n} resource(s) differ from the stack's state`, note) : box("ok", "In sync: no drift", note);
        }
        const did = countsSentence(counts, true);
        const head = run.operation === "destroy" ? `Destroyed${did ? `: ${did}` : ""}` : did ? `Applied: ${did}` : "Up to date: nothing needed changing";
        return box("ok", head, stackChange ? el("div", {}, `${capital(stackChangeText(stackChange, true))}.`) : null, note);
    }
    // Failed, cancelled, timed out, interrupted: the partial state first, then why, once.
    const why = run.error ?? "the run ended without a reason recorded";
    const kind = run.status === "cancelled" ? "warn" : "bad";
    const head = `${run.operation} ${run.status.replace("_", " ")}`;
    if (partly(run)) {
        return el(
            "div",
            { id: "run-outcome" },
            el("div", { class: "banner warn" }, el("b", {}, `Partly ${run.operation === "destroy" ? "destroyed" : "applied"}`), run.message),
            el("div", { class: `banner ${kind}` }, el("b", {}, `Why the ${head}`), why),
        );
    }
    return box(kind, head, why, run.message ? el("div", {}, run.message) : null);
}

export function runDetail(container, runId, stack, onChange) {
    const title = el("h2", { id: "run-title" }, `Run ${shortId(runId)}`);
    const facts = el("p", { class: "muted", id: "run-facts" });
    const result = el("div", { id: "run-result", role: "status" });
    const buttons = el("div", { class: "row" });
    const errors = el("p", { class: "error", role: "alert", id: "run-error" });
    const log = el("pre", { class: "log", id: "log", role: "log", "aria-live": "off", "aria-label": "live log", tabindex: "0" });
    const diffHead = el("h3", { id: "diff-title" }, "Diff");
    const diffNote = el("p", { class: "muted", id: "diff-summary" });
    const diff = el("div", { class: "scroll", id: "diff" });
    const policyNote = el("p", { class: "muted", id: "policy-summary" });
    const policy = el("div", { class: "scroll", id: "policy" });
    container.append(
        el("section", { class: "card", id: "run-card", "aria-labelledby": "run-title" }, title, facts, result, buttons, errors),
        el(
            "div",
            { class: "grid2" },
            el("section", { class: "card", id: "diff-card", "aria-labelledby": "diff-title" }, diffHead, diffNote, diff),
            el(
                "section",
                { class: "card", id: "policy-card", "aria-labelledby": "policy-title" },
                el("h3", { id: "policy-title" }, "Policy results"),
                policyNote,
                policy,
            ),
        ),
        el("section", { class: "card", "aria-labelledby": "log-title" }, el("h3", { id: "log-title" }, "Live log"), log),
    );

    const live = { events: 0, changes: new Map(), policy: [], lines: new Map(), stackChange: null };
    let run = null;
    const controller = new AbortController();

    function logLine(text, cls) {
        // The engine repeats a diagnostic per resource: one line, with how often.
        const seen = live.lines.get(text);
        if (seen) {
            seen.n += 1;
            seen.times.textContent = ` (×${seen.n})`;
            return;
        }
        const times = el("span", { class: "times" });
        const line = el("div", { class: cls ? `l-${cls}` : null }, text, times);
        if (cls === "error" || cls === "warning") live.lines.set(text, { n: 1, times });
        const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.append(line);
        if (atEnd) log.scrollTop = log.scrollHeight;
    }

    function renderTables() {
        const ended = run && !isActive(run.status);
        const refresh = checksDrift(run?.operation);
        diffHead.textContent = refresh && ended ? "Drift" : "Diff";
        const changes = ended ? (refresh ? (run.drift ?? []) : run.changes) : [...live.changes.values()];
        const drifted = refresh && ended;
        const rows = changes.map((c) =>
            el(
                "tr",
                { "data-urn": c.urn },
                el("td", { class: `nowrap op-${c.op}` }, drifted ? driftWord(c.op) : c.op),
                el("td", { class: "wrap" }, `${c.type} ${c.name}`),
                el("td", { class: "wrap" }, drifted ? driftedProperties(c) : c.diffs.join(", ")),
            ),
        );
        diffNote.textContent = ended
            ? run.status === "succeeded"
                ? changes.length
                    ? `${changes.length} resource(s) ${refresh ? "drifted" : "change"}${live.stackChange ? `; ${stackChangeText(live.stackChange, run.operation === "up" || run.operation === "destroy")}` : ""}`
                    : refresh
                      ? "no drift"
                      : "no changes"
                : `${changes.length} change(s) seen before the run ${run.status.replace("_", " ")}`
            : run?.status === "queued"
              ? "the diff appears as the engine works"
              : `live: ${changes.length} change(s) so far`;
        fill(
            diff,
            table(
                "Resource changes",
                ["Change", "Resource", "Properties"],
                rows,
                ended ? (run.status === "succeeded" ? (refresh ? "No drift." : "No changes.") : "No changes were reached.") : "None yet.",
            ),
        );

        const results = ended && run.policy ? run.policy.results : live.policy;
        const p = ended ? run.policy : null;
        policyNote.textContent = refresh
            ? "the policy pack checks previews and ups; a drift check or refresh changes nothing, so it has no policy results"
            : p
              ? p.applied
                  ? `pack ${
                        p.pack
                            ? p.pack
                                  .replace(/\/run-pack$/, "")
                                  .split("/")
                                  .pop()
                            : ""
                    } applied: ${p.mandatory} mandatory, ${p.advisory} advisory result(s)`
                  : `policy pack not applied: ${p.note ?? ""}`
              : ended
                ? "no policy record"
                : `live: ${results.length} result(s) so far`;
        const prow = results.map((r) =>
            el(
                "tr",
                {},
                el("td", { class: "wrap" }, r.policy),
                el("td", { class: "nowrap" }, badge(r.enforcement === "mandatory" ? "error" : "pending", r.enforcement)),
                el("td", { class: "wrap" }, r.resource ? r.resource.split("::").pop() : "(stack)"),
                el("td", { class: "wrap" }, r.message),
            ),
        );
        fill(
            policy,
            table(
                "Policy results",
                ["Policy", "Level", "Resource", "Message"],
                prow,
                refresh
                    ? "Not checked on this operation."
                    : ended
                      ? run.status === "succeeded"
                          ? "No violations."
                          : "No policy results were reached."
                      : "None yet.",
                { class: "policy-table" },
            ),
        );
    }

    function renderRun() {
        fill(title, `${run.operation} `, el("span", { class: "mono" }, shortId(run.id)), " ", statusBadge(run));
        facts.textContent = [
            `requested by ${run.requestedBy} at ${when(run.createdAt)}`,
            run.startedAt ? `started ${when(run.startedAt)}` : null,
            run.startedAt ? `took ${runDuration(run)}` : null,
            changesText(run) ? `${checksDrift(run.operation) && run.status === "succeeded" ? "found" : "changes"} ${changesText(run)}` : null,
            run.change ? `config change: ${run.change.summary}` : null,
            run.configRevision ? `config revision ${run.configRevision}` : null,
        ]
            .filter(Boolean)
            .join(" · ");
        fill(result, outcome(run, live.stackChange));
        fill(buttons);
        if (isActive(run.status)) {
            const reason = denied("cancel", stack.team);
            const b = el(
                "button",
                { type: "button", class: "danger", id: "cancel", disabled: reason !== null, "aria-describedby": reason ? "why-cancel" : null },
                "Cancel run",
            );
            if (!reason)
                action(b, errors, async (key) => {
                    run = (await send("POST", `/v1/runs/${run.id}/cancel`, undefined, key)).run;
                    renderRun();
                });
            buttons.append(b);
            if (reason) buttons.append(el("span", { class: "muted", id: "why-cancel" }, `Cancel: ${reason}`));
        }
        if (run.approvalId) {
            // The run previews (or applies) an approval: where it is decided.
            buttons.append(el("a", { href: `#/approvals/${run.approvalId}`, id: "run-approval" }, `Approval ${shortId(run.approvalId)}`));
        }
        renderTables();
    }

    function onEngine(e) {
        live.events += 1;
        const d = e.data;
        if (e.kind === "resource-pre" && isChange(d)) live.changes.set(d.urn, { op: d.op, type: d.type, name: d.name, urn: d.urn, diffs: d.diffs ?? [] });
        if (e.kind === "policy") live.policy.push(d);
        if (e.kind === "summary") live.stackChange = d.stackChange ?? null;
        const text = describe(e, run.operation);
        if (text) logLine(text, e.kind === "diagnostic" ? d.severity : e.kind === "policy" ? "policy" : null);
    }

    reporting(errors, async () => {
        run = (await get(`/v1/runs/${runId}`)).run;
        renderRun();
        let pending = false;
        // Tables and counters are redrawn at most 4 times a second while events pour in.
        const redraw = () => {
            if (pending) return;
            pending = true;
            setTimeout(() => {
                pending = false;
                if (run) renderRun();
            }, 250);
        };
        try {
            await streamEvents(runId, controller.signal, (event, data) => {
                if (event === "engine") {
                    onEngine(data);
                    redraw();
                } else if (event === "run" || event === "end") {
                    const was = run.status;
                    run = data;
                    renderRun();
                    if (event === "end") logLine(`run ${run.status.replace("_", " ")}`, "end");
                    if (was !== run.status || event === "end") onChange();
                }
            });
        } catch (err) {
            if (err.name !== "AbortError") throw err;
        }
    });
    return () => controller.abort();
}
