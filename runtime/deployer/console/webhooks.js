// Webhooks: where the deployer posts a team's run, drift and approval
// events, and how each delivery went (GET/POST /v1/webhooks,
// DELETE /v1/webhooks/{id}, GET /v1/webhooks/{id}/deliveries). The events a
// webhook may receive are the deployer's list (GET /v1/webhooks `events`).
import { get, getOptional, send } from "./api.js";
import { action, badge, el, reporting, shortId, table, when, fill } from "./dom.js";
import { denied, identity } from "./me.js";

export function webhooksView(main) {
    const errors = el("p", { class: "error", role: "alert", id: "webhooks-error" });
    const list = el("div", {}, el("p", { class: "muted" }, "Loading webhooks..."));
    const deliveries = el("div", { id: "deliveries" });
    // Webhooks are added and removed by a team's admins: offer the teams the caller administers.
    const me = identity();
    const teams = (me?.teams ?? []).filter((t) => me.admin || t.role === "admin").map((t) => t.team);
    const team = el("input", { id: "webhook-team", size: 14, value: teams[0] ?? "", list: "webhook-teams", autocomplete: "off" });
    const url = el("input", { id: "webhook-url", type: "url", size: 44, placeholder: "https://chat.example.com/hooks/deploys", autocomplete: "off" });
    /** A checkbox per event the deployer sends, once GET /v1/webhooks said which. */
    let boxes = [];
    const eventChoice = el("fieldset", { class: "row", id: "webhook-events" }, el("legend", { class: "muted" }, "Events"));
    const add = el("button", { type: "button", class: "primary", id: "webhook-add" }, "Add webhook");
    const created = el("div", { role: "status" });
    add.disabled = me !== null && !me.admin && teams.length === 0;
    const addWhy = add.disabled ? `Adding a webhook needs the admin role in its team; ${me.subject} is admin of none` : null;
    main.append(
        el(
            "section",
            { class: "card", "aria-labelledby": "webhooks-title" },
            el("h1", { id: "webhooks-title" }, "Webhooks"),
            el("p", { class: "muted" }, "Each delivery is signed (X1-Signature: HMAC-SHA256 with the webhook's secret, shown once when it is added)."),
            errors,
            list,
            el(
                "div",
                { class: "row" },
                el("label", { for: "webhook-team" }, "Team", team),
                el(
                    "datalist",
                    { id: "webhook-teams" },
                    teams.map((t) => el("option", { value: t })),
                ),
                el("label", { for: "webhook-url" }, "URL", url),
                add,
            ),
            eventChoice,
            addWhy ? el("p", { class: "muted", id: "webhook-why" }, addWhy) : null,
            created,
        ),
        deliveries,
    );
    action(add, errors, async (key) => {
        const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
        if (chosen.length === 0) throw new Error("choose at least one event");
        const res = await send("POST", "/v1/webhooks", { team: team.value.trim(), url: url.value.trim(), events: chosen }, key);
        // A repeat after a lost answer gets the first answer without the secret (the deployer keeps no copy).
        fill(
            created,
            res.secret === null
                ? el(
                      "p",
                      { class: "once" },
                      `Webhook ${res.url} was added by an earlier attempt whose answer was lost, with its secret: remove it and add it again to see a secret.`,
                  )
                : el(
                      "p",
                      { class: "once" },
                      `Signing secret of ${res.url} (shown once: store it with the receiver): `,
                      el("code", { id: "webhook-secret" }, res.secret),
                  ),
        );
        url.value = "";
        await load();
    });

    async function showDeliveries(hook) {
        const body = await get(`/v1/webhooks/${hook.id}/deliveries`);
        const rows = body.deliveries.map((d) =>
            el(
                "tr",
                {},
                el("td", { class: "nowrap" }, when(d.createdAt)),
                el("td", { class: "nowrap" }, d.event),
                el("td", {}, d.stack ?? ""),
                el("td", { class: "mono" }, shortId(d.runId)),
                el("td", {}, badge(d.status === "delivered" ? "succeeded" : d.status === "failed" ? "failed" : "pending", d.status)),
                el("td", {}, String(d.attempts.length)),
                el("td", { class: "wrap" }, [d.lastStatus ?? "", d.lastError ? ` ${d.lastError}` : ""].join("")),
            ),
        );
        fill(
            deliveries,
            el(
                "section",
                { class: "card", "aria-labelledby": "deliveries-title" },
                el("h2", { id: "deliveries-title" }, `Deliveries to ${hook.url}`),
                table("Deliveries, newest first", ["When", "Event", "Stack", "Run", "Status", "Attempts", "Last answer"], rows, "No deliveries yet."),
            ),
        );
    }

    async function load() {
        const body = await getOptional("/v1/webhooks");
        if (body === undefined) {
            fill(list, el("p", { class: "muted" }, "This deployer has no webhooks yet (GET /v1/webhooks)."));
            add.disabled = true;
            return;
        }
        // The choice is drawn once: a reload after adding keeps what the user ticked.
        if (boxes.length === 0) {
            boxes = body.events.map((e) => el("input", { type: "checkbox", id: `webhook-event-${e}`, value: e, checked: true }));
            eventChoice.append(...boxes.map((b) => el("label", { class: "inline", for: b.id }, b, b.value)));
        }
        const rows = body.webhooks.map((h) => {
            const show = el("button", { type: "button", "aria-label": `Deliveries to ${h.url}` }, "Deliveries");
            show.addEventListener("click", () => reporting(errors, () => showDeliveries(h)));
            const why = denied("delete-webhook", h.team);
            const whyId = `webhook-why-${h.id}`;
            const del = el(
                "button",
                {
                    type: "button",
                    class: "danger",
                    disabled: why !== null,
                    "aria-label": `Remove the webhook to ${h.url}`,
                    "aria-describedby": why ? whyId : null,
                },
                "Remove",
            );
            if (!why)
                action(del, errors, async (key) => {
                    await send("DELETE", `/v1/webhooks/${h.id}`, undefined, key);
                    await load();
                });
            return el(
                "tr",
                { "data-webhook": h.id },
                el("td", {}, h.team),
                el("td", { class: "wrap" }, h.url, h.description ? el("div", { class: "muted" }, h.description) : null),
                el("td", { class: "wrap" }, h.events.join(", ")),
                el("td", { class: "wrap" }, h.createdBy, el("div", { class: "muted" }, when(h.createdAt))),
                el("td", { class: "nowrap" }, show, " ", del, why ? el("div", { class: "muted", id: whyId }, `Remove: ${why}`) : null),
            );
        });
        fill(list, table("Webhooks", ["Team", "URL", "Events", "Added by", ""], rows, "No webhooks.", { id: "webhooks-table" }));
    }
    reporting(errors, load);
    return () => undefined;
}
