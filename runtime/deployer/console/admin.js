// For deployer admins: the audit log (who did what, when, with what
// outcome, every refusal included) and tokens (issue with a role per team,
// shown once; revoke).
import { get, query, send } from "./api.js";
import { action, badge, el, reporting, table, when, fill } from "./dom.js";
import { adminOnly, roles } from "./me.js";

const outcomes = ["allowed", "denied", "ok", "error"];
const auditPage = 50;

function closed(main, what) {
    const reason = adminOnly(what);
    if (reason) main.append(el("section", { class: "card" }, el("h1", {}, what), el("p", {}, reason)));
    return reason !== null;
}

export function auditView(main) {
    if (closed(main, "The audit log")) return () => undefined;
    const errors = el("p", { class: "error", role: "alert", id: "audit-error" });
    const list = el("div", {}, el("p", { class: "muted" }, "Loading the audit log..."));
    const ui = { outcome: "", limit: auditPage };
    const filter = el(
        "select",
        {
            id: "audit-outcome",
            onchange: (ev) => {
                ui.outcome = ev.target.value;
                ui.limit = auditPage;
                reporting(errors, load);
            },
        },
        el("option", { value: "" }, "all"),
        outcomes.map((o) => el("option", { value: o }, o)),
    );
    const more = el("button", { type: "button", id: "audit-more" }, "Show more");
    more.addEventListener("click", () => {
        ui.limit += auditPage;
        reporting(errors, load);
    });
    main.append(
        el(
            "section",
            { class: "card", "aria-labelledby": "audit-title" },
            el("div", { class: "row" }, el("h1", { id: "audit-title", class: "grow" }, "Audit log"), el("label", { for: "audit-outcome" }, "Outcome", filter)),
            errors,
            list,
            el("div", { class: "row" }, more),
        ),
    );
    async function load() {
        const { entries } = await get(`/v1/audit${query({ outcome: ui.outcome, limit: ui.limit })}`);
        more.disabled = entries.length < ui.limit;
        const rows = entries.map((e) =>
            el(
                "tr",
                { "data-audit": e.id },
                el("td", { class: "nowrap" }, when(e.at)),
                el("td", { class: "wrap" }, e.actor),
                el("td", { class: "nowrap" }, e.action),
                el("td", { class: "wrap mono" }, e.target),
                el("td", {}, badge(e.outcome)),
                el("td", { class: "wrap" }, e.reason ?? ""),
            ),
        );
        fill(list, table("Audit entries, newest first", ["When", "Who", "Action", "Target", "Outcome", "Reason"], rows, "No entries.", { id: "audit-table" }));
    }
    reporting(errors, load);
    return () => undefined;
}

/** A token's teams as text, whether the deployer lists roles ({team: role}) or plain teams. */
const teamsText = (teams) =>
    Array.isArray(teams)
        ? teams.join(", ")
        : Object.entries(teams ?? {})
              .map(([t, r]) => `${t} (${r})`)
              .join(", ");

export function tokensView(main) {
    if (closed(main, "Tokens")) return () => undefined;
    const errors = el("p", { class: "error", role: "alert", id: "tokens-error" });
    const list = el("div", {}, el("p", { class: "muted" }, "Loading tokens..."));
    const name = el("input", { id: "token-name", size: 20, autocomplete: "off", spellcheck: "false" });
    const team = el("input", { id: "token-team", size: 16, autocomplete: "off", spellcheck: "false" });
    const role = el(
        "select",
        { id: "token-role" },
        roles.map((r) => el("option", { value: r, selected: r === "operator" }, r)),
    );
    const admin = el("input", { type: "checkbox", id: "token-admin" });
    const issue = el("button", { type: "button", class: "primary", id: "token-issue" }, "Issue token");
    const issued = el("div", { id: "token-issued", role: "status" });
    main.append(
        el(
            "section",
            { class: "card", "aria-labelledby": "tokens-title" },
            el("h1", { id: "tokens-title" }, "Tokens"),
            el(
                "p",
                { class: "muted" },
                "Tokens are stored as hashes: a token is shown once, when issued. Teams are given as team:role, comma-separated, or one team with the role chosen.",
            ),
            el(
                "div",
                { class: "row" },
                el("label", { for: "token-name" }, "Name", name),
                el("label", { for: "token-team" }, "Team(s)", team),
                el("label", { for: "token-role" }, "Role", role),
                el("label", { class: "inline", for: "token-admin" }, admin, "deployer admin"),
                issue,
            ),
            issued,
            errors,
            list,
        ),
    );
    action(issue, errors, async (key) => {
        const teams = {};
        for (const part of team.value
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)) {
            const [t, r] = part.split(":");
            teams[t] = r ?? role.value;
        }
        const res = await send("POST", "/v1/tokens", { name: name.value.trim(), teams, admin: admin.checked }, key);
        // A repeat after a lost answer gets the first answer without the value (the deployer keeps no copy).
        fill(
            issued,
            res.token === null
                ? el(
                      "p",
                      { class: "once" },
                      `Token ${res.name} was issued by an earlier attempt whose answer was lost, with its value: revoke it and issue another.`,
                  )
                : el("p", { class: "once" }, `Token ${res.name} (copy it now, it is not shown again): `, el("code", { id: "token-value" }, res.token)),
        );
        name.value = "";
        await load();
    });
    async function load() {
        const { tokens } = await get("/v1/tokens");
        const rows = tokens.map((t) => {
            const revoke = el("button", { type: "button", class: "danger", disabled: t.revokedAt !== null }, "Revoke");
            if (!t.revokedAt) {
                action(revoke, errors, async (key) => {
                    if (!confirm(`Revoke token ${t.name}? Whoever uses it is refused from now on.`)) return;
                    await send("DELETE", `/v1/tokens/${t.id}`, undefined, key);
                    await load();
                });
            }
            return el(
                "tr",
                { "data-token": t.name },
                el("td", { class: "mono" }, t.name),
                el("td", { class: "wrap" }, teamsText(t.teams) || el("span", { class: "muted" }, "none"), t.admin ? [" ", badge("pending", "admin")] : ""),
                el("td", { class: "nowrap" }, when(t.createdAt), el("div", { class: "muted" }, t.createdBy)),
                el("td", { class: "nowrap" }, t.lastUsedAt ? when(t.lastUsedAt) : el("span", { class: "muted" }, "never")),
                el("td", {}, t.revokedAt ? badge("cancelled", `revoked ${when(t.revokedAt)}`) : badge("succeeded", "active")),
                el("td", {}, revoke),
            );
        });
        fill(list, table("Tokens", ["Name", "Teams", "Issued", "Last used", "State", ""], rows, "No tokens.", { id: "tokens-table" }));
    }
    reporting(errors, load);
    return () => undefined;
}
