// A stack's configuration: every x1agent key as a row, read by anyone who
// may read the stack, edited by those who may change it (PUT
// /v1/stacks/{stack}/config with the revision it was read at). A 422 lists
// every problem; each is shown on the key it names. Workspaces and the
// secrets tier change only through their own proposals (previewed, then
// approved), offered below the table.
import { ApiError, send } from "./api.js";
import { action, el, table, valueText, fill } from "./dom.js";
import { denied } from "./me.js";

/** The leaves of a config object, with keys as the stack schema names them (`ingress.host`, `workspaces[0].id`). */
export function flatten(value, prefix = "") {
    if (value !== null && typeof value === "object" && Object.keys(value).length > 0) {
        return Object.entries(value).flatMap(([k, v]) => flatten(v, Array.isArray(value) ? `${prefix}[${k}]` : prefix ? `${prefix}.${k}` : k));
    }
    return [{ key: prefix, value }];
}

/** `ingress.host` -> ["ingress", "host"]; `workspaces[0].id` -> ["workspaces", 0, "id"]. */
export function pathOf(key) {
    const out = [];
    for (const m of key.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
    return out;
}

function setAt(obj, path, value) {
    let cur = obj;
    path.forEach((p, i) => {
        if (i === path.length - 1) cur[p] = value;
        else {
            if (cur[p] === null || typeof cur[p] !== "object") cur[p] = typeof path[i + 1] === "number" ? [] : {};
            cur = cur[p];
        }
    });
}

/** What a typed value means: the original's type where there is one (a number stays a number), else YAML-like scalars. */
function parseTyped(text, original) {
    if (typeof original === "string") return text;
    if (typeof original === "number" && /^-?\d+(\.\d+)?$/.test(text.trim())) return Number(text);
    const t = text.trim();
    if (t === "true" || t === "false" || t === "null" || /^-?\d+(\.\d+)?$/.test(t) || /^[[{]/.test(t)) {
        try {
            return JSON.parse(t);
        } catch {
            return text;
        }
    }
    return text;
}

/** Keys that change only through their own requests (a preview, then an approved up). */
const gatedKey = (key) =>
    /^workspaces(\[|$)/.test(key)
        ? "workspaces change through a workspace proposal (below)"
        : key === "secrets.tier"
          ? "the tier changes through a tier upgrade (below)"
          : null;

const bare = (problemKey) => problemKey.replace(/^x1agent:/, "");

/** The row a problem belongs on: the key itself, else the closest key under it. */
function rowFor(problemKey, keys) {
    const k = bare(problemKey);
    return keys.find((r) => r === k) ?? keys.find((r) => r.startsWith(`${k}.`) || r.startsWith(`${k}[`));
}

export function configTab(container, stack) {
    const errors = el("div", { class: "error", role: "alert", id: "config-error" });
    const body = el("div", {});
    const editBtn = el("button", { type: "button", id: "config-edit" }, "Edit");
    const whyNot = el("span", { class: "muted", id: "config-why" });
    container.append(
        el(
            "section",
            { class: "card", "aria-labelledby": "config-title" },
            el("div", { class: "row" }, el("h2", { id: "config-title", class: "grow" }, "Configuration"), whyNot, editBtn),
            el(
                "p",
                { class: "muted" },
                `stacks/Pulumi.${stack.name}.yaml, revision ${stack.revision}. Credential-looking values are masked; a masked value sent back unchanged keeps what is stored.`,
            ),
            errors,
            body,
        ),
    );
    const reason =
        denied("edit-config", stack.team) ?? (stack.activeRuns > 0 ? "the stack has a queued or running run: edit its config when it is idle" : null);
    editBtn.disabled = reason !== null;
    whyNot.textContent = reason ? `Editing: ${reason}` : "";
    if (reason) editBtn.setAttribute("aria-describedby", "config-why");

    const leaves = flatten(stack.config);
    const known = (stack.problemList ?? []).reduce((m, p) => {
        const row = rowFor(
            p.key,
            leaves.map((l) => l.key),
        );
        if (row) m.set(row, [...(m.get(row) ?? []), p.message]);
        return m;
    }, new Map());

    function readMode() {
        editBtn.hidden = false;
        fill(
            body,
            table(
                "Configuration keys",
                ["Key", "Value"],
                leaves.map((l) =>
                    el(
                        "tr",
                        { "data-key": l.key },
                        el("td", { class: "mono wrap" }, l.key),
                        el(
                            "td",
                            { class: "mono wrap" },
                            valueText(l.value),
                            (known.get(l.key) ?? []).map((m) => el("div", { class: "field-error" }, m)),
                        ),
                    ),
                ),
                "No x1agent keys.",
                { class: "kv", id: "config-table" },
            ),
        );
    }

    function editMode() {
        editBtn.hidden = true;
        const inputs = leaves.map((l, i) => {
            const id = `cfg-${i}`;
            const gated = gatedKey(l.key);
            const input =
                typeof l.value === "boolean"
                    ? el(
                          "select",
                          { id, "data-key": l.key, disabled: gated !== null },
                          ["true", "false"].map((v) => el("option", { value: v, selected: String(l.value) === v }, v)),
                      )
                    : el("input", { id, "data-key": l.key, value: valueText(l.value), disabled: gated !== null, autocomplete: "off", spellcheck: "false" });
            const note = el("div", { class: "field-error", id: `${id}-error` });
            return { leaf: l, input, note, gated };
        });
        const addKey = el("input", { id: "cfg-new-key", placeholder: "e.g. proxy.noProxy", autocomplete: "off", spellcheck: "false" });
        const addValue = el("input", { id: "cfg-new-value", autocomplete: "off", spellcheck: "false" });
        const addNote = el("div", { class: "field-error", id: "cfg-new-error" });
        const save = el("button", { type: "submit", class: "primary", id: "config-save" }, "Save configuration");
        const cancel = el("button", { type: "button", id: "config-cancel" }, "Cancel");
        const general = el("ul", { class: "error", id: "config-problems" });
        cancel.addEventListener("click", () => {
            errors.textContent = "";
            readMode();
        });
        const rows = inputs.map(({ leaf, input, note, gated }) =>
            el(
                "tr",
                { "data-key": leaf.key },
                el("td", { class: "mono wrap" }, el("label", { for: input.id }, leaf.key)),
                el("td", {}, input, gated ? el("div", { class: "muted" }, gated) : null, note),
            ),
        );
        rows.push(
            el(
                "tr",
                {},
                el("td", {}, el("label", { for: "cfg-new-key" }, "Add a key", addKey)),
                el("td", {}, el("label", { for: "cfg-new-value" }, "Its value", addValue), addNote),
            ),
        );
        const form = el(
            "form",
            { id: "config-form" },
            table("Edit configuration keys", ["Key", "Value"], rows, "", { class: "kv config-table" }),
            general,
            el("div", { class: "row" }, save, cancel),
        );
        fill(body, form);
        inputs[0]?.input.focus();

        function clearProblems() {
            fill(general);
            for (const { input, note } of [...inputs, { input: addKey, note: addNote }]) {
                input.removeAttribute("aria-invalid");
                input.removeAttribute("aria-describedby");
                note.textContent = "";
            }
        }

        function showProblems(problems) {
            const byKey = new Map(inputs.map((x) => [x.leaf.key, x]));
            const newKey = addKey.value.trim();
            const keys = [...byKey.keys(), ...(newKey ? [newKey] : [])];
            for (const p of problems) {
                const row = rowFor(p.key, keys);
                const target = row === newKey && newKey ? { input: addKey, note: addNote } : row ? byKey.get(row) : undefined;
                const text = `${bare(p.key)} = ${p.value}: ${p.message}`;
                if (!target) {
                    general.append(el("li", {}, text));
                    continue;
                }
                target.note.append(el("div", {}, text));
                target.input.setAttribute("aria-invalid", "true");
                target.input.setAttribute("aria-describedby", target.note.id);
            }
            // Focus the first key to fix, so a keyboard user lands on it.
            form.querySelector('[aria-invalid="true"]')?.focus();
        }

        action(save, errors, async (key) => {
            clearProblems();
            const config = structuredClone(stack.config);
            for (const { leaf, input, gated } of inputs) {
                if (gated) continue;
                setAt(config, pathOf(leaf.key), parseTyped(input.value, leaf.value));
            }
            const extraKey = addKey.value.trim();
            if (extraKey) setAt(config, pathOf(extraKey), parseTyped(addValue.value, undefined));
            try {
                await send("PUT", `/v1/stacks/${encodeURIComponent(stack.name)}/config`, { config, revision: stack.revision }, key);
            } catch (err) {
                if (err instanceof ApiError && err.problems.length) {
                    showProblems(err.problems);
                    throw new Error(`Not saved: ${err.problems.length} problem(s), shown on their keys. Nothing was written.`);
                }
                throw err;
            }
            // Saved: the page shows the stack as it is now (its new revision).
            window.dispatchEvent(new HashChangeEvent("hashchange"));
        });
        form.addEventListener("submit", (ev) => {
            ev.preventDefault();
            save.click();
        });
    }

    editBtn.addEventListener("click", () => editMode());
    readMode();
    proposals(container, stack);
    return () => undefined;
}

/** Workspace and tier proposals: each queues a preview of the change; approving it applies it. */
function proposals(container, stack) {
    const errors = el("p", { class: "error", role: "alert", id: "proposal-error" });
    const reason = denied("propose-workspace", stack.team);
    const workspaces = Array.isArray(stack.config.workspaces) ? stack.config.workspaces : [];
    const open = (res) => {
        location.hash = `#/stacks/${encodeURIComponent(stack.name)}/runs/${res.run.id}`;
    };
    const rows = workspaces.map((w) => {
        const b = el("button", { type: "button", class: "danger", disabled: reason !== null }, "Propose removal");
        if (!reason)
            action(b, errors, async (key) =>
                open(await send("DELETE", `/v1/stacks/${encodeURIComponent(stack.name)}/workspaces/${encodeURIComponent(w.id)}`, undefined, key)),
            );
        return el("tr", {}, el("td", { class: "mono" }, w.id), el("td", {}, w.team ?? el("span", { class: "muted" }, "stack's team")), el("td", {}, b));
    });
    const id = el("input", { id: "ws-id", size: 16, autocomplete: "off", disabled: reason !== null });
    const team = el("input", { id: "ws-team", size: 14, value: stack.team ?? "", autocomplete: "off", disabled: reason !== null });
    const add = el("button", { type: "button", id: "ws-add", disabled: reason !== null }, "Propose workspace");
    if (!reason) {
        action(add, errors, async (key) => {
            const body = team.value.trim() ? { id: id.value.trim(), team: team.value.trim() } : { id: id.value.trim() };
            open(await send("POST", `/v1/stacks/${encodeURIComponent(stack.name)}/workspaces`, body, key));
        });
    }
    container.append(
        el(
            "section",
            { class: "card", "aria-labelledby": "ws-title" },
            el("h2", { id: "ws-title" }, "Workspaces"),
            el("p", { class: "muted" }, "A change is proposed: a preview of it runs first, and an approval applies it."),
            table("Workspaces", ["Workspace", "Team", ""], rows, "No workspaces."),
            el("div", { class: "row" }, el("label", { for: "ws-id" }, "Workspace id", id), el("label", { for: "ws-team" }, "Team", team), add),
            reason ? el("p", { class: "muted" }, `Proposing: ${reason}`) : null,
            errors,
        ),
    );
    tierUpgrade(container, stack, reason, open);
}

/** The secrets tiers (the deployer says which move is an upgrade: kubernetes < vault < a cloud's secret manager). */
const tiers = ["kubernetes", "vault", "aws", "gcp", "azure"];

/** A secrets tier upgrade: the tier and its settings (JSON), previewed, then approved. */
function tierUpgrade(container, stack, reason, open) {
    const errors = el("p", { class: "error", role: "alert", id: "tier-error" });
    const current = stack.tier;
    const higher = tiers.filter((t) => t !== current);
    const tier = el(
        "select",
        { id: "tier-to", disabled: reason !== null || higher.length === 0 },
        higher.map((t) => el("option", { value: t }, t)),
    );
    const settings = el("textarea", { id: "tier-settings", rows: 3, cols: 60, spellcheck: "false", disabled: reason !== null || higher.length === 0 });
    const go = el("button", { type: "button", id: "tier-propose", disabled: reason !== null || higher.length === 0 }, "Propose tier upgrade");
    if (!go.disabled) {
        action(go, errors, async (key) => {
            let body = {};
            if (settings.value.trim()) {
                try {
                    body = JSON.parse(settings.value);
                } catch (err) {
                    throw new Error(`the settings of the ${tier.value} tier are not JSON: ${err.message}`);
                }
            }
            open(await send("POST", `/v1/stacks/${encodeURIComponent(stack.name)}/secrets-tier`, { tier: tier.value, [tier.value]: body }, key));
        });
    }
    container.append(
        el(
            "section",
            { class: "card", "aria-labelledby": "tier-title" },
            el("h2", { id: "tier-title" }, "Secrets tier"),
            el("p", { class: "muted" }, `Now ${current ?? "?"}. An upgrade is proposed like a workspace: previewed, then approved.`),
            higher.length
                ? el(
                      "div",
                      { class: "row" },
                      el("label", { for: "tier-to" }, "Upgrade to", tier),
                      el("label", { for: "tier-settings" }, "Its settings (JSON, as in the stack file's secrets.<tier>)", settings),
                      go,
                  )
                : el("p", {}, "This is the highest tier."),
            errors,
        ),
    );
}
