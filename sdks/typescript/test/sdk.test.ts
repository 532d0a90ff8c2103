// The TypeScript SDK against a served crosspost, over real HTTP: every endpoint has a method,
// posts are created and followed, lists page themselves, refusals are typed, retries resend
// the same idempotency key, requests sign themselves, OAuth clients authenticate, and real
// webhook deliveries verify.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, inject, it } from "vitest";
import {
  BadRequest,
  Crosspost,
  NotFound,
  ServiceUnavailable,
  Unauthorized,
  Webhook,
  WebhookVerificationError,
} from "../src/index.js";

const apiUrl = inject("apiUrl");
const apiKey = inject("apiKey");
const fast = { initialRetryDelay: 5, maxRetryDelay: 20 };
const client = new Crosspost({ apiKey, baseUrl: apiUrl, ...fast });
const PNG = Uint8Array.from(
  atob(
    "iVBORw0KGgoAAAANSUhEUgAAAEAAAABACAIAAAAlC+aJAAAAY0lEQVR4nO3PQQ3AIADAQEANmlCMrIngcVnSU9DOu8/4s6UDXjWgNaA1oDWgNaA1oDWgNaA1oDWgNaA1oDWgNaA1oDWgNaA1oDWgNaA1oDWgNaA1oDWgNaA1oDWgNaA1oDWgfXTwAcpeq0lqAAAAAElFTkSuQmCC",
  ),
  (c) => c.charCodeAt(0),
);

function at(root: unknown, dotted: string): unknown {
  return dotted
    .split(".")
    .map((part) => part.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()))
    .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], root);
}

describe("the TypeScript SDK", () => {
  it("has a method for every operation of the served document", async () => {
    const document = (await (await fetch(`${apiUrl}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { "x-sdk-name"?: string; responses?: Record<string, { content?: object }> }>>;
    };
    const missing: string[] = [];
    let count = 0;
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [verb, operation] of Object.entries(item)) {
        if (!["get", "post", "put", "patch", "delete"].includes(verb)) continue;
        count++;
        const name = operation["x-sdk-name"]!;
        if (typeof at(client, name) !== "function") missing.push(`${verb.toUpperCase()} ${path} (${name})`);
      }
    }
    expect(count).toBeGreaterThan(150);
    expect(missing).toEqual([]);
  });

  it("uploads with progress, publishes and follows a post", async () => {
    const seen: number[] = [];
    const media = await client.media.upload(new Blob([PNG], { type: "image/png" }), {
      filename: "square.png",
      onProgress: (sent) => seen.push(sent),
    });
    expect(media.kind).toBe("image");
    expect(seen.at(-1)).toBe(PNG.byteLength);
    const post = await client.posts.create({ text: "from TypeScript", targets: ["x"] });
    const final = await client.posts.wait(post.id, { timeout: 60_000 });
    expect(final.status).toBe("published");
    expect(final.targets[0]?.external_id).toBeTruthy();
    expect((await client.me.get()).tenant.id).toBeTruthy();
  });

  it("walks every page of a list", async () => {
    const made = [];
    for (let n = 0; n < 5; n++) {
      made.push(await client.webhooks.create({ url: `https://example.com/ts/${n}`, event_types: ["post.*"] }));
    }
    const first = await client.webhooks.list({ query: { limit: 2 } });
    expect(first.data).toHaveLength(2);
    expect(first.hasMore).toBe(true);
    const ids: string[] = [];
    for await (const endpoint of client.webhooks.list({ query: { limit: 2 } })) ids.push(endpoint.id);
    for (const endpoint of made) expect(ids).toContain(endpoint.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("raises typed errors carrying code, detail and request id", async () => {
    const missing = await client.posts.get("post_nope").catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(NotFound);
    expect((missing as NotFound).requestId).toMatch(/^req_/);
    const stranger = new Crosspost({ apiKey: "cp_test_nope", baseUrl: apiUrl });
    const refused = await stranger.me.get().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Unauthorized);
    expect((refused as Unauthorized).code).toBe("invalid_api_key");
  });

  it("resends a lost answer's request with the same idempotency key: one post", async () => {
    const keys: (string | null)[] = [];
    let lose = 1;
    const lossy: typeof fetch = async (input, init) => {
      const answer = await fetch(input, init);
      if (String(input).endsWith("/v1/posts") && init?.method === "POST") {
        keys.push(new Headers(init.headers).get("Idempotency-Key"));
        if (lose-- > 0) throw new TypeError("fetch failed: the answer was lost");
      }
      return answer;
    };
    const flaky = new Crosspost({ apiKey, baseUrl: apiUrl, fetch: lossy, ...fast });
    const before = (await client.posts.list({ query: { limit: 100 } })).data.length;
    const post = await flaky.posts.create({ text: "exactly once, TS", targets: ["x"] });
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBeTruthy();
    expect(keys[1]).toBe(keys[0]);
    const after = (await client.posts.list({ query: { limit: 100 } })).data;
    expect(after.length).toBe(before + 1);
    expect(after.some((p) => p.id === post.id)).toBe(true);

    const down: typeof fetch = async () => new Response("{}", { status: 503, headers: { "Retry-After": "0" } });
    const unavailable = new Crosspost({ apiKey, baseUrl: apiUrl, fetch: down, ...fast });
    await expect(unavailable.me.get()).rejects.toBeInstanceOf(ServiceUnavailable);
  });

  it("signs every request with a signing secret, as a tenant can require", async () => {
    const caller = await client.me.get();
    const secret = await client.keys.signingSecrets.create(caller.key!.id);
    const signed = new Crosspost({ apiKey, baseUrl: apiUrl, signingSecret: secret.secret ?? "", signingKeyId: secret.id });
    await signed.signingPolicy.replace({ required: true });
    try {
      expect((await signed.me.get()).tenant.id).toBe(caller.tenant.id);
      const listed = await signed.posts.list({ query: { limit: 1, status: "published" } });
      expect(listed.data.length).toBeLessThanOrEqual(1);
      const unsigned = await client.me.get().catch((error: unknown) => error);
      expect(unsigned).toBeInstanceOf(BadRequest);
      expect((unsigned as BadRequest).code).toBe("missing_signature_header");
    } finally {
      await signed.signingPolicy.replace({ required: false });
    }
  });

  it("authenticates an OAuth client with client credentials", async () => {
    const made = await client.oauthClients.create({ name: "ts partner", scopes: ["posts:read"] });
    const partner = new Crosspost({ baseUrl: apiUrl, clientId: made.client_id, clientSecret: made.client_secret ?? "" });
    expect((await partner.posts.list()).data).toBeInstanceOf(Array);
    expect(JSON.stringify(partner)).not.toContain(made.client_secret!);
  });

  it("verifies a real webhook delivery and refuses a tampered one", async () => {
    const received: { body: string; headers: Record<string, string> }[] = [];
    const receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        received.push({ body, headers: request.headers as Record<string, string> });
        response.writeHead(200).end("{}");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    try {
      const port = (receiver.address() as AddressInfo).port;
      const endpoint = await client.webhooks.create({ url: `http://127.0.0.1:${port}/hook`, event_types: ["post.*"] });
      await client.webhooks.test(endpoint.id);
      const deadline = Date.now() + 30_000;
      while (!received.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const delivery = received[0]!;
      const event = await new Webhook(endpoint.secret!).verify(delivery.body, delivery.headers);
      expect(event.type).toBe("webhook.test");
      const tampered = new Webhook(endpoint.secret!).verify(delivery.body.replace("test", "tset"), delivery.headers);
      await expect(tampered).rejects.toBeInstanceOf(WebhookVerificationError);
    } finally {
      receiver.close();
    }
  });

  it("streams events as they happen", async () => {
    const controller = new AbortController();
    const stream = client.events.stream({ types: ["post.published"], signal: controller.signal });
    const next = stream.next();
    await new Promise((r) => setTimeout(r, 300)); // the stream starts after now
    await client.events.trigger({ type: "post.published" });
    const first = await next;
    controller.abort();
    expect(first.value?.type).toBe("post.published");
    expect(first.value?.id).toBeTruthy();
  });
});
