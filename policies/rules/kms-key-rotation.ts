import { resourcePolicy } from "../lib/policy";
import { get, list } from "../lib/resources";

interface Config {
    /** Longest rotation period accepted, in days. */
    maxRotationDays: number;
}

const day = 86_400;

function gcpPeriodSeconds(v: unknown): number | undefined {
    const m = /^([0-9]+(?:\.[0-9]+)?)s$/.exec(String(v ?? ""));
    return m ? Number(m[1]) : undefined;
}

/**
 * The keys that encrypt etcd and the secret backends rotate automatically:
 * AWS KMS symmetric keys with rotation on, Cloud KMS keys with a rotation
 * period, Key Vault keys with a rotate lifetime action. Remediation turns
 * rotation on where it is simply missing (AWS enableKeyRotation, a 90-day
 * Cloud KMS period); a present but too-long period is left to the author.
 */
export const kmsKeyRotation = resourcePolicy<Config>(
    {
        name: "kms-key-rotation",
        family: "secret-scoping",
        description:
            "KMS keys rotate: AWS enableKeyRotation (symmetric keys), GCP rotationPeriod, Azure Key Vault rotationPolicy with a rotate action, at most maxRotationDays apart.",
        severity: "medium",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. AWS: enableKeyRotation: true (rotationPeriodInDays 90-365).\n" +
            '2. GCP: rotationPeriod: "7776000s" (90 days).\n' +
            '3. Azure: properties.rotationPolicy.lifetimeActions: [{ action: { type: "rotate" }, trigger: { timeAfterCreate: "P90D" } }].',
        configSchema: {
            properties: {
                maxRotationDays: { type: "number", default: 365, minimum: 1, description: "Longest rotation period accepted, in days." },
            },
        },
    },
    (r, { report, config }) => {
        const max = config.maxRotationDays;
        switch (r.type) {
            case "aws:kms/key:Key": {
                const spec = String(get(r.props, "customerMasterKeySpec") ?? get(r.props, "keySpec") ?? "SYMMETRIC_DEFAULT");
                if (spec !== "SYMMETRIC_DEFAULT") return; // AWS rotates only symmetric encryption keys
                if (get(r.props, "enableKeyRotation") !== true) {
                    report(`aws:kms/key:Key '${r.name}' does not rotate: set enableKeyRotation: true`);
                    return;
                }
                const days = get(r.props, "rotationPeriodInDays");
                if (typeof days === "number" && days > max)
                    report(`aws:kms/key:Key '${r.name}' rotates every ${days} days: set rotationPeriodInDays to at most ${max}`);
                return;
            }
            case "gcp:kms/cryptoKey:CryptoKey": {
                const purpose = String(get(r.props, "purpose") ?? "ENCRYPT_DECRYPT");
                if (purpose !== "ENCRYPT_DECRYPT") return; // Cloud KMS rotates only symmetric keys automatically
                const raw = get(r.props, "rotationPeriod");
                const seconds = gcpPeriodSeconds(raw);
                if (raw === undefined) report(`gcp:kms/cryptoKey:CryptoKey '${r.name}' has no rotationPeriod: set rotationPeriod: "7776000s" (90 days)`);
                else if (seconds === undefined)
                    report(`gcp:kms/cryptoKey:CryptoKey '${r.name}' rotationPeriod '${String(raw)}' is not a duration in seconds such as "7776000s"`);
                else if (seconds > max * day)
                    report(
                        `gcp:kms/cryptoKey:CryptoKey '${r.name}' rotates every ${Math.round(seconds / day)} days: set rotationPeriod to at most "${max * day}s"`,
                    );
                return;
            }
            case "azure-native:keyvault:Key": {
                const actions = list(r.props, "properties", "rotationPolicy", "lifetimeActions");
                const rotate = actions.find((a) => String(get(a, "action", "type") ?? "").toLowerCase() === "rotate");
                if (!rotate) {
                    report(
                        `azure-native:keyvault:Key '${r.name}' has no rotationPolicy with a rotate action: add properties.rotationPolicy.lifetimeActions [{ action: { type: "rotate" }, trigger: { timeAfterCreate: "P90D" } }]`,
                    );
                    return;
                }
                const after = /^P([0-9]+)D$/.exec(String(get(rotate, "trigger", "timeAfterCreate") ?? ""));
                if (after && Number(after[1]) > max)
                    report(`azure-native:keyvault:Key '${r.name}' rotates every ${after[1]} days: set trigger.timeAfterCreate to at most P${max}D`);
                return;
            }
        }
    },
    (r) => {
        if (r.type === "aws:kms/key:Key") {
            const spec = r.props.customerMasterKeySpec ?? r.props.keySpec ?? "SYMMETRIC_DEFAULT";
            if (spec !== "SYMMETRIC_DEFAULT" || r.props.enableKeyRotation !== undefined) return undefined;
            r.props.enableKeyRotation = true;
            return r.props;
        }
        if (r.type === "gcp:kms/cryptoKey:CryptoKey") {
            if ((r.props.purpose ?? "ENCRYPT_DECRYPT") !== "ENCRYPT_DECRYPT" || r.props.rotationPeriod !== undefined) return undefined;
            r.props.rotationPeriod = `${90 * day}s`;
            return r.props;
        }
        return undefined;
    },
);
