import { guarded, stackPolicy, type Res } from "../lib/policy";
import { asKind, describe, entriesOf, failUnknown, get, UNKNOWN } from "../lib/resources";

const chartTypes = new Set(["kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v3:Release"]);

/** The chart's name from a chart reference: `nats`, `oci://host/path/nats`, `./charts/nats-2.12.3.tgz`, `/abs/nats`. */
export function chartName(chart: string): string {
    const last = chart.replace(/\/+$/, "").split("/").pop() ?? "";
    return last.replace(/\.tgz$/, "").replace(/-v?[0-9]+\.[0-9]+\.[0-9]+.*$/, "");
}

/** The program's NATS add-on component: its chart is NATS whatever the chart is called (a mirror, a local copy). */
const natsComponentType = "x1agent:addons:Nats";

/** The type of the resource a URN names (`urn:pulumi:s::p::parent$type::name` -> `type`). */
export function parentType(urn: string | undefined): string | undefined {
    return urn?.split("::")[2]?.split("$").pop();
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
 * (TLS `verify`), not just encrypt. A stack check, from three kinds of
 * evidence:
 *
 * - the program's Nats component (`x1agent:addons:Nats`) and its registered
 *   output `clientCertificateVerification`;
 * - a rendered nats.conf (ConfigMap key `nats.conf`, as the upstream chart
 *   renders it);
 * - the values of a NATS helm.v3 Release (recognised by chart name or by its
 *   Nats parent). A helm.v4 Chart's values are not visible to policies (the
 *   analyzer receives its props as `{}`), hence the component output.
 *
 * Any evidence that verification is off fails; a NATS chart installed with
 * no evidence either way fails closed.
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
        let evidence = false;
        const components = resources.filter((r) => r.type === natsComponentType);
        for (const c of components) {
            guarded(c, report, () => {
                const verify = new Map(entriesOf(c.props)).get("clientCertificateVerification");
                if (verify === undefined) return;
                if (verify === UNKNOWN) failUnknown(c.props, "clientCertificateVerification");
                evidence = true;
                if (verify !== true)
                    report(
                        `NATS (${c.name}) does not verify client certificates (clientCertificateVerification: ${String(verify)}): set nats.mtls: true in the stack config`,
                        c.urn,
                    );
            });
        }
        const charts = resources.filter((r) => chartTypes.has(r.type) && (parentType(r.parent) === natsComponentType || chartNameOf(r) === "nats"));
        for (const r of resources) {
            const configMap = asKind(r, "core/ConfigMap");
            if (configMap) {
                guarded(r, report, () => {
                    const conf = entriesOf(configMap.data).find(([k]) => k === "nats.conf")?.[1];
                    if (typeof conf !== "string") return;
                    evidence = true;
                    const v = confVerifies(conf);
                    if (!v.tls) report(`${describe(r)} nats.conf has no tls block: the client port is plaintext; enable TLS with verify: true`, r.urn);
                    else if (!v.verify)
                        report(`${describe(r)} nats.conf enables TLS without verify: true: clients are not required to present a certificate`, r.urn);
                });
            }
        }
        for (const r of charts) {
            guarded(r, report, () => {
                const values = get(r.props, "values");
                if (values === undefined) return; // a helm.v4 Chart: values not visible
                evidence = true;
                const tls = get(values, "config", "nats", "tls");
                if (get(tls, "enabled") !== true) {
                    report(
                        `${r.type} '${r.name}' (NATS) has no TLS on the client port: set values config.nats.tls { enabled: true, secretName: <server cert> } with merge.verify: true (nats.mtls: true)`,
                        r.urn,
                    );
                } else if (get(tls, "merge", "verify") !== true && get(tls, "merge", "verify_and_map") !== true) {
                    report(
                        `${r.type} '${r.name}' (NATS) does not verify client certificates: set values config.nats.tls.merge.verify: true (stack config nats.mtls: true)`,
                        r.urn,
                    );
                }
            });
        }
        if (charts.length > 0 && !evidence) {
            report(
                `NATS is installed (${charts.map((c) => c.name).join(", ")}) but nothing in the stack shows whether it verifies client certificates ` +
                    "(no clientCertificateVerification output on the Nats component, no rendered nats.conf, chart values not visible): fails closed. " +
                    "Register clientCertificateVerification on the Nats component",
            );
        }
    },
);

function chartNameOf(r: Res): string {
    return chartName(String(get(r.props, "chart") ?? ""));
}
