/**
 * The deployer's error kinds. The HTTP layer maps each to a status code and
 * a JSON body; anything else becomes a 500 that names the request id, never
 * the raw error (which may carry an engine transcript).
 */
export class DeployerError extends Error {
    readonly status: number;
    readonly code: string;
    /** Extra fields for the response body (e.g. the list of config problems). */
    readonly details?: Record<string, unknown>;

    constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
        super(message);
        this.name = "DeployerError";
        this.status = status;
        this.code = code;
        this.details = details;
    }
}

export class BadRequestError extends DeployerError {
    constructor(message: string) {
        super(400, "bad_request", message);
    }
}

export class UnauthorizedError extends DeployerError {
    constructor(message: string) {
        super(401, "unauthorized", message);
    }
}

export class ForbiddenError extends DeployerError {
    constructor(message: string) {
        super(403, "forbidden", message);
    }
}

export class NotFoundError extends DeployerError {
    constructor(message: string) {
        super(404, "not_found", message);
    }
}

export class ConflictError extends DeployerError {
    constructor(message: string, details?: Record<string, unknown>) {
        super(409, "conflict", message, details);
    }
}

export class UnprocessableError extends DeployerError {
    constructor(message: string, details?: Record<string, unknown>) {
        super(422, "unprocessable", message, details);
    }
}
