import { guarded, stackPolicy, type Res } from "../lib/policy";
import { describe, entriesOf, get, isKind } from "../lib/resources";

const chartTypes = new Set(["kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v3:Release"]);

/** The chart's name from a chart reference: `nats`, `oci://host/path/nats`, `./charts/nats-2.12.3.tgz`, `/abs/nats`. */
export function chartName(chart: string): string {
    const last = chart.replace(/\/+$/, "").split("/").pop() ?? "";
    return last.replace(/\.tgz$/, "").replace(/-v?[0-9]+\.[0-9]+\.[0-9]+.*$/, "");
}

/** Client TLS settings from a rendered nats.conf (JSON as the chart renders it, else a text scan). */
function confVerifies(text: string): { tls: boolean; verify: boolean } {
    try {
        const conf = JSON.parse(text) as { tls?: Record<string, unknown> };
        return { tls: conf.tls !== undefined, verify: conf.tls?.verify === true || conf.tls?.verify_and_map === true };
    } catch {
        // Not JSON (a hand-written conf): look for a tls block and verify anywhere in it.
        return { tls: /(^|\s|")tls"?\s*[:=]?\s*\{/m.test(text), verify: /verify(_and_map)?"?\s*[:=]\s*true/.test(text) };
    }
}

/**
 * NATS carries x1agent's control traffic, including from agent sessions in
 * the workspaces; it must require a client certificate signed by its CA
 * (TLS `verify`), not just encrypt. Checked on the NATS chart's values
 * (config.nats.tls.enabled and merge.verify) and, where the preview renders
 * the chart, on the nats.conf it produces.
 */
export const natsClientCertVerification = stackPolicy(
    {
        name: "nats-client-cert-verification",
        family: "production-checklist",
        description: "NATS runs with TLS on the client port and client-certificate verification (verify: true).",
        severity: "high",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Keep nats.mtls: true in the stack config (the default): the chart gets config.nats.tls { enabled: true, merge: { verify: true } } with the server certificate and CA.\n" +
            "2. For a NATS you run yourself, set tls { verify: true, ca_file: <x1agent-nats-ca> } on its client port.",
    },
    (resources, { report }) => {
        const check = (r: Res, fn: () => void) => guarded(r, report, fn);
        for (const r of resources) {
            if (chartTypes.has(r.type)) {
                check(r, () => {
                    if (chartName(String(get(r.props, "chart") ?? "")) !== "nats") return;
                    const tls = get(r.props, "values", "config", "nats", "tls");
                    if (get(tls, "enabled") !== true) {
                        report(`${r.type} '${r.name}' (NATS) has no TLS on the client port: set values config.nats.tls { enabled: true, secretName: <server cert> } with merge.verify: true (nats.mtls: true)`, r.urn);
                    } else if (get(tls, "merge", "verify") !== true && get(tls, "merge", "verify_and_map") !== true) {
                        report(`${r.type} '${r.name}' (NATS) does not verify client certificates: set values config.nats.tls.merge.verify: true (stack config nats.mtls: true)`, r.urn);
                    }
                });
            }
            if (isKind(r, "core", "ConfigMap")) {
                check(r, () => {
                    const conf = entriesOf(get(r.props, "data")).find(([k]) => k === "nats.conf")?.[1];
                    if (typeof conf !== "string") return;
                    const v = confVerifies(conf);
                    if (!v.tls) report(`${describe(r)} nats.conf has no tls block: the client port is plaintext; enable TLS with verify: true`, r.urn);
                    else if (!v.verify) report(`${describe(r)} nats.conf enables TLS without verify: true: clients are not required to present a certificate`, r.urn);
                });
            }
        }
    },
);
