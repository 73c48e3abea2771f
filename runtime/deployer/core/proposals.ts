/**
 * Config changes proposed as requests: add or remove a workspace, upgrade
 * the secrets tier. Each is checked (the workspace's team), edited into a
 * copy of the stack file, validated, and queued as a preview of that copy
 * with an approval (core/approvals.ts); approving it queues the `up` that
 * applies it, and only a succeeded `up` writes the stack file.
 */
import type { TierUpgradeBody, WorkspaceBody } from "../http/schemas";
import { type StackFiles, withTierUpgrade, withWorkspaceAdded, withWorkspaceRemoved, workspacesOf } from "../store/stack-files";
import type { configChangeKind } from "../http/schemas";
import type { z } from "zod";
import type { Access, Caller } from "./access";
import type { Approvals } from "./approvals";
import type { Queued } from "./runs";
import { validateOrThrow } from "./stacks";

/** A config change carried by a run: previewed from a copy, written to the stack file after a successful `up`. */
export interface ConfigChange {
    kind: z.infer<typeof configChangeKind>;
    summary: string;
    /** The stack file's revision the change was made against; a later edit voids it. */
    baseRevision: string;
    /** The whole proposed stack file. */
    proposedText: string;
}

export class Proposals {
    private readonly files: StackFiles;
    private readonly approvals: Approvals;
    private readonly access: Access;

    constructor(files: StackFiles, approvals: Approvals, access: Access) {
        this.files = files;
        this.approvals = approvals;
        this.access = access;
    }

    async addWorkspace(caller: Caller, stack: string, workspace: WorkspaceBody, idempotencyKey?: string): Promise<Queued> {
        await this.access.stack(caller, "add-workspace", stack);
        await this.access.workspace(caller, "add-workspace", stack, workspace.id, workspace.team);
        const summary = `add workspace '${workspace.id}'${workspace.team ? ` for team '${workspace.team}'` : ""}`;
        return this.propose(caller, stack, "workspace-add", summary, (t) => withWorkspaceAdded(t, stack, workspace), idempotencyKey);
    }

    async removeWorkspace(caller: Caller, stack: string, id: string, idempotencyKey?: string): Promise<Queued> {
        await this.access.stack(caller, "remove-workspace", stack);
        const ws = workspacesOf(this.files.read(stack).text, stack).find((w) => w.id === id);
        if (ws) await this.access.workspace(caller, "remove-workspace", stack, id, ws.team);
        return this.propose(caller, stack, "workspace-remove", `remove workspace '${id}'`, (t) => withWorkspaceRemoved(t, stack, id), idempotencyKey);
    }

    async upgradeTier(caller: Caller, stack: string, upgrade: TierUpgradeBody, idempotencyKey?: string): Promise<Queued> {
        await this.access.stack(caller, "upgrade-tier", stack);
        return this.propose(
            caller,
            stack,
            "tier-upgrade",
            `upgrade secrets tier to ${upgrade.tier}`,
            (t) => withTierUpgrade(t, stack, upgrade),
            idempotencyKey,
        );
    }

    private propose(
        caller: Caller,
        stack: string,
        kind: ConfigChange["kind"],
        summary: string,
        edit: (text: string) => string,
        idempotencyKey?: string,
    ): Promise<Queued> {
        const current = this.files.read(stack);
        const proposedText = edit(current.text);
        validateOrThrow(stack, proposedText);
        return this.approvals.proposeChange(caller, stack, { kind, summary, baseRevision: current.revision, proposedText }, idempotencyKey);
    }
}
