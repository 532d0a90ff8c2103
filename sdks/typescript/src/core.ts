/**
 * Sending one API call: retries with backoff and jitter, the same Idempotency-Key on every
 * attempt, request signing, OAuth client credentials, typed errors, and pages that fetch
 * the next page as they are iterated.
 */

import { type Bytes, utf8 } from "./encoding.js";
import {
  APIConnectionError,
  APIError,
  APITimeoutError,
  errorFor,
  retryAfterSeconds,
} from "./errors.js";
import { signRequest } from "./signing.js";

export const VERSION = "0.1.0";
const DEFAULT_BASE_URL = "http://127.0.0.1:8000";
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

export interface ClientOptions {
  /** An API key (`cp_…`); default: CROSSPOST_API_KEY where there is an environment. */
  apiKey?: string;
  /** Default: CROSSPOST_API_URL, else http://127.0.0.1:8000. */
  baseUrl?: string;
  /** Sign every request with this key's signing secret (`cpsig_…`). */
  signingSecret?: string;
  signingKeyId?: string;
  /** Act as an OAuth client (client credentials) instead of with an API key. */
  clientId?: string;
  clientSecret?: string;
  scope?: string;
  /** More attempts after the first on 429, 5xx and dropped connections (default 3). */
  maxRetries?: number;
  /** Milliseconds per attempt (default 60 000). */
  timeout?: number;
  initialRetryDelay?: number;
  maxRetryDelay?: number;
  fetch?: typeof fetch;
}

export interface CallOptions<Q = Record<string, unknown>> {
  query?: Q;
  idempotencyKey?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Milliseconds for this call (default: the client's). */
  timeout?: number;
}

export type Body = string | Uint8Array | Blob | ReadableStream<Uint8Array>;

export interface Call {
  method: string;
  path: string;
  query?: Record<string, unknown> | undefined;
  json?: unknown;
  form?: Record<string, unknown> | undefined;
  body?: Body | undefined;
  contentType?: string | undefined;
  idempotent?: boolean;
  options?: CallOptions<unknown> | undefined;
}

export interface RateLimit {
  policy: string;
  remaining: number;
  resetSeconds: number;
}

function env(name: string): string | undefined {
  const holder = globalThis as { process?: { env?: Record<string, string | undefined> } };
  return holder.process?.env?.[name];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One path segment, percent-encoded (an id never reaches another path). */
export function seg(value: string | number): string {
  return encodeURIComponent(String(value));
}

function searchOf(query: Record<string, unknown> | undefined): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item === undefined || item === null) continue;
      params.append(name, item instanceof Date ? item.toISOString() : String(item));
    }
  }
  return params.toString();
}

function rateLimitOf(headers: Headers): RateLimit | null {
  const current = headers.get("ratelimit");
  if (!current) return null;
  const [name, ...rest] = current.split(";").map((part) => part.trim());
  const params = Object.fromEntries(rest.map((p) => p.split("=") as [string, string]));
  return {
    policy: (name ?? "").replace(/"/g, ""),
    remaining: Number(params.r ?? 0),
    resetSeconds: Number(params.t ?? 0),
  };
}

class TokenCache {
  #token: string | null = null;
  #expires = 0;

  constructor(
    private readonly clientId: string,
    readonly clientSecret: string,
    private readonly scope: string | undefined,
  ) {}

  toJSON(): Record<string, string> {
    return { clientId: this.clientId, clientSecret: "<hidden>" };
  }

  async token(transport: Transport, renew: boolean): Promise<string> {
    if (!renew && this.#token && Date.now() < this.#expires) return this.#token;
    const form: Record<string, string> = { grant_type: "client_credentials" };
    if (this.scope) form.scope = this.scope;
    // RFC 6749 §2.3.1: each half form-encoded before the Basic pair is made.
    const pair = `${encodeURIComponent(this.clientId)}:${encodeURIComponent(this.clientSecret)}`;
    const answer = await transport.raw({
      method: "POST",
      path: "/oauth/token",
      form,
      options: { headers: { Authorization: `Basic ${btoa(pair)}` } },
    });
    const body = (await answer.json()) as { access_token: string; expires_in?: number };
    this.#token = body.access_token;
    // Fetch a new one 30 s early (clock skew, a slow request).
    this.#expires = Date.now() + Math.max(0, (body.expires_in ?? 3600) - 30) * 1000;
    return this.#token;
  }
}

/** Sends calls for a client. */
export class Transport {
  readonly baseUrl: string;
  readonly maxRetries: number;
  readonly timeout: number;
  rateLimit: RateLimit | null = null;
  readonly #apiKey: string | undefined;
  readonly #signingSecret: string | undefined;
  readonly #signingKeyId: string | undefined;
  readonly #tokens: TokenCache | undefined;
  readonly #fetch: typeof fetch;
  readonly #initialDelay: number;
  readonly #maxDelay: number;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? env("CROSSPOST_API_URL") ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.#apiKey = options.apiKey ?? (options.clientId ? undefined : env("CROSSPOST_API_KEY"));
    this.#signingSecret = options.signingSecret;
    this.#signingKeyId = options.signingKeyId;
    if (options.clientId) {
      if (!options.clientSecret) throw new Error("give clientSecret with clientId (OAuth client credentials)");
      this.#tokens = new TokenCache(options.clientId, options.clientSecret, options.scope);
    }
    this.maxRetries = options.maxRetries ?? 3;
    this.timeout = options.timeout ?? 60_000;
    this.#initialDelay = options.initialRetryDelay ?? 500;
    this.#maxDelay = options.maxRetryDelay ?? 20_000;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  toJSON(): Record<string, string> {
    return { baseUrl: this.baseUrl };
  }

  /** Milliseconds before attempt `attempt + 1`, or null when it should not be made. */
  delay(attempt: number, headers: Headers | null): number | null {
    const asked = headers ? retryAfterSeconds(headers) : null;
    if (asked !== null) return asked <= 60 ? asked * 1000 : null;
    const ceiling = Math.min(this.#maxDelay, this.#initialDelay * 2 ** attempt);
    // "Equal jitter": at least half the backoff, so retries never bunch up at zero.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  /** The answer to `call` after any retries, parsed as JSON (undefined when empty). */
  async request<T>(call: Call): Promise<T> {
    const answer = await this.raw(call);
    const text = await answer.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** The answer to `call` after any retries, unread; throws an `APIError` for a refusal. */
  async raw(call: Call): Promise<Response> {
    const idempotencyKey =
      call.options?.idempotencyKey ?? (call.idempotent ? crypto.randomUUID() : undefined);
    const replayable = !(call.body instanceof ReadableStream);
    const safe = (SAFE_METHODS.has(call.method) || idempotencyKey !== undefined) && replayable;
    let renewToken = false;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.#send(call, idempotencyKey, renewToken);
      } catch (error) {
        if (error instanceof APIError) throw error;
        const wait = safe && attempt < this.maxRetries ? this.delay(attempt, null) : null;
        if (wait === null) throw this.#connectionError(error, attempt);
        await sleep(wait);
        continue;
      }
      this.rateLimit = rateLimitOf(response.headers) ?? this.rateLimit;
      if (response.ok) return response;
      if (response.status === 401 && this.#tokens && !renewToken) {
        await response.body?.cancel();
        renewToken = true; // the token was revoked or expired early: fetch a new one, once
        attempt--;
        continue;
      }
      const text = await response.text();
      const retryable =
        RETRY_STATUSES.has(response.status) &&
        attempt < this.maxRetries &&
        replayable &&
        (safe || response.status === 429);
      const wait = retryable ? this.delay(attempt, response.headers) : null;
      if (wait === null) throw errorFor(response.status, text, response.headers);
      await sleep(wait);
    }
  }

  async #send(call: Call, idempotencyKey: string | undefined, renewToken: boolean): Promise<Response> {
    const search = searchOf(call.query ?? (call.options?.query as Record<string, unknown> | undefined));
    const url = new URL(this.baseUrl + call.path + (search ? `?${search}` : ""));
    const headers: Record<string, string> = { Accept: "application/json", ...call.options?.headers };
    let body: BodyInit | undefined;
    let bytes: Bytes = new Uint8Array();
    if (call.json !== undefined) {
      bytes = utf8(JSON.stringify(call.json));
      body = bytes;
      headers["Content-Type"] = "application/json";
    } else if (call.form !== undefined) {
      bytes = utf8(searchOf(call.form));
      body = bytes;
      headers["Content-Type"] = "application/x-www-form-urlencoded";
    } else if (call.body !== undefined) {
      if (call.contentType) headers["Content-Type"] = call.contentType;
      if (typeof call.body === "string") bytes = utf8(call.body);
      else if (call.body instanceof Uint8Array) bytes = new Uint8Array(call.body);
      else if (call.body instanceof Blob && this.#signingSecret) {
        bytes = new Uint8Array(await call.body.arrayBuffer()); // signing needs the whole body's hash
      }
      body = call.body instanceof Blob || call.body instanceof ReadableStream ? call.body : bytes;
    }
    if (idempotencyKey !== undefined) headers["Idempotency-Key"] = idempotencyKey;
    if (this.#tokens && !headers.Authorization) {
      headers.Authorization = `Bearer ${await this.#tokens.token(this, renewToken)}`;
    } else if (this.#apiKey && !headers.Authorization) {
      headers.Authorization = `Bearer ${this.#apiKey}`;
    }
    if (this.#signingSecret) {
      if (call.body instanceof ReadableStream) {
        throw new Error("a signed request needs its whole body: give a Blob or bytes, not a stream");
      }
      const signing = await signRequest(this.#signingSecret, call.method, url, bytes, {
        ...(this.#signingKeyId ? { keyId: this.#signingKeyId } : {}),
      });
      Object.assign(headers, signing);
    }
    const timeout = AbortSignal.timeout(call.options?.timeout ?? this.timeout);
    const signal = call.options?.signal ? AbortSignal.any([call.options.signal, timeout]) : timeout;
    const init: RequestInit & { duplex?: "half" } = { method: call.method, headers, signal };
    if (body !== undefined) init.body = body;
    if (body instanceof ReadableStream) init.duplex = "half"; // a streamed upload (Node's fetch asks)
    return this.#fetch(url, init);
  }

  #connectionError(error: unknown, attempt: number): APIConnectionError {
    const tries = `after ${attempt + 1} attempt${attempt ? "s" : ""}`;
    const name = error instanceof Error ? error.name : "";
    if (name === "TimeoutError") return new APITimeoutError(`the API did not answer in time ${tries}`);
    return new APIConnectionError(`could not reach the API ${tries}: ${String(error)}`);
  }
}

/** A group of endpoints. */
export class Resource {
  constructor(protected readonly t: Transport) {}
}

interface PageBody<T> {
  data: T[];
  has_more: boolean;
  next_cursor?: string | null;
}

/** One page of a list; `for await` walks every item of this page and the ones after it. */
export class Page<T> implements AsyncIterable<T> {
  readonly data: T[];
  readonly hasMore: boolean;
  readonly nextCursor: string | null;

  constructor(
    private readonly t: Transport,
    private readonly call: Call,
    body: PageBody<T>,
    /** The query parameter that takes `next_cursor` (`after` for the events feed); null
     * where the endpoint answers one page only. */
    private readonly cursorParam: string | null = "cursor",
  ) {
    this.data = body.data;
    this.hasMore = body.has_more;
    this.nextCursor = body.next_cursor ?? null;
  }

  /** The page after this one, or null on the last page. */
  async nextPage(): Promise<Page<T> | null> {
    if (!this.hasMore || !this.nextCursor || this.cursorParam === null) return null;
    const query = { ...(this.call.query ?? {}), [this.cursorParam]: this.nextCursor };
    return fetchPage<T>(this.t, { ...this.call, query }, this.cursorParam);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    let page: Page<T> | null = this;
    while (page) {
      yield* page.data;
      page = await page.nextPage();
    }
  }
}

async function fetchPage<T>(t: Transport, call: Call, cursorParam: string | null): Promise<Page<T>> {
  return new Page<T>(t, call, await t.request<PageBody<T>>(call), cursorParam);
}

/** What a list method returns: `await` it for the first page, or `for await` every item. */
export class PagePromise<T> implements PromiseLike<Page<T>>, AsyncIterable<T> {
  #first: Promise<Page<T>> | null = null;

  constructor(
    private readonly t: Transport,
    private readonly call: Call,
    private readonly cursorParam: string | null = "cursor",
  ) {}

  #page(): Promise<Page<T>> {
    this.#first ??= fetchPage<T>(this.t, this.call, this.cursorParam);
    return this.#first;
  }

  then<A = Page<T>, B = never>(
    onfulfilled?: ((value: Page<T>) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): PromiseLike<A | B> {
    return this.#page().then(onfulfilled, onrejected);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    yield* await this.#page();
  }
}
