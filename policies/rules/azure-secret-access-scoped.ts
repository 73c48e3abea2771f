import { resourcePolicy } from "../lib/policy";
import { get } from "../lib/resources";

/** Built-in role ids that read or manage Key Vault secret values. */
const secretRoles: Record<string, { name: string; allowed: boolean }> = {
    "4633458b-17de-408a-b874-0445c86b69e6": { name: "Key Vault Secrets User", allowed: true },
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": { name: "Key Vault Secrets Officer", allowed: false },
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": { name: "Key Vault Administrator", allowed: false },
};

const vaultScope = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)(\/secrets\/([^/]+))?$/i;

interface Config {
    /** The one Key Vault resource id x1agent may read (secrets.azure.vaultId); unset: any single vault. */
    vaultId?: string;
}

/**
 * Key Vault secret access for x1agent: only "Key Vault Secrets User", and only
 * on the one vault (or on x1agent-* secrets in it), never on a resource
 * group or subscription, where it would read every vault.
 */
export const azureSecretAccessScoped = resourcePolicy<Config>(
    {
        name: "azure-secret-access-scoped",
        family: "secret-scoping",
        description:
            "Azure role assignments that read Key Vault secrets use Key Vault Secrets User, scoped to the one vault (or x1agent-* secrets in it), never a resource group or subscription.",
        severity: "critical",
        enforcementLevel: "mandatory",
        remediationSteps:
            "1. Assign Key Vault Secrets User (4633458b-17de-408a-b874-0445c86b69e6), not Secrets Officer or Administrator.\n" +
            "2. Set scope to the vault's resource id (secrets.azure.vaultId), /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>.",
        configSchema: {
            properties: {
                vaultId: { type: "string", description: "The one Key Vault resource id x1agent may read; unset allows any single vault." },
            },
        },
    },
    (r, { report, config }) => {
        if (r.type !== "azure-native:authorization:RoleAssignment") return;
        const roleId = String(get(r.props, "roleDefinitionId") ?? "")
            .split("/")
            .pop()!
            .toLowerCase();
        const role = secretRoles[roleId];
        if (!role) return;
        const at = `RoleAssignment '${r.name}' (${role.name})`;
        if (!role.allowed) {
            report(`${at} can write or administer secrets: assign Key Vault Secrets User (4633458b-17de-408a-b874-0445c86b69e6), which only reads them`);
        }
        const scope = String(get(r.props, "scope") ?? "");
        const m = vaultScope.exec(scope);
        if (!m) {
            report(`${at} is scoped to '${scope}', wider than one Key Vault (every vault below it): scope it to the vault's resource id`);
            return;
        }
        if (m[3] !== undefined && !m[3].startsWith("x1agent")) {
            report(`${at} is scoped to secret ${m[3]}, which is not an x1agent secret (names start with x1agent-)`);
        }
        const vault = scope.replace(/\/secrets\/[^/]+$/i, "");
        if (config.vaultId !== undefined && vault.toLowerCase() !== config.vaultId.toLowerCase()) {
            report(`${at} is scoped to vault ${vault}, not x1agent's vault ${config.vaultId}: scope it to secrets.azure.vaultId`);
        }
    },
);
