/**
 * The audit log: every refusal and every change, with who, what, when and
 * why. Entries are masked and made storable here (PostgreSQL text holds no
 * NUL), so a refusal is recorded whatever its input was.
 */
import type { AuditOutcome } from "../http/schemas";
import { redact } from "../redact";
import type { AuditEntry, AuditRepository } from "../store/audit";
import { type Access, type Caller, teamsOf } from "./access";
import type { Principal } from "./tokens";

export const anonymous: Principal = { subject: "anonymous", roles: {}, admin: false };

export class AuditLog {
    private readonly repo: AuditRepository;

    constructor(repo: AuditRepository) {
        this.repo = repo;
    }

    async record(caller: Caller | undefined, action: string, target: string, outcome: AuditOutcome, reason?: string): Promise<void> {
        const principal = caller?.principal ?? anonymous;
        await this.repo.insert({
            actor: storable(principal.subject),
            teams: storable(JSON.stringify(teamsOf(principal))),
            action: storable(action),
            target: storable(target),
            outcome,
            reason: reason === undefined ? null : storable(redact(reason)),
            request_id: caller?.requestId ?? null,
            remote: caller?.remote ?? null,
        });
    }

    /** The log, newest first (admin). */
    async list(access: Access, caller: Caller, filter: { outcome?: AuditOutcome; limit?: number }): Promise<AuditEntry[]> {
        await access.requireAdmin(caller, "read-audit", "audit");
        return this.repo.list(filter);
    }
}

function storable(text: string): string {
    return text.replace(/\0/g, "\\0");
}
