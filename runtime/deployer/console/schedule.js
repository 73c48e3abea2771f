// A stack's schedule: a drift check on a cron (GET/PUT
// /v1/stacks/{stack}/schedule), optionally remediating what drifted.
import { ApiError, get, send } from "./api.js";
import { action, el, reporting, fill } from "./dom.js";
import { denied } from "./me.js";

export function scheduleTab(container, stack) {
    const url = `/v1/stacks/${encodeURIComponent(stack.name)}/schedule`;
    const errors = el("p", { class: "error", role: "alert", id: "schedule-error" });
    const body = el("div", {}, el("p", { class: "muted" }, "Loading the schedule..."));
    container.append(el("section", { class: "card", "aria-labelledby": "schedule-title" }, el("h2", { id: "schedule-title" }, "Schedule"), errors, body));
    const render = (schedule) => {
        const reason =
            denied("schedule", stack.team) ?? (stack.appliesToCluster ? null : "the stack renders to a directory: there is no cluster to check for drift");
        const drift = schedule.drift;
        const cronError = el("div", { class: "field-error", id: "schedule-cron-error" });
        const cron = el("input", {
            id: "schedule-cron",
            value: drift?.cron ?? "",
            placeholder: "0 * * * *",
            disabled: reason !== null,
            autocomplete: "off",
            "aria-describedby": "schedule-cron-error",
        });
        const remediate = el("input", { type: "checkbox", id: "schedule-remediate", checked: drift?.remediate === true, disabled: reason !== null });
        const save = el("button", { type: "button", class: "primary", disabled: reason !== null }, "Save schedule");
        const clear = el("button", { type: "button", disabled: reason !== null || !drift }, "Remove schedule");
        /** Saves, or shows the deployer's objection on the cron field (a 422 names the key drift.cron) and focuses it. */
        const put = async (value, key) => {
            cron.removeAttribute("aria-invalid");
            cronError.textContent = "";
            try {
                render(await send("PUT", url, value, key));
            } catch (err) {
                const problem = err instanceof ApiError ? err.problems.find((p) => p.key === "drift.cron") : undefined;
                if (!problem) throw err;
                cron.setAttribute("aria-invalid", "true");
                cronError.textContent = problem.message;
                cron.focus();
                throw new Error(`Not saved: drift.cron '${problem.value}' is refused (see the field). The schedule is unchanged.`);
            }
        };
        if (!reason) {
            action(save, errors, (key) => put({ drift: { cron: cron.value.trim(), remediate: remediate.checked } }, key));
            action(clear, errors, (key) => put({ drift: null }, key));
        }
        fill(
            body,
            el(
                "p",
                { id: "schedule-summary" },
                drift
                    ? `Drift is checked on cron "${drift.cron}"${drift.remediate ? ", and an up remediates what drifted" : "; drift is reported, not remediated"}.`
                    : "No drift schedule.",
                drift?.nextCheckAt ? ` Next check: ${new Date(drift.nextCheckAt).toLocaleString()}.` : "",
                drift?.updatedBy ? ` Set by ${drift.updatedBy}.` : "",
            ),
            el(
                "div",
                { class: "row" },
                el("label", { for: "schedule-cron" }, "Cron, UTC (minute hour day month weekday)", cron, cronError),
                el("label", { class: "inline", for: "schedule-remediate" }, remediate, "Remediate drift with an up"),
                save,
                clear,
            ),
            reason ? el("p", { class: "muted" }, `Changing it: ${reason}`) : null,
        );
    };
    reporting(errors, async () => {
        try {
            render(await get(url));
        } catch (err) {
            if (err instanceof ApiError && err.noRoute)
                fill(body, el("p", { class: "muted" }, "This deployer has no schedules yet (GET /v1/stacks/{stack}/schedule)."));
            else throw err;
        }
    });
    return () => undefined;
}
