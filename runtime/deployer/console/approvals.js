// Approvals: gated `up`s and `destroy`s, workspace and tier proposals,
// waiting for an approver. Each is decided with its preview in front of
// the approver: the preview run's diff and policy results.
import { get, getOptional, query, send } from "./api.js";
import { action, badge, el, reporting, shortId, table, when } from "./dom.js";
import { denied } from "./me.js";
import { runDetail } from "./runs.js";

const statuses = ["pending", "approved", "rejected", "expired"];

/** An approval as the console uses it, whatever optional fields the deployer adds. */
function view(a) {
    return {
        ...a,
        previewRunId: a.previewRunId ?? a.runId ?? a.preview?.id ?? a.run?.id ?? null,
        requestedBy: a.requestedBy ?? a.requester ?? "",
        summary: a.summary ?? a.change?.summary ?? a.changeSummary ?? (a.operation ? `${a.operation} ${a.stack}` : ""),
        createdAt: a.createdAt ?? a.requestedAt ?? null,
    };
}

/** Pending approvals per stack; undefined on a deployer without approvals. */
export async function approvalsByStack() {
    const body = await getOptional("/v1/approvals?status=pending");
    if (body === undefined) return undefined;
    const out = new Map();
    for (const a of body.approvals.map(view)) out.set(a.stack, [...(out.get(a.stack) ?? []), a]);
    return out;
}

export async function pendingApprovals() {
    const body = await getOptional("/v1/approvals?status=pending");
    return body ? body.approvals.length : 0;
}

let shownStatus = "pending";

export function approvalsView(main, id) {
    const errors = el("p", { class: "error", role: "alert", id: "approvals-error" });
    const list = el("div", {}, el("p", { class: "muted" }, "Loading approvals..."));
    const filter = el(
        "select",
        {
            id: "approvals-status",
            onchange: (ev) => {
                shownStatus = ev.target.value;
                reporting(errors, load);
            },
        },
        statuses.map((s) => el("option", { value: s, selected: s === shownStatus }, s)),
    );
    const detail = el("div", { id: "approval-detail" });
    main.append(
        el(
            "section",
            { class: "card", "aria-labelledby": "approvals-title" },
            el(
                "div",
                { class: "row" },
                el("h1", { id: "approvals-title", class: "grow" }, "Approvals"),
                el("label", { for: "approvals-status" }, "Status", filter),
            ),
            errors,
            list,
        ),
        detail,
    );
    const stops = [];

    async function load() {
        const body = await getOptional(`/v1/approvals${query({ status: shownStatus })}`);
        if (body === undefined) {
            list.replaceChildren(el("p", { class: "muted" }, "This deployer has no approvals yet (GET /v1/approvals)."));
            return;
        }
        const rows = body.approvals
            .map(view)
            .map((a) =>
                el(
                    "tr",
                    { "data-approval": a.id, class: a.id === id ? "selected" : null },
                    el("td", { class: "mono nowrap" }, el("a", { href: `#/approvals/${a.id}` }, shortId(a.id))),
                    el("td", {}, a.stack),
                    el("td", { class: "wrap" }, a.summary),
                    el("td", { class: "wrap" }, a.requestedBy),
                    el("td", { class: "nowrap" }, when(a.createdAt)),
                    el("td", {}, badge(a.status)),
                ),
            );
        list.replaceChildren(
            table("Approvals", ["Approval", "Stack", "What", "Requested by", "When", "Status"], rows, `No ${shownStatus} approvals.`, {
                id: "approvals-table",
            }),
        );
    }

    async function show() {
        const a = view((await get(`/v1/approvals/${id}`)).approval);
        const stack = await get(`/v1/stacks/${encodeURIComponent(a.stack)}`);
        const decisionErrors = el("p", { class: "error", role: "alert", id: "decision-error" });
        const reason = el("input", { id: "reject-reason", size: 40, autocomplete: "off" });
        const approve = el("button", { type: "button", class: "primary", id: "approve-approval" }, "Approve");
        const reject = el("button", { type: "button", class: "danger", id: "reject-approval" }, "Reject");
        const why = a.status === "pending" ? denied("approve", stack.team) : `it is ${a.status}`;
        for (const b of [approve, reject]) b.disabled = why !== null;
        const decided = async () => {
            window.dispatchEvent(new HashChangeEvent("hashchange"));
        };
        if (!why) {
            action(
                approve,
                decisionErrors,
                async (key) => {
                    const res = await send("POST", `/v1/approvals/${a.id}/approve`, undefined, key);
                    // Approved: follow the run it queued.
                    location.hash = `#/stacks/${encodeURIComponent(a.stack)}/runs/${res.run.id}`;
                },
                `approve:${a.id}`,
            );
            action(
                reject,
                decisionErrors,
                async (key) => {
                    if (!reason.value.trim()) throw new Error("say why it is rejected: the requester reads it");
                    await send("POST", `/v1/approvals/${a.id}/reject`, { reason: reason.value.trim() }, key);
                    await decided();
                },
                `reject:${a.id}`,
            );
        }
        detail.append(
            el(
                "section",
                { class: "card", "aria-labelledby": "approval-title" },
                el("h2", { id: "approval-title" }, `Approval ${shortId(a.id)} `, badge(a.status)),
                el(
                    "p",
                    { id: "approval-facts" },
                    `${a.summary} on stack `,
                    el("a", { href: `#/stacks/${encodeURIComponent(a.stack)}` }, a.stack),
                    `, requested by ${a.requestedBy} ${when(a.createdAt)}`,
                    a.expiresAt && a.status === "pending" ? `, expires ${when(a.expiresAt)}` : "",
                    a.revision ? ` (config revision ${a.revision})` : "",
                    a.decidedBy ? `; ${a.status} by ${a.decidedBy}${a.reason ? `: ${a.reason}` : ""}` : "",
                ),
                el("p", { class: "muted" }, "Below: the preview of exactly what approving applies. Read its diff and policy results first."),
                el("div", { class: "row" }, approve, el("label", { for: "reject-reason" }, "Reason to reject", reason), reject),
                why ? el("p", { class: "muted", id: "approval-why" }, `Deciding: ${why}`) : null,
                decisionErrors,
            ),
        );
        if (a.previewRunId) stops.push(runDetail(detail, a.previewRunId, stack, () => undefined));
    }

    reporting(errors, async () => {
        await load();
        if (id) await show();
    });
    return () => {
        for (const s of stops) s();
    };
}
