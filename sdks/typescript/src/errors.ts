/** Typed errors: one class per kind of refusal, each carrying the problem+json answer. */

export class CrosspostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The API could not be reached (or stopped answering) after every retry. */
export class APIConnectionError extends CrosspostError {}

/** The API did not answer within the timeout, after every retry. */
export class APITimeoutError extends APIConnectionError {}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  errors?: unknown[];
  [member: string]: unknown;
}

/** The API answered with an error (RFC 9457 problem+json). */
export class APIError extends CrosspostError {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly title: string;
  readonly type: string;
  readonly errors: unknown[];
  readonly problem: Problem;
  readonly headers: Headers;
  /** The id to quote when asking what happened (`X-Request-Id`). */
  readonly requestId: string | null;

  constructor(status: number, problem: Problem, headers: Headers) {
    const code = String(problem.code ?? `http_${status}`);
    const detail = String(problem.detail ?? problem.title ?? "");
    super(`${status} ${code}: ${detail}`);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.title = String(problem.title ?? "");
    this.type = String(problem.type ?? "about:blank");
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.problem = problem;
    this.headers = headers;
    this.requestId = headers.get("x-request-id");
  }

  /** Seconds the API asked to wait before trying again (`Retry-After`), if it said. */
  get retryAfter(): number | null {
    return retryAfterSeconds(this.headers);
  }
}

export class BadRequest extends APIError {}
export class Unauthorized extends APIError {}
export class QuotaExceeded extends APIError {}
export class Forbidden extends APIError {}
export class NotFound extends APIError {}
export class Conflict extends APIError {}
export class Gone extends APIError {}
export class PayloadTooLarge extends APIError {}
export class UnsupportedMediaType extends APIError {}
export class InvalidInput extends APIError {}
export class RateLimited extends APIError {}
export class ServerError extends APIError {}
export class ServiceUnavailable extends ServerError {}

const BY_STATUS: Record<number, typeof APIError> = {
  400: BadRequest,
  401: Unauthorized,
  402: QuotaExceeded,
  403: Forbidden,
  404: NotFound,
  409: Conflict,
  410: Gone,
  413: PayloadTooLarge,
  415: UnsupportedMediaType,
  422: InvalidInput,
  429: RateLimited,
  503: ServiceUnavailable,
};

/** The error for an answer whose body has been read as `text`. */
export function errorFor(status: number, text: string, headers: Headers): APIError {
  let problem: Problem;
  try {
    const parsed: unknown = JSON.parse(text);
    problem = parsed && typeof parsed === "object" ? (parsed as Problem) : { detail: text };
  } catch {
    problem = { detail: text.slice(0, 500) };
  }
  const Kind = BY_STATUS[status] ?? (status >= 500 ? ServerError : APIError);
  return new Kind(status, problem, headers);
}

/** `Retry-After` as seconds: a number, or an HTTP date from now. */
export function retryAfterSeconds(headers: Headers): number | null {
  const value = headers.get("retry-after")?.trim();
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}
