/**
 * Who is calling. Two kinds of credentials:
 *
 * - bearer tokens issued by the deployer (`x1d_...`, 256 random bits) for the
 *   portal and automation; only their sha256 is stored;
 * - OIDC ID/access tokens (JWTs) from the organisation's identity provider,
 *   when X1_OIDC_ISSUER is configured: signature checked against the
 *   issuer's JWKS with jose, issuer and audience enforced, teams read from a
 *   claim (default `groups`).
 *
 * A principal holds a role in each of its teams (core/roles.ts); `admin`
 * is a deployer admin: admin of every team, sees every stack. OIDC groups
 * map to team roles through X1_OIDC_GROUP_ROLES (without it, every group is
 * a team with the operator role).
 * A presented credential is never remembered: the token patterns of
 * redact.ts mask deployer tokens and bearer headers wherever they appear.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";
import { ConflictError, NotFoundError, UnauthorizedError } from "../errors";
import type { CreateTokenBody } from "../http/schemas";
import type { TokensRepository, TokenView } from "../store/tokens";
import { type Access, type Caller, rolesText } from "./access";
import type { AuditLog } from "./audit";
import { type GroupRoles, rolesOfGroups, rolesOfTeams, type TeamRoles } from "./roles";

export interface Principal {
    /** Token name (`token:<name>`) or OIDC subject (`oidc:<sub>`). */
    subject: string;
    /** The caller's role in each of its teams. */
    roles: TeamRoles;
    /** A deployer admin: admin of every team. */
    admin: boolean;
}

export interface OidcSettings {
    issuer: string;
    audience: string;
    /** The issuer's JWKS; discovered from /.well-known/openid-configuration when unset. */
    jwksUrl?: string;
    /** Claim holding the caller's groups (an array or a space-separated string). Default `groups`. */
    teamsClaim?: string;
    /** Members of this group are deployer admins. */
    adminTeam?: string;
    /** Groups to team roles (X1_OIDC_GROUP_ROLES); unset: every group is a team with the operator role. */
    groupRoles?: GroupRoles;
}

const tokenPrefix = "x1d_";

export function hashToken(token: string): string {
    return createHash("sha256").update(token).digest("hex");
}

export interface IssuedToken {
    id: string;
    name: string;
    teams: TeamRoles;
    admin: boolean;
    /** The token itself: shown once, never stored. */
    token: string;
}

/** Tokens: issued, listed and revoked by admins (a team admin: for its teams); and who a presented credential is. */
export class Tokens {
    private readonly repo: TokensRepository;
    private readonly access: Access;
    private readonly audit: AuditLog;
    private readonly oidc?: OidcSettings;
    private jwks?: ReturnType<typeof createRemoteJWKSet>;

    constructor(repo: TokensRepository, access: Access, audit: AuditLog, oidc?: OidcSettings) {
        this.repo = repo;
        this.access = access;
        this.audit = audit;
        this.oidc = oidc;
    }

    async create(caller: Caller, args: CreateTokenBody): Promise<IssuedToken> {
        const roles = Array.isArray(args.teams) ? rolesOfTeams(args.teams) : args.teams;
        await this.access.manageToken(caller, "create-token", `token:${args.name}`, { roles, admin: args.admin });
        if (await this.repo.nameTaken(args.name)) throw new ConflictError(`a token named '${args.name}' exists; revoke it or pick another name`);
        const issued = await this.issue({ name: args.name, roles, admin: args.admin, createdBy: caller.principal.subject });
        await this.audit.record(caller, "create-token", `token:${args.name}`, "ok", `${rolesText(roles)}${args.admin ? ", admin" : ""}`);
        return issued;
    }

    /** Every token for a deployer admin; for a team admin, the tokens of the teams it administers. */
    async list(caller: Caller): Promise<TokenView[]> {
        await this.access.requireAnyAdmin(caller, "list-tokens", "tokens");
        return (await this.repo.list()).filter((t) => this.access.mayManageToken(caller.principal, { roles: t.teams, admin: t.admin }));
    }

    async revoke(caller: Caller, id: string): Promise<void> {
        const token = (await this.repo.list()).find((t) => t.id === id && !t.revokedAt);
        if (!token) {
            await this.access.requireAnyAdmin(caller, "revoke-token", `token:${id}`);
            throw new NotFoundError(`no active token '${id}'`);
        }
        await this.access.manageToken(caller, "revoke-token", `token:${token.name}`, { roles: token.teams, admin: token.admin });
        if (!(await this.repo.revoke(id))) throw new NotFoundError(`no active token '${id}'`);
        await this.audit.record(caller, "revoke-token", `token:${token.name}`, "ok");
    }

    /** Issues a token without a caller: for the first start and the CLI (`x1 deployer token`). */
    async bootstrap(name: string, roles: TeamRoles = {}, admin = true): Promise<IssuedToken> {
        const issued = await this.issue({ name, roles, admin, createdBy: "bootstrap" });
        await this.audit.record(
            { principal: { subject: "bootstrap", roles: {}, admin: true } },
            "create-token",
            `token:${name}`,
            "ok",
            admin ? "admin" : undefined,
        );
        return issued;
    }

    liveCount(): Promise<number> {
        return this.repo.liveCount();
    }

    private async issue(args: { name: string; roles: TeamRoles; admin: boolean; createdBy: string }): Promise<IssuedToken> {
        const token = tokenPrefix + randomBytes(32).toString("base64url");
        const id = randomUUID();
        await this.repo.insert({ id, name: args.name, hash: hashToken(token), roles: args.roles, admin: args.admin, createdBy: args.createdBy });
        return { id, name: args.name, teams: args.roles, admin: args.admin, token };
    }

    /** The caller behind an Authorization header, or UnauthorizedError saying what is wrong. */
    async authenticate(header: string | undefined): Promise<Principal> {
        const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
        if (!m?.[1]) throw new UnauthorizedError("missing bearer token: send 'Authorization: Bearer <token>'");
        const credential = m[1];
        if (credential.startsWith(tokenPrefix)) return this.fromToken(credential);
        if (credential.split(".").length === 3) return this.fromJwt(credential);
        throw new UnauthorizedError("unrecognised bearer token: use a deployer token (x1d_...) or an OIDC JWT");
    }

    private async fromToken(token: string): Promise<Principal> {
        const row = await this.repo.use(hashToken(token));
        if (!row) throw new UnauthorizedError("unknown or revoked deployer token");
        return { subject: `token:${row.name}`, roles: row.roles, admin: row.admin };
    }

    private async fromJwt(jwt: string): Promise<Principal> {
        const oidc = this.oidc;
        if (!oidc) throw new UnauthorizedError("OIDC tokens are not accepted: this deployer has no X1_OIDC_ISSUER configured");
        let payload: JWTPayload;
        try {
            this.jwks ??= createRemoteJWKSet(new URL(oidc.jwksUrl ?? (await discoverJwks(oidc.issuer))));
            ({ payload } = await jwtVerify(jwt, this.jwks, { issuer: oidc.issuer, audience: oidc.audience }));
        } catch (err) {
            throw new UnauthorizedError(`invalid OIDC token: ${(err as Error).message}`);
        }
        if (!payload.sub) throw new UnauthorizedError("invalid OIDC token: no 'sub' claim");
        const claim = payload[oidc.teamsClaim ?? "groups"];
        const groups = Array.isArray(claim) ? claim.map(String) : typeof claim === "string" ? claim.split(/\s+/).filter(Boolean) : [];
        return {
            subject: `oidc:${payload.sub}`,
            roles: rolesOfGroups(groups, oidc.groupRoles),
            admin: oidc.adminTeam !== undefined && groups.includes(oidc.adminTeam),
        };
    }
}

async function discoverJwks(issuer: string): Promise<string> {
    const res = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
    if (!res.ok) throw new Error(`OIDC discovery at ${issuer} answered ${res.status}; set X1_OIDC_JWKS_URL`);
    const body = (await res.json()) as { jwks_uri?: string };
    if (!body.jwks_uri) throw new Error(`OIDC discovery at ${issuer} names no jwks_uri; set X1_OIDC_JWKS_URL`);
    return body.jwks_uri;
}
