// One stack: its header (team, tier, workspaces, last up, what runs now,
// pause), the actions the caller may take on it (the others disabled with
// the reason), and tabs for its runs, configuration, outputs, drift and
// schedule. The header and the run list come from one refresh, checked
// against each other, so they never disagree.
import { get, getOptional, query, send } from "./api.js";
import { configTab } from "./config.js";
import { action, badge, el, reporting, shortId, when, fill } from "./dom.js";
import { driftSummary, driftTab, loadDrift } from "./drift.js";
import { denied } from "./me.js";
import { outputsTab } from "./outputs.js";
import { runDetail, runsPanel } from "./runs.js";
import { scheduleTab } from "./schedule.js";
import { lastUpCell } from "./stacks.js";

/** A note that outlives the navigation it causes (the view is rebuilt on each route). */
let flash = null;

const tabs = [
    ["runs", "Runs"],
    ["config", "Configuration"],
    ["outputs", "Outputs"],
    ["drift", "Drift"],
    ["schedule", "Schedule"],
];

/** Whether the header (the stack's lock) and a page of its runs tell the same story. */
function consistent(detail, runs) {
    const running = detail.lock.runningRunId;
    for (const r of runs) {
        if (r.status === "running" && r.id !== running) return false;
        if (r.id === running && r.status !== "running") return false;
    }
    return runs.filter((r) => r.status === "queued").length <= detail.lock.queuedRuns;
}

export function stackView(main, name, tab, runId) {
    const base = `#/stacks/${encodeURIComponent(name)}`;
    const title = el("h1", { id: "stack-title" }, `Stack ${name}`);
    const meta = el("p", { class: "muted", id: "stack-meta" });
    const state = el("div", { class: "state", id: "stack-state" });
    const banners = el("div", { id: "stack-banners" });
    const buttons = el("div", { class: "row", id: "stack-actions" });
    const reasons = el("ul", { class: "reasons", id: "action-reasons" });
    const extra = el("div", { id: "stack-note" }, flash?.stack === name ? flash.node : null);
    flash = null;
    const errors = el("p", { class: "error", role: "alert", id: "stack-error" });
    main.append(
        el("section", { class: "card", "aria-labelledby": "stack-title" }, title, meta, state, banners, buttons, reasons, extra, errors),
        el(
            "nav",
            { class: "tabs", "aria-label": "Stack sections" },
            tabs.map(([id, label]) => el("a", { href: `${base}/${id}`, "aria-current": id === tab ? "page" : null, "data-tab": id }, label)),
        ),
    );
    const content = el("div", { id: "tab-content" });
    main.append(content);

    let stopped = false;
    let detail = null;
    /** The stack's approval policy (read once) and its pending approvals (with every refresh); undefined on a deployer without approvals. */
    let policy;
    let pending;
    /** Whether this deployer checks drift without touching the state (the `drift` operation, with its report); else a refresh finds drift. */
    let driftChecks;
    /** The latest drift report (null: never checked; undefined: unknown). */
    let drift;
    const hasDriftRoute = async () => (await getOptional(`/v1/stacks/${encodeURIComponent(name)}/drift`).catch(() => undefined)) !== undefined;
    let timer;
    const stops = [];
    const panel = tab === "runs" ? runsPanel(content, name, runId, () => refresh()) : null;
    let inFlight = null;
    let again = false;

    /** One refresh at a time: a call while one is out runs once more after it (the poll, a run's events and the filters all call it). */
    function refresh() {
        if (inFlight) {
            again = true;
            return inFlight;
        }
        inFlight = readAndRender().finally(() => {
            inFlight = null;
            if (again && !stopped) {
                again = false;
                reporting(errors, refresh);
            }
        });
        return inFlight;
    }

    /** The stack and (on the Runs tab) its runs, re-read until they agree (a run may start or end between the two reads). */
    async function readAndRender() {
        clearTimeout(timer);
        let runs = null;
        driftChecks ??= await hasDriftRoute();
        drift = await loadDrift(name).catch(() => undefined);
        policy ??= await getOptional(`/v1/stacks/${encodeURIComponent(name)}/approval-policy`).catch(() => undefined);
        pending = (await getOptional(`/v1/approvals${query({ stack: name, status: "pending" })}`))?.approvals;
        for (let i = 0; i < 3; i++) {
            detail = await get(`/v1/stacks/${encodeURIComponent(name)}`);
            runs = panel ? await panel.fetch() : null;
            if (!runs || consistent(detail, runs)) break;
        }
        if (stopped) return;
        renderHeader(runs);
        if (panel) panel.render(runs);
        // While something runs the page follows it; an idle stack is looked at now and then.
        timer = setTimeout(() => reporting(errors, refresh), detail.activeRuns > 0 ? 3000 : 15000);
    }

    function renderHeader(runs) {
        const d = detail;
        meta.textContent = `team ${d.team ?? "(none: an example)"} · secrets tier ${d.tier ?? "?"} · ${d.workspaces} workspace(s) · ${d.appliesToCluster ? "applies to a cluster" : "renders manifests to a directory"} · revision ${d.revision}`;
        const running = d.lock.runningRunId;
        const runningRun = running ? (runs?.find((r) => r.id === running) ?? (d.lastRun?.id === running ? d.lastRun : null)) : null;
        fill(
            state,
            el("span", {}, el("b", {}, "Last up:"), lastUpCell(d.lastUp)),
            el(
                "span",
                { id: "stack-now" },
                el("b", {}, "Now:"),
                running
                    ? [
                          badge("running", runningRun ? `${runningRun.operation} running` : "running"),
                          el("a", { href: `${base}/runs/${running}` }, shortId(running)),
                          runningRun?.startedAt ? el("span", { class: "muted" }, `since ${when(runningRun.startedAt)}`) : "",
                      ]
                    : d.lock.queuedRuns === 0
                      ? "idle"
                      : "",
                d.lock.queuedRuns > 0 ? badge("queued", `${d.lock.queuedRuns} queued`) : "",
            ),
            el("span", { id: "stack-drift" }, el("b", {}, "Drift:"), driftSummary(drift, d)),
            d.paused !== undefined ? el("span", {}, el("b", {}, "Paused:"), d.paused ? badge("paused", "paused") : "no") : "",
            policy || pending ? el("span", { id: "stack-approvals" }, el("b", {}, "Approvals:"), approvalsText()) : "",
        );
        fill(banners);
        if (d.paused) {
            banners.append(
                el(
                    "div",
                    { class: "banner warn" },
                    el(
                        "b",
                        {},
                        `${d.paused.scope === "deployer" ? "The whole deployer is paused" : "Paused"} by ${d.paused.by} ${when(d.paused.at)}: runs queue, none starts until it is resumed`,
                    ),
                    d.paused.reason,
                ),
            );
        }
        if (!d.valid) {
            banners.append(
                el(
                    "div",
                    { class: "banner bad" },
                    el("b", {}, `The configuration is invalid (${d.problems} problem(s)): nothing can run until it is fixed`),
                    d.problemList.map((p) => `${p.key} = ${p.value}: ${p.message}`).join("\n"),
                ),
            );
        }
        renderActions();
    }

    /** "up and destroy need approval · 1 pending" */
    function approvalsText() {
        const gated = policy ? ["up", "destroy"].filter((op) => policy[op]) : [];
        return [
            policy ? (gated.length ? `${gated.join(" and ")} need${gated.length === 1 ? "s" : ""} approval` : "none needed") : "",
            pending?.length ? el("a", { href: `#/approvals/${pending[0].id}` }, badge("pending", `${pending.length} pending`)) : policy ? "" : "none pending",
        ].flatMap((x, i) => (i > 0 && x ? [" · ", x] : [x]));
    }

    /** Each action, enabled only where it can work; the reasons listed under the buttons. */
    function renderActions() {
        const d = detail;
        const why = [];
        const gate = (act, otherwise) => denied(act, d.team) ?? otherwise ?? null;
        const noCluster = d.appliesToCluster ? null : "the stack renders manifests to a directory: there is no cluster to check, refresh against or destroy";
        const invalid = d.valid ? null : "its configuration is invalid (see above)";
        const specs = [
            { op: "preview", label: "Preview", cls: "primary", reason: gate("preview", invalid) },
            { op: "up", label: policy?.up ? "Up (needs approval)" : "Up", reason: gate("up", invalid) },
            ...(driftChecks
                ? [
                      { op: "drift", label: "Check drift", reason: gate("drift", noCluster ?? invalid) },
                      { op: "refresh", label: "Refresh state", reason: gate("refresh", noCluster ?? invalid) },
                  ]
                : [{ op: "refresh", label: "Refresh (drift)", reason: gate("refresh", noCluster ?? invalid) }]),
            { op: "destroy", label: policy?.destroy ? "Destroy (needs approval)..." : "Destroy...", cls: "danger", reason: gate("destroy", noCluster) },
        ];
        fill(buttons);
        for (const s of specs) {
            const reasonId = `why-${s.op}`;
            const b = el(
                "button",
                { type: "button", class: s.cls, "data-op": s.op, disabled: s.reason !== null, "aria-describedby": s.reason ? reasonId : null },
                s.label,
            );
            if (s.reason) why.push(el("li", { id: reasonId }, `${s.label.replace("...", "")}: ${s.reason}`));
            else if (s.op === "destroy") b.addEventListener("click", () => confirmDestroy());
            else action(b, errors, (key) => startRun({ operation: s.op }, key), `run:${name}:${s.op}`);
            buttons.append(b);
        }
        if (d.paused !== undefined) {
            const reason =
                denied("pause", d.team) ??
                (d.paused?.scope === "deployer" ? "the whole deployer is paused: an admin resumes it (DELETE /v1/pause), not a stack" : null);
            const b = el(
                "button",
                { type: "button", id: "pause", disabled: reason !== null, "aria-describedby": reason ? "why-pause" : null },
                d.paused ? "Resume" : "Pause...",
            );
            if (reason) why.push(el("li", { id: "why-pause" }, `${d.paused ? "Resume" : "Pause"}: ${reason}`));
            else if (d.paused) action(b, errors, (key) => send("DELETE", `/v1/stacks/${encodeURIComponent(name)}/pause`, undefined, key).then(refresh));
            else b.addEventListener("click", () => askPause());
            buttons.append(b);
        }
        fill(reasons, ...why);
    }

    async function startRun(body, key) {
        const res = await send("POST", `/v1/stacks/${encodeURIComponent(name)}/runs`, body, key);
        fill(extra);
        if (res.approval) {
            flash = {
                stack: name,
                node: el(
                    "div",
                    { class: "banner info", role: "status" },
                    el("b", {}, `This ${body.operation} needs an approval`),
                    `A preview (run ${shortId(res.run.id)}) shows what it would change; approval ${shortId(res.approval.id)} is ${res.approval.status}. An approver of team ${detail.team} approves it under `,
                    el("a", { href: `#/approvals/${res.approval.id}` }, "Approvals"),
                    "; the up runs then.",
                ),
            };
        }
        location.hash = `${base}/runs/${res.run.id}`;
    }

    function confirmDestroy() {
        const input = el("input", { id: "destroy-confirm", autocomplete: "off", spellcheck: "false" });
        const go = el("button", { type: "button", class: "danger" }, "Destroy every resource");
        const cancel = el("button", { type: "button" }, "Keep it");
        action(
            go,
            errors,
            async (key) => {
                if (input.value !== name) throw new Error(`type the stack's name, ${name}, to confirm`);
                await startRun({ operation: "destroy", confirm: name }, key);
            },
            `run:${name}:destroy`,
        );
        cancel.addEventListener("click", () => fill(extra));
        fill(
            extra,
            el(
                "div",
                { class: "banner bad" },
                el("b", {}, `Destroy removes every resource stack ${name} manages.`),
                el("div", { class: "row" }, el("label", { for: "destroy-confirm" }, "Type the stack's name to confirm", input), go, cancel),
            ),
        );
        input.focus();
    }

    function askPause() {
        const input = el("input", { id: "pause-reason", required: true, size: 40 });
        const go = el("button", { type: "button", class: "primary" }, "Pause the stack");
        action(go, errors, async (key) => {
            if (!input.value.trim()) throw new Error("say why the stack is paused: others read it");
            await send("POST", `/v1/stacks/${encodeURIComponent(name)}/pause`, { reason: input.value.trim() }, key);
            fill(extra);
            await refresh();
        });
        fill(extra, el("div", { class: "row" }, el("label", { for: "pause-reason" }, "Why pause (shown to everyone)", input), go));
        input.focus();
    }

    reporting(errors, async () => {
        await refresh();
        if (stopped) return;
        if (tab === "config") stops.push(configTab(content, detail));
        else if (tab === "outputs") stops.push(outputsTab(content, detail));
        else if (tab === "drift") stops.push(driftTab(content, detail));
        else if (tab === "schedule") stops.push(scheduleTab(content, detail));
        else if (tab === "runs" && runId) stops.push(runDetail(content, runId, detail, refresh));
    });
    return () => {
        stopped = true;
        clearTimeout(timer);
        for (const s of stops) s();
    };
}
