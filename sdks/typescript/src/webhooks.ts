/**
 * Verifying crosspost's webhooks (Standard Webhooks v1, HMAC-SHA256) with WebCrypto:
 *
 *     const event = await new Webhook(secret).verify(rawBody, request.headers);
 */

import { type Bytes, fromBase64, hmacSha256, sameBytes, utf8 } from "./encoding.js";

const PREFIX = "whsec_";
const DEFAULT_TOLERANCE_SECONDS = 300;

/** A delivery failed verification; the message says which check failed. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string {
  const read = (key: string): string | undefined => {
    if (headers instanceof Headers) return headers.get(key) ?? undefined;
    const found = Object.entries(headers).find(([k]) => k.toLowerCase() === key);
    const value = found?.[1];
    return Array.isArray(value) ? value[0] : value;
  };
  const value = read(`webhook-${name}`) ?? read(`svix-${name}`);
  if (!value) throw new WebhookVerificationError(`missing header webhook-${name} (or svix-${name})`);
  return value;
}

function secretKey(secret: string): Bytes {
  const encoded = secret.trim().replace(/^whsec_/, "");
  try {
    const key = fromBase64(encoded + "=".repeat((4 - (encoded.length % 4)) % 4));
    if (key.length === 0) throw new Error("empty");
    return key;
  } catch {
    throw new WebhookVerificationError(
      "the webhook secret is not base64 after its whsec_ prefix; copy the whole value shown " +
        "when the endpoint was created or its secret rotated",
    );
  }
}

/** One endpoint's secret, checking its deliveries. */
export class Webhook {
  readonly #key: Bytes;
  readonly toleranceSeconds: number;

  constructor(secret: string, options: { toleranceSeconds?: number } = {}) {
    if (!secret.trim().replace(PREFIX, "")) {
      throw new WebhookVerificationError("the webhook secret is empty; copy the whole whsec_… value");
    }
    this.#key = secretKey(secret);
    this.toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  }

  /** The delivery's event (its JSON body) once its signature and timestamp check out. */
  async verify(
    payload: string | Uint8Array,
    headers: HeaderSource,
    now: Date = new Date(),
  ): Promise<Record<string, unknown>> {
    const id = header(headers, "id");
    const rawTimestamp = header(headers, "timestamp");
    const signatures = header(headers, "signature");
    if (!/^[0-9]{1,12}$/.test(rawTimestamp.trim())) {
      throw new WebhookVerificationError(
        `the webhook-timestamp header must be integer Unix seconds, got ${JSON.stringify(rawTimestamp)}`,
      );
    }
    const timestamp = Number(rawTimestamp);
    const skew = timestamp - now.getTime() / 1000;
    if (skew < -this.toleranceSeconds) {
      throw new WebhookVerificationError(
        `the message timestamp is too old: ${Math.round(-skew)} s before now (a replay, or this machine's clock is wrong)`,
      );
    }
    if (skew > this.toleranceSeconds) {
      throw new WebhookVerificationError(
        `the message timestamp is too new: ${Math.round(skew)} s after now (check this machine's clock)`,
      );
    }
    const body = typeof payload === "string" ? utf8(payload) : new Uint8Array(payload);
    const signed = new Uint8Array([...utf8(`${id}.${timestamp}.`), ...body]);
    const expected = await hmacSha256(this.#key, signed);
    let checked = 0;
    for (const entry of signatures.split(/\s+/)) {
      const [version, encoded] = entry.split(",", 2);
      if (version !== "v1" || encoded === undefined) continue;
      checked += 1;
      let given: Bytes;
      try {
        given = fromBase64(encoded);
      } catch {
        continue;
      }
      if (sameBytes(expected, given)) return parse(body);
    }
    if (checked === 0) {
      throw new WebhookVerificationError(`the webhook-signature header holds no v1 signature`);
    }
    throw new WebhookVerificationError(
      `no matching signature (${checked} v1 signature(s) checked): the body was altered, or the ` +
        "secret is not this endpoint's (after a rotation, use the new secret)",
    );
  }

  toString(): string {
    return "Webhook(secret=<hidden>)";
  }
}

function parse(body: Uint8Array): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (error) {
    throw new WebhookVerificationError(`the signed payload is not valid JSON: ${String(error)}`);
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    throw new WebhookVerificationError("the signed payload is not a JSON object");
  }
  return data as Record<string, unknown>;
}
