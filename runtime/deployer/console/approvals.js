// Approvals: gated `up`s and `destroy`s, workspace and tier proposals,
// waiting for an approver. Each is decided with its preview in front of
// the approver: the preview run's diff and policy results.
import { get, getOptional, query, send } from "./api.js";
import { action, badge, el, reporting, shortId, table, when, fill } from "./dom.js";
import { denied, identity } from "./me.js";
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
            fill(list, el("p", { class: "muted" }, "This deployer has no approvals yet (GET /v1/approvals)."));
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
        fill(
            list,
            table("Approvals", ["Approval", "Stack", "What", "Requested by", "When", "Status"], rows, `No ${shownStatus} approvals.`, {
                id: "approvals-table",
            }),
        );
    }

    /** Why the caller cannot approve (null when it can): decided already, its own request, its role, a preview not done. */
    function approveBlocked(a, team) {
        if (a.status !== "pending") return `it is ${a.status}`;
        const me = identity();
        if (me && a.requestedBy === me.subject) return `${me.subject} requested it: an approver who is not the requester approves it`;
        const role = denied("approve", team);
        if (role) return role;
        if (a.preview?.status === "queued" || a.preview?.status === "running") return `its preview is still ${a.preview.status}: read it below, then approve`;
        if (a.preview && a.preview.status !== "succeeded")
            return `its preview ${a.preview.status.replace("_", " ")}: the ${a.operation} has to be requested again`;
        return null;
    }

    async function show() {
        const stack = { team: null };
        const section = el("section", { class: "card", "aria-labelledby": "approval-title", id: "approval-card" });
        detail.append(section);
        const decisionErrors = el("p", { class: "error", role: "alert", id: "decision-error" });
        const reason = el("input", { id: "reject-reason", size: 40, autocomplete: "off" });

        /** The approval's facts and the decision buttons, drawn again when its preview ends. */
        async function render() {
            const a = view((await get(`/v1/approvals/${id}`)).approval);
            stack.team = a.team;
            const own = identity()?.subject === a.requestedBy;
            const approve = el("button", { type: "button", class: "primary", id: "approve-approval" }, "Approve");
            const reject = el("button", { type: "button", class: "danger", id: "reject-approval" }, own ? "Withdraw" : "Reject");
            const approveWhy = approveBlocked(a, a.team);
            const rejectWhy = a.status !== "pending" ? `it is ${a.status}` : own ? null : denied("reject", a.team);
            approve.disabled = approveWhy !== null;
            reject.disabled = rejectWhy !== null;
            if (!approveWhy) {
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
            }
            if (!rejectWhy) {
                action(
                    reject,
                    decisionErrors,
                    async (key) => {
                        if (!reason.value.trim())
                            throw new Error(`say why it is ${own ? "withdrawn" : "rejected"}: ${own ? "approvers" : "the requester"} read it`);
                        await send("POST", `/v1/approvals/${a.id}/reject`, { reason: reason.value.trim() }, key);
                        await render();
                        await load();
                    },
                    `reject:${a.id}`,
                );
            }
            fill(
                section,
                el("h2", { id: "approval-title" }, `Approval ${shortId(a.id)} `, badge(a.status)),
                el(
                    "p",
                    { id: "approval-facts" },
                    `${a.summary} on stack `,
                    el("a", { href: `#/stacks/${encodeURIComponent(a.stack)}` }, a.stack),
                    `, requested by ${a.requestedBy} ${when(a.createdAt)}`,
                    a.expiresAt && a.status === "pending" ? `, expires ${when(a.expiresAt)}` : "",
                    a.configRevision ? ` (config revision ${a.configRevision})` : "",
                    a.decidedBy ? `; ${a.status} by ${a.decidedBy}${a.reason ? `: ${a.reason}` : ""}` : "",
                    a.runId ? [" · run ", el("a", { href: `#/stacks/${encodeURIComponent(a.stack)}/runs/${a.runId}` }, shortId(a.runId))] : "",
                ),
                el(
                    "p",
                    { class: "muted" },
                    "Below: the preview of exactly what approving applies (this revision of the stack file). Read its diff and policy results first.",
                ),
                el("div", { class: "row" }, approve, el("label", { for: "reject-reason" }, own ? "Reason to withdraw" : "Reason to reject", reason), reject),
                [
                    approveWhy && a.status === "pending" ? `Approving: ${approveWhy}` : null,
                    rejectWhy && a.status === "pending" ? `Rejecting: ${rejectWhy}` : null,
                ]
                    .filter(Boolean)
                    .map((t) => el("p", { class: "muted approval-why" }, t)),
                decisionErrors,
            );
            return a;
        }

        const a = await render();
        if (a.previewRunId) stops.push(runDetail(detail, a.previewRunId, stack, () => reporting(decisionErrors, render)));
    }

    reporting(errors, async () => {
        await load();
        if (id) await show();
    });
    return () => {
        for (const s of stops) s();
    };
}
