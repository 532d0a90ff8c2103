/**
 * HMAC request signing (scheme v1), as the server checks it: the string to sign is
 * METHOD, the raw path, the canonical query, the body's SHA-256, X-Timestamp and X-Nonce,
 * joined by newlines; X-Signature is its hex HMAC-SHA256 under the whole `cpsig_…` secret.
 */

import { type Bytes, hex, hmacSha256, sha256Hex, toBase64, utf8 } from "./encoding.js";

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

function decodeToBytes(component: string): number[] {
  const text = component.replace(/\+/g, " ");
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "%" && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      const code = text.codePointAt(i)!;
      if (code > 0xffff) i++;
      bytes.push(...utf8(String.fromCodePoint(code)));
    }
  }
  return bytes;
}

function encodeBytes(bytes: number[]): string {
  return bytes
    .map((b) => {
      const c = String.fromCharCode(b);
      return b < 0x80 && UNRESERVED.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    })
    .join("");
}

/** The query as signed: pairs decoded (`+` is a space), re-encoded, sorted by name (stable). */
export function canonicalQuery(rawQuery: string): string {
  const pairs = rawQuery
    .split("&")
    .filter((part) => part.length > 0)
    .map((part) => {
      const at = part.indexOf("=");
      const name = at < 0 ? part : part.slice(0, at);
      const value = at < 0 ? "" : part.slice(at + 1);
      return [encodeBytes(decodeToBytes(name)), encodeBytes(decodeToBytes(value))] as const;
    });
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return pairs.map(([name, value]) => `${name}=${value}`).join("&");
}

/** An X-Timestamp value: UTC, whole seconds, `Z`. */
export function formatTimestamp(moment: Date): string {
  return moment.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A fresh nonce: 24 URL-safe characters carrying 144 random bits. */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_");
}

/** The X-Signature, X-Timestamp, X-Nonce (and X-Key-Id) headers for one request to `url`. */
export async function signRequest(
  secret: string,
  method: string,
  url: URL,
  body: Bytes,
  options: { keyId?: string; now?: Date; nonce?: string } = {},
): Promise<Record<string, string>> {
  const timestamp = formatTimestamp(options.now ?? new Date());
  const nonce = options.nonce ?? newNonce();
  const text = [
    method.toUpperCase(),
    url.pathname,
    canonicalQuery(url.search.replace(/^\?/, "")),
    await sha256Hex(body),
    timestamp,
    nonce,
  ].join("\n");
  const signature = hex(await hmacSha256(utf8(secret), utf8(text)));
  const headers: Record<string, string> = {
    "X-Signature": signature,
    "X-Timestamp": timestamp,
    "X-Nonce": nonce,
  };
  if (options.keyId) headers["X-Key-Id"] = options.keyId;
  return headers;
}
