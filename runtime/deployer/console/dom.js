// Small DOM and formatting helpers every view uses.
import { ApiError, newKey } from "./api.js";

/** An element: attributes (`on*` are listeners, `class`, booleans set or left off) and children (nodes, text, arrays; null skipped). */
export function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs ?? {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
        else if (k === "class") e.className = v;
        else if (v === true) e.setAttribute(k, "");
        else e.setAttribute(k, String(v));
    }
    append(e, children);
    return e;
}

function append(parent, children) {
    for (const c of children) {
        if (c === null || c === undefined || c === false) continue;
        if (Array.isArray(c)) append(parent, c);
        else parent.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

export const byId = (id) => document.getElementById(id);

/** A status badge: its text is the status, its colour the `s-<status>` class. */
export const badge = (status, text) => el("span", { class: `badge s-${status}` }, text ?? status.replace("_", " "));

export const shortId = (id) => (id ? id.slice(0, 8) : "");

/** Date and time in the user's locale, to the second. */
export function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const today = new Date().toDateString() === d.toDateString();
    return today ? d.toLocaleTimeString() : d.toLocaleString();
}

/** "1 min 5 s", "42 s", "850 ms". */
export function duration(ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
    if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** How long a run took (or has taken so far). */
export function runDuration(run) {
    if (!run.startedAt) return run.status === "queued" ? "waiting" : "";
    const end = run.finishedAt ? new Date(run.finishedAt) : new Date();
    return `${duration(end.getTime() - new Date(run.startedAt).getTime())}${run.finishedAt ? "" : " so far"}`;
}

const changeSymbols = { create: "+", update: "~", replace: "±", delete: "-" };

/** "+3 ~1 -2" from a run's counts (same left out); "no changes" when nothing would change. */
export function countsText(counts) {
    if (!counts) return "";
    const parts = Object.entries(changeSymbols)
        .filter(([k]) => (counts[k] ?? 0) > 0)
        .map(([k, sym]) => `${sym}${counts[k]}`);
    return parts.length ? parts.join(" ") : "no changes";
}

/** Counts spelled out, for a sentence: "3 to create, 1 to update" or "3 created" when `done`. */
export function countsSentence(counts, done) {
    const words = done
        ? { create: "created", update: "updated", replace: "replaced", delete: "deleted" }
        : { create: "to create", update: "to update", replace: "to replace", delete: "to delete" };
    return Object.entries(words)
        .filter(([k]) => (counts?.[k] ?? 0) > 0)
        .map(([k, w]) => `${counts[k]} ${w}`)
        .join(", ");
}

/**
 * The stack's own resource (pulumi:pulumi:Stack) when a run changes it (created by the
 * first up, deleted by a destroy): said apart, as the counts and the diff are the platform's resources.
 */
export function stackChangeText(op, done) {
    if (!op) return "";
    const past = { create: "created", update: "updated", replace: "replaced", delete: "deleted" }[op] ?? op;
    return `the stack's own resource (pulumi:pulumi:Stack) ${done ? "was" : "would be"} ${past} too`;
}

export const isActive = (status) => status === "queued" || status === "running";

/** How long a succeeded request's key is kept: a second click this soon is the same intent (a double click), not a new one. */
const doubleClickMs = 3000;

/** Idempotency-Keys of intents named by the caller (e.g. a preview of one stack), shared by every button rendered for it. */
const intents = new Map();

/**
 * Wires a button to a request that changes something, so a double click
 * acts once. While a request is out the button is disabled and further
 * clicks are ignored. Every request of one intent carries one
 * Idempotency-Key: a repeat after a lost answer (api.js sends a keyed
 * request again by itself; a later click sends the key again), and a second click
 * within a few seconds of the first one's answer (the view may have been
 * redrawn in between: name the intent), send the key again, and the
 * deployer answers with what the first request did. A refusal ends the
 * intent at once. Errors go to `errors` (role=alert), cleared on the next click.
 */
export function action(button, errors, fn, intent) {
    const name = intent ?? Symbol("button");
    let busy = false;
    button.addEventListener("click", async (ev) => {
        ev.preventDefault();
        if (busy) return;
        busy = true;
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
        showError(errors, null);
        const held = intents.get(name);
        const key = held && (held.until === null || held.until > Date.now()) ? held.key : newKey();
        intents.set(name, { key, until: null });
        try {
            await fn(key);
            intents.set(name, { key, until: Date.now() + doubleClickMs });
        } catch (err) {
            if (err instanceof ApiError) intents.delete(name);
            showError(errors, err);
        } finally {
            busy = false;
            button.removeAttribute("aria-busy");
            button.disabled = false;
        }
    });
    return button;
}

/** Shows an error (or clears it with null) in an element with role=alert. */
export function showError(target, err) {
    target.textContent = err ? (err instanceof Error ? err.message : String(err)) : "";
}

/** Runs `fn`, showing its error in `target` (cleared first). */
export async function reporting(target, fn) {
    showError(target, null);
    try {
        return await fn();
    } catch (err) {
        showError(target, err);
        return undefined;
    }
}

/** A table with a caption (for screen readers), a header row and rows; `empty` when there are none. */
export function table(caption, headers, rows, empty, attrs) {
    return el(
        "table",
        attrs ?? {},
        el("caption", { class: caption.visible ? "" : "sr" }, caption.text ?? caption),
        el(
            "thead",
            {},
            el(
                "tr",
                {},
                headers.map((h) => el("th", { scope: "col" }, h)),
            ),
        ),
        el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: headers.length, class: "muted" }, empty))),
    );
}

/** A value of config or outputs as text: strings as they are, the rest as JSON. */
export function valueText(v) {
    if (typeof v === "string") return v;
    return JSON.stringify(v);
}

/** Replaces a node's children as `el` takes them: nodes, text, arrays; null, undefined and false skipped. */
export function fill(target, ...children) {
    target.replaceChildren();
    append(target, children);
}
