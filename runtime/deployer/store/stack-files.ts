/**
 * How the deployer changes stack config, safely.
 *
 * The stack files (stacks/Pulumi.<stack>.yaml) are what `pulumi up`,
 * pull-request previews and the deployer read: the source of truth for one
 * deployer, the working copy of the shared database for several (see
 * StackFiles below and store/stack-configs.ts). The
 * deployer edits them as YAML documents (the `yaml` library's Document API),
 * so comments, key order and untouched keys survive an edit; every edit is
 * validated by the stack schema first, written to a temp file and renamed
 * over the old one (a reader never sees half a file), and guarded by the
 * file's revision (a content hash): an edit based on an older revision is
 * refused instead of overwriting someone else's change.
 *
 * A proposed change (add or remove a workspace, upgrade the secrets tier)
 * does not touch the file until it is approved: its preview and its `up` run
 * from a copy passed to the engine with --config-file, and the file is
 * replaced only after that `up` succeeds.
 */
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type Document, isMap, isSeq, parseDocument } from "yaml";
import { listStackNames, UnknownStackError } from "../../engine/project";
import { secretTiers, type SecretTier, type StackConfig, tierRank } from "../../../stacks/schema";
import { CONFIG_NAMESPACE, validateStackConfig } from "../../../stacks/validate";
import { ConflictError, NotFoundError, UnprocessableError } from "../errors";
import type { TierUpgradeBody, WorkspaceBody } from "../http/schemas";
import type { Logger } from "../log";
import type { StackConfigsRepository } from "./stack-configs";

export const stackNamePattern = /^[a-z0-9][-a-z0-9_.]{0,39}$/;

export interface StackText {
    text: string;
    /** Content hash of the file; edits name the revision they were based on. */
    revision: string;
}

/**
 * The engine writes the passphrase provider's `encryptionsalt` into a stack
 * file on its own; that is not an edit, so revisions ignore it (and writes
 * keep the file's salt).
 */
const saltLine = /^encryptionsalt:.*\n?/m;
/** The salt line with the blank lines the engine writes before it (`pulumi stack init` appends "\nencryptionsalt: ..."). */
const saltLineAndBlanks = /(?:^[ \t]*\n)*^encryptionsalt:.*\n?/m;

/**
 * A stack file's revision: a hash of what the file says (its data, keys
 * sorted), without the engine's `encryptionsalt`. Not of its text: when the
 * CLI writes the salt on a stack's first run it re-encodes the whole file
 * with Go's YAML encoder (blank lines dropped, flow mappings respaced,
 * comments moved), which changes no value and must not void an approval or
 * an edit based on the revision read before. A file that does not parse is
 * hashed as text.
 */
export function revisionOf(text: string): string {
    const doc = parseDocument(text);
    let basis = text.replace(saltLineAndBlanks, "");
    if (doc.errors.length === 0) {
        const data = doc.toJS() as unknown;
        if (data && typeof data === "object" && !Array.isArray(data)) delete (data as Record<string, unknown>).encryptionsalt;
        basis = canonicalJson(data ?? null);
    }
    return createHash("sha256").update(basis).digest("hex").slice(0, 16);
}

/** JSON with every object's keys sorted: one text for one value, however the file orders its keys. */
function canonicalJson(value: unknown): string {
    return JSON.stringify(value, (_key, v: unknown) =>
        v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
    );
}

function parse(text: string, stack: string): Document {
    const doc = parseDocument(text);
    if (doc.errors.length > 0) {
        throw new UnprocessableError(`stacks/Pulumi.${stack}.yaml is not valid YAML: ${doc.errors[0]!.message}`);
    }
    if (!isMap(doc.contents)) doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
    return doc;
}

/** The raw `config:` map as Pulumi would hand it to the program. */
export function rawConfigOf(text: string, stack: string): Record<string, unknown> {
    return (parse(text, stack).toJS() as { config?: Record<string, unknown> } | null)?.config ?? {};
}

/** The `x1agent:*` keys without their namespace: what the API shows and accepts as a stack's config. */
export function x1ConfigOf(text: string, stack: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rawConfigOf(text, stack))) {
        if (key.startsWith(`${CONFIG_NAMESPACE}:`)) out[key.slice(CONFIG_NAMESPACE.length + 1)] = parseJsonString(value);
    }
    return out;
}

function parseJsonString(value: unknown): unknown {
    if (typeof value !== "string" || !/^\s*[[{]/.test(value)) return value;
    try {
        return JSON.parse(value);
    } catch {
        return value;
    }
}

/** Validates a stack file's text with the stack schema (throws ConfigError listing every problem). */
export function validateText(stack: string, text: string): StackConfig {
    return validateStackConfig(stack, rawConfigOf(text, stack));
}

/** Replaces the stack's `x1agent:*` config, keeping comments on every key whose value did not change. */
export function withConfig(text: string, stack: string, config: Record<string, unknown>): string {
    const doc = parse(text, stack);
    const current = x1ConfigOf(text, stack);
    for (const key of Object.keys(current)) {
        if (!(key in config)) doc.deleteIn(["config", `${CONFIG_NAMESPACE}:${key}`]);
    }
    for (const [key, value] of Object.entries(config)) {
        if (JSON.stringify(current[key]) !== JSON.stringify(value)) doc.setIn(["config", `${CONFIG_NAMESPACE}:${key}`], doc.createNode(value));
    }
    return doc.toString();
}

/** A workspace as the API takes it (http/schemas.ts). */
export type WorkspaceSpec = WorkspaceBody;

export function workspacesOf(text: string, stack: string): WorkspaceSpec[] {
    const list = x1ConfigOf(text, stack).workspaces;
    return Array.isArray(list) ? (list as WorkspaceSpec[]) : [];
}

export function withWorkspaceAdded(text: string, stack: string, workspace: WorkspaceSpec): string {
    if (workspacesOf(text, stack).some((w) => w.id === workspace.id)) {
        throw new ConflictError(`workspace '${workspace.id}' already exists on stack '${stack}': choose another id, or remove it first`);
    }
    const doc = parse(text, stack);
    const key = ["config", `${CONFIG_NAMESPACE}:workspaces`];
    const node = doc.getIn(key, true);
    if (isSeq(node)) node.add(doc.createNode(workspace));
    else doc.setIn(key, doc.createNode([...workspacesOf(text, stack), workspace]));
    return doc.toString();
}

export function withWorkspaceRemoved(text: string, stack: string, id: string): string {
    const list = workspacesOf(text, stack);
    const index = list.findIndex((w) => w.id === id);
    if (index < 0) {
        throw new NotFoundError(`stack '${stack}' has no workspace '${id}'; its workspaces: ${list.map((w) => w.id).join(", ") || "(none)"}`);
    }
    const doc = parse(text, stack);
    const key = ["config", `${CONFIG_NAMESPACE}:workspaces`];
    const node = doc.getIn(key, true);
    if (isSeq(node)) node.delete(index);
    else doc.setIn(key, doc.createNode(list.filter((w) => w.id !== id)));
    return doc.toString();
}

export type TierUpgrade = TierUpgradeBody;

/**
 * Moves the stack to a higher secrets tier in one consistent config change:
 * the new tier and its backend settings, uiMode left to the schema (bind),
 * and `migration.from` recording the tier being left, so the Tier 1 data is
 * kept until the migration is marked done. Downgrades are refused here.
 */
export function withTierUpgrade(text: string, stack: string, upgrade: TierUpgrade): string {
    const secrets = (x1ConfigOf(text, stack).secrets ?? {}) as { tier?: SecretTier };
    const from = secrets.tier;
    if (!from || !secretTiers.includes(from)) {
        throw new UnprocessableError(`stack '${stack}' has no valid secrets.tier to upgrade from; fix its config first`);
    }
    if (tierRank[upgrade.tier] <= tierRank[from]) {
        throw new UnprocessableError(
            `secrets tier ${from} -> ${upgrade.tier} is not an upgrade (tiers go kubernetes < vault < aws/gcp/azure); a downgrade needs an explicit policy override, edit the stack config for that`,
        );
    }
    const doc = parse(text, stack);
    const key = ["config", `${CONFIG_NAMESPACE}:secrets`];
    if (!isMap(doc.getIn(key, true))) doc.setIn(key, doc.createNode(secrets));
    doc.setIn([...key, "tier"], upgrade.tier);
    doc.deleteIn([...key, "uiMode"]);
    for (const backend of ["vault", "aws", "gcp", "azure"] as const) {
        const settings = upgrade[backend];
        if (settings) doc.setIn([...key, backend], doc.createNode(settings));
    }
    doc.setIn([...key, "migration"], doc.createNode({ from, done: false }));
    return doc.toString();
}

/** The engine's salt line of a stack file's text, if it has one. */
function saltOf(text: string): string | undefined {
    return saltLine.exec(text)?.[0];
}

/** The text with `salt` appended when it carries none of its own (an edit keeps the salt the engine wrote). */
function withSalt(text: string, salt: string | undefined): string {
    if (!salt || saltLine.test(text)) return text;
    return `${text.endsWith("\n") ? text : `${text}\n`}${salt.endsWith("\n") ? salt : `${salt}\n`}`;
}

const digestOf = (text: string) => createHash("md5").update(text).digest("hex");

/**
 * The stack files of one project folder: read with their revision, written
 * atomically, created from another stack's text, removed. Paths come from
 * the deployer's settings, so tests work on a copy of the project.
 *
 * Alone (the embedded database, one process), the files are the source of
 * truth. Given the shared `stack_configs` table (PostgreSQL, several
 * replicas: store/stack-configs.ts), the database is, and the folder is this
 * replica's working copy of it: every change is a compare-and-set in the
 * database, then written to the file; `sync` brings the folder up to date
 * (before each API request and around each run), so reads stay synchronous
 * file reads and the engine, `pulumi up` and a diff see a file as before.
 */
export class StackFiles {
    /** The folder holding Pulumi.<stack>.yaml files. */
    readonly dir: string;
    private readonly shared?: StackConfigsRepository;
    private readonly log?: Logger;
    /** What this process last wrote to or found in each file (md5), to tell an edit made here from one made elsewhere. */
    private readonly exported = new Map<string, string>();
    /** Shared mode: one change or sync of the folder at a time. */
    private queue: Promise<unknown> = Promise.resolve();

    constructor(dir: string, shared?: { configs: StackConfigsRepository; log: Logger }) {
        this.dir = dir;
        this.shared = shared?.configs;
        this.log = shared?.log;
    }

    path(stack: string): string {
        return path.join(this.dir, `Pulumi.${stack}.yaml`);
    }

    names(): string[] {
        return listStackNames(this.dir);
    }

    /** The stack's text and revision; NotFoundError naming the known stacks when there is no such file. */
    read(stack: string): StackText {
        const file = this.path(stack);
        if (!stackNamePattern.test(stack) || !existsSync(file)) throw new NotFoundError(new UnknownStackError(stack, this.names()).message);
        const text = readFileSync(file, "utf8");
        return { text, revision: revisionOf(text) };
    }

    /** Writes a stack's config, refusing when it changed since `expectedRevision` (409 naming both revisions). */
    async write(stack: string, text: string, expectedRevision?: string): Promise<StackText> {
        if (this.shared) {
            const configs = this.shared;
            return this.exclusive(() => this.writeShared(configs, stack, text, expectedRevision));
        }
        const file = this.path(stack);
        const currentText = existsSync(file) ? readFileSync(file, "utf8") : undefined;
        if (expectedRevision !== undefined) {
            const current = currentText === undefined ? "(deleted)" : revisionOf(currentText);
            if (current !== expectedRevision) throw changedSince(stack, expectedRevision, current);
        }
        return this.writeLocal(stack, withSalt(text, currentText && saltOf(currentText)));
    }

    private async writeShared(configs: StackConfigsRepository, stack: string, text: string, expectedRevision?: string): Promise<StackText> {
        const row = await configs.get(stack);
        const current = !row || row.deleted ? "(deleted)" : row.revision;
        if (!row || row.deleted || (expectedRevision !== undefined && row.revision !== expectedRevision)) {
            throw changedSince(stack, expectedRevision ?? current, current);
        }
        const local = existsSync(this.path(stack)) ? readFileSync(this.path(stack), "utf8") : undefined;
        const out = withSalt(text, saltOf(row.text) ?? (local && saltOf(local)));
        const revision = revisionOf(out);
        if (!(await configs.replace(stack, out, revision, row.version))) {
            // Another replica's change landed between the read and the compare-and-set.
            const now = await configs.get(stack);
            throw changedSince(stack, expectedRevision ?? row.revision, !now || now.deleted ? "(deleted)" : now.revision);
        }
        return this.writeLocal(stack, out);
    }

    /**
     * After a run: when the engine wrote the stack's encryptionsalt by
     * re-encoding the file (its first run), puts the file back as it was
     * (`before`, read when the run started: comments, blank lines, layout)
     * with the salt added. A file whose values changed meanwhile (an edit
     * through the API during the run) is left as it is.
     */
    keepLayout(stack: string, before: string): void {
        const file = this.path(stack);
        if (saltOf(before) || !existsSync(file)) return;
        const now = readFileSync(file, "utf8");
        const salt = saltOf(now);
        if (!salt || now === withSalt(before, salt) || revisionOf(now) !== revisionOf(before)) return;
        this.writeLocal(stack, withSalt(before, salt));
    }

    /** Creates a new stack from another stack's text; fails if the stack exists. */
    async create(stack: string, text: string): Promise<StackText> {
        if (!stackNamePattern.test(stack)) {
            throw new UnprocessableError(`stack name '${stack}' must be 1-40 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit`);
        }
        const body = `# Created by the x1agent deployer.\n${text.replace(saltLine, "")}`;
        const exists = () => new ConflictError(`stack '${stack}' already exists (stacks/Pulumi.${stack}.yaml)`);
        if (this.shared) {
            const configs = this.shared;
            return this.exclusive(async () => {
                if (!(await configs.create(stack, body, revisionOf(body)))) throw exists();
                return this.writeLocal(stack, body);
            });
        }
        try {
            writeFileSync(this.path(stack), body, { flag: "wx" });
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code === "EEXIST") throw exists();
            throw err;
        }
        return { text: body, revision: revisionOf(body) };
    }

    async remove(stack: string): Promise<void> {
        if (this.shared) {
            const configs = this.shared;
            await this.exclusive(async () => {
                await configs.remove(stack);
                this.removeLocal(stack);
            });
            return;
        }
        this.removeLocal(stack);
    }

    /**
     * Shared mode: brings this working copy up to date with the database (one
     * stack, or all). A stack file the database does not know (an example
     * stack new in this working copy) is added to it; a removed stack's file
     * is deleted; a file whose text differs is replaced by the database's,
     * except that a salt the engine wrote here is first added to the
     * database's text (the salt belongs to the stack's state: every replica
     * must use the same one). Alone: nothing to do.
     */
    sync(stack?: string): Promise<void> {
        const configs = this.shared;
        if (!configs) return Promise.resolve();
        return this.exclusive(() => this.syncShared(configs, stack));
    }

    private async syncShared(configs: StackConfigsRepository, only?: string): Promise<void> {
        const rows = await configs.digests(only);
        const known = new Set(rows.map((r) => r.stack));
        for (const name of only === undefined ? this.names() : []) {
            if (known.has(name)) continue;
            const text = readFileSync(this.path(name), "utf8");
            if (await configs.seed(name, text, revisionOf(text))) {
                this.exported.set(name, digestOf(text));
                this.log?.info({ stack: name, revision: revisionOf(text) }, `stack '${name}': added to the shared database from this working copy`);
            }
        }
        for (const row of rows) {
            const file = this.path(row.stack);
            if (row.deleted) {
                this.removeLocal(row.stack);
                continue;
            }
            const local = existsSync(file) ? readFileSync(file, "utf8") : undefined;
            const localDigest = local === undefined ? undefined : digestOf(local);
            if (localDigest === row.digest) {
                this.exported.set(row.stack, row.digest);
                continue;
            }
            const localSalt = local && saltOf(local);
            let current = await configs.get(row.stack);
            if (!current || current.deleted) continue;
            if (localSalt && !row.salted && configs) {
                // The engine wrote the stack's salt here (its first run): every replica must use it.
                await configs.replace(row.stack, withSalt(current.text, localSalt), current.revision, current.version);
                current = (await configs.get(row.stack)) ?? current;
                if (local !== undefined && digestOf(current.text) === localDigest) {
                    this.exported.set(row.stack, localDigest);
                    continue;
                }
            }
            if (local !== undefined && this.exported.get(row.stack) !== localDigest && revisionOf(local) !== current.revision) {
                this.log?.warn(
                    { stack: row.stack, fileRevision: revisionOf(local), databaseRevision: current.revision },
                    `stacks/Pulumi.${row.stack}.yaml in this working copy (revision ${revisionOf(local)}) differs from the shared database's (revision ${current.revision}): replaced by the database's; change stack config through the API`,
                );
            }
            this.writeLocal(row.stack, current.text);
        }
    }

    /** Writes a file atomically (temp file, rename): a reader never sees half a file. */
    private writeLocal(stack: string, text: string): StackText {
        const temp = path.join(this.dir, `.Pulumi.${stack}.yaml.${randomUUID()}.tmp`);
        writeFileSync(temp, text, { flag: "wx" });
        renameSync(temp, this.path(stack));
        this.exported.set(stack, digestOf(text));
        return { text, revision: revisionOf(text) };
    }

    private removeLocal(stack: string): void {
        this.exported.delete(stack);
        try {
            unlinkSync(this.path(stack));
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        }
    }

    /** Runs `task` after every change or sync started before it (shared mode). */
    private exclusive<T>(task: () => Promise<T>): Promise<T> {
        const run = this.queue.then(task, task);
        this.queue = run.catch(() => undefined);
        return run;
    }
}

function changedSince(stack: string, expected: string, current: string): ConflictError {
    return new ConflictError(`stacks/Pulumi.${stack}.yaml changed since revision ${expected} (now ${current}): read the stack again and re-apply your change`, {
        expectedRevision: expected,
        currentRevision: current,
    });
}

/** A temp copy of proposed stack config for --config-file; call the returned cleanup when the run ends. */
export function proposedConfigFile(stack: string, text: string): { file: string; cleanup: () => void } {
    const dir = mkdtempSync(path.join(tmpdir(), `x1-proposed-${stack}-`));
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    writeFileSync(file, text, { mode: 0o600 });
    return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
