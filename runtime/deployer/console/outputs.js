// A stack's outputs: what its last succeeded `up` exported (URLs, the
// secrets tier and store, namespaces...), as the API reports them.
import { el, shortId, table, valueText, when } from "./dom.js";

export function outputsTab(container, stack) {
    const outputs = stack.outputs ?? {};
    const up = stack.lastUp;
    const source =
        stack.outputs === null
            ? "No succeeded up yet: outputs appear once an up succeeds."
            : up?.status === "succeeded"
              ? `From the last up, ${shortId(up.id)} (${when(up.finishedAt)}).`
              : `From the last succeeded up; the latest up (${shortId(up?.id)}) ended ${up?.status.replace("_", " ")}, so the stack may differ from these.`;
    const rows = Object.entries(outputs).map(([k, v]) =>
        el(
            "tr",
            { "data-output": k },
            el("td", { class: "mono" }, k),
            el("td", { class: "mono wrap" }, typeof v === "object" && v !== null ? JSON.stringify(v, null, 1) : valueText(v)),
        ),
    );
    container.append(
        el(
            "section",
            { class: "card", "aria-labelledby": "outputs-title" },
            el("h2", { id: "outputs-title" }, "Outputs"),
            el("p", { class: "muted" }, source),
            table("Stack outputs", ["Output", "Value"], rows, "No outputs.", { class: "kv", id: "outputs-table" }),
        ),
    );
    return () => undefined;
}
