// The stacks the caller may see, each with its state at a glance: the last
// `up` (not the last run of any kind), drift, pause, pending approvals,
// workspaces, tier and what runs now.
import { get } from "./api.js";
import { approvalsByStack } from "./approvals.js";
import { badge, el, isActive, reporting, shortId, table, when, fill } from "./dom.js";
import { driftSummary, loadDrift } from "./drift.js";

/** The last `up`: its status, partly applied said plainly. */
export function lastUpCell(run) {
    if (!run) return el("span", { class: "muted" }, "never applied");
    const partly = run.status !== "succeeded" && /partly/.test(run.message ?? "");
    return el(
        "span",
        {},
        partly ? badge("partly", `${run.status.replace("_", " ")}, partly applied`) : badge(run.status),
        " ",
        el("span", { class: "muted" }, when(run.finishedAt ?? run.createdAt)),
    );
}

/** What runs on the stack now, from its own count of queued and running runs. */
export function nowCell(s) {
    const last = s.lastRun;
    if (s.activeRuns === 0) return el("span", { class: "muted" }, "idle");
    if (last && isActive(last.status)) {
        const more = s.activeRuns - 1;
        return el("span", {}, badge(last.status, `${last.operation} ${last.status}`), more > 0 ? ` +${more} queued` : "");
    }
    return badge("queued", `${s.activeRuns} queued`);
}

export function stacksView(main) {
    const errors = el("p", { class: "error", role: "alert" });
    const body = el("div", {}, el("p", { class: "muted" }, "Loading stacks..."));
    main.append(el("section", { class: "card", "aria-labelledby": "stacks-title" }, el("h1", { id: "stacks-title" }, "Stacks"), errors, body));
    let stopped = false;
    const load = async () => {
        const [{ stacks }, approvals] = await Promise.all([get("/v1/stacks"), approvalsByStack()]);
        const drift = await Promise.all(stacks.map((s) => loadDrift(s.name).catch(() => undefined)));
        if (stopped) return;
        const rows = stacks.map((s, i) =>
            el(
                "tr",
                { "data-stack": s.name },
                el(
                    "td",
                    { class: "nowrap" },
                    el("a", { href: `#/stacks/${encodeURIComponent(s.name)}` }, s.name),
                    s.valid ? "" : [" ", badge("error", `config invalid (${s.problems})`)],
                ),
                el("td", {}, s.team ?? el("span", { class: "muted" }, "no team (example)")),
                el("td", {}, s.tier ?? "?"),
                el("td", {}, String(s.workspaces)),
                el("td", {}, lastUpCell(s.lastUp)),
                el("td", {}, driftSummary(drift[i], s)),
                el("td", {}, s.paused ? badge("paused", `paused by ${s.paused.by}`) : el("span", { class: "muted" }, s.paused === null ? "no" : "")),
                el("td", {}, approvals === undefined ? el("span", { class: "muted" }, "n/a") : pendingCell(approvals.get(s.name) ?? [])),
                el("td", {}, nowCell(s)),
                el("td", { class: "muted nowrap" }, s.lastRun ? `${s.lastRun.operation} ${shortId(s.lastRun.id)} ${s.lastRun.status}` : "no runs"),
            ),
        );
        fill(
            body,
            table(
                "Stacks with their state",
                ["Stack", "Team", "Secrets tier", "Workspaces", "Last up", "Drift", "Paused", "Approvals", "Now", "Last run"],
                rows,
                "No stacks: your teams own none yet. An admin creates them (POST /v1/stacks) or assigns one to your team.",
                { id: "stack-table" },
            ),
        );
    };
    reporting(errors, load);
    // Runs end and start while the page is open: look again every 10 s.
    const timer = setInterval(() => reporting(errors, load), 10_000);
    return () => {
        stopped = true;
        clearInterval(timer);
    };
}

function pendingCell(list) {
    if (list.length === 0) return el("span", { class: "muted" }, "none");
    return el("a", { href: `#/approvals/${list[0].id}` }, badge("pending", `${list.length} pending`));
}
