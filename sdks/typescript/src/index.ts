/**
 * The TypeScript client for the crosspost API.
 *
 *     import { Crosspost } from "@crosspost/sdk";
 *     const client = new Crosspost({ apiKey: "cp_test_…", baseUrl: "http://127.0.0.1:8000" });
 *     const post = await client.posts.create({ text: "hi", targets: ["x"] });
 *     await client.posts.wait(post.id);
 */

import { type ClientOptions, type RateLimit, Transport } from "./core.js";
import { Resources } from "./resources.js";

export class Crosspost extends Resources {
  /** Every endpoint, authenticated as `options` says (an API key, signed or not, or an
   * OAuth client), retried on 429, 5xx and dropped connections with one idempotency key. */
  constructor(options: ClientOptions = {}) {
    super(new Transport(options));
  }

  /** The API this client talks to. */
  get baseUrl(): string {
    return this.t.baseUrl;
  }

  /** The key's rate-limit state after the last answer (null: unlimited or unknown). */
  get rateLimit(): RateLimit | null {
    return this.t.rateLimit;
  }

  /** Any call by method and path, its answer as decoded JSON: for what a release of the API
   * has that this SDK does not know yet. */
  request<T = unknown>(method: string, path: string, options: { query?: Record<string, unknown>; json?: unknown } = {}): Promise<T> {
    return this.t.request<T>({ method: method.toUpperCase(), path, query: options.query, json: options.json });
  }
}

export type { Body, CallOptions, ClientOptions, RateLimit } from "./core.js";
export { Page, PagePromise, VERSION } from "./core.js";
export * from "./errors.js";
export { WaitTimeout, type StreamedEvent, type UploadOptions, type WaitOptions } from "./extras.js";
export type { components, operations, paths } from "./schema.js";
export { canonicalQuery, signRequest } from "./signing.js";
export { Webhook, WebhookVerificationError } from "./webhooks.js";
