/** Methods written by hand beside the generated ones: uploads with progress, waiting for a
 * post, job or export to settle, and the live event stream. */

import { type Body, type CallOptions, Resource, seg } from "./core.js";
import { APIConnectionError, APIError } from "./errors.js";
import type { components } from "./schema.js";

type Schemas = components["schemas"];
const TERMINAL_POST = new Set(["published", "partially_published", "failed", "cancelled", "deleted"]);
const TERMINAL_JOB = new Set(["succeeded", "failed"]);
const TERMINAL_EXPORT = new Set(["ready", "failed", "expired"]);
const STREAM_RETRY = new Set([429, 500, 502, 503, 504]);

export interface UploadOptions {
  filename?: string;
  contentType?: string;
  /** Called as bytes leave: (sent so far, of how many). */
  onProgress?: (sent: number, total: number) => void;
  idempotencyKey?: string;
}

export interface WaitOptions<T> {
  /** Milliseconds before giving up (default 600 000). */
  timeout?: number;
  /** First polling interval in milliseconds, growing while nothing changes (default 500). */
  interval?: number;
  onUpdate?: (value: T) => void;
}

/** An object did not reach a final status in time; `last` is how it stood. */
export class WaitTimeout<T> extends Error {
  constructor(
    what: string,
    readonly last: T,
  ) {
    super(`${what} did not finish in time`);
    this.name = "WaitTimeout";
  }
}

function counted(blob: Blob, onProgress: (sent: number, total: number) => void): ReadableStream<Uint8Array> {
  let sent = 0;
  return blob.stream().pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        sent += chunk.byteLength;
        onProgress(sent, blob.size);
        controller.enqueue(chunk);
      },
    }),
  );
}

async function waitFor<T extends { status: string }>(
  what: string,
  terminal: Set<string>,
  read: () => Promise<T>,
  options: WaitOptions<T>,
): Promise<T> {
  const deadline = Date.now() + (options.timeout ?? 600_000);
  const first = options.interval ?? 500;
  let delay = 0;
  let last = "";
  for (;;) {
    const seen = await read();
    options.onUpdate?.(seen);
    if (terminal.has(seen.status)) return seen;
    if (Date.now() >= deadline) throw new WaitTimeout(what, seen);
    const now = JSON.stringify(seen);
    // A change resets the interval; while nothing changes it grows by half, up to 5 s.
    delay = now !== last || !delay ? first : Math.min(5_000, delay * 1.5);
    last = now;
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, deadline - Date.now())));
  }
}

export class MediaExtras extends Resource {
  /** Upload a file's bytes (a Blob — in Node, `await fs.openAsBlob(path)` — or bytes),
   * streamed, with progress; the media item it made. */
  upload(data: Blob | Uint8Array, options: UploadOptions = {}): Promise<Schemas["MediaItem"]> {
    const blob = data instanceof Blob ? data : new Blob([new Uint8Array(data)]);
    const contentType = options.contentType ?? (blob.type || "application/octet-stream");
    const body: Body = options.onProgress ? counted(blob, options.onProgress) : blob;
    const headers: Record<string, string> = {
      "X-Filename": options.filename ?? (data instanceof File ? data.name : "upload"),
    };
    const call: CallOptions = { headers };
    if (options.idempotencyKey) call.idempotencyKey = options.idempotencyKey;
    return this.t.request({
      method: "POST",
      path: "/v1/media",
      body,
      contentType,
      idempotent: true,
      options: call,
    });
  }
}

export class PostsExtras extends Resource {
  /** Poll a post until it is published, partly published, failed, cancelled or deleted. */
  wait(postId: string, options: WaitOptions<Schemas["PostPublic"]> = {}): Promise<Schemas["PostPublic"]> {
    const read = () => this.t.request<Schemas["PostPublic"]>({ method: "GET", path: `/v1/posts/${seg(postId)}` });
    return waitFor("the post", TERMINAL_POST, read, options);
  }
}

export class JobsExtras extends Resource {
  /** Poll a job (highlights, a render, a distribution) until it succeeded or failed. */
  wait(jobId: string, options: WaitOptions<Schemas["JobPublic"]> = {}): Promise<Schemas["JobPublic"]> {
    const read = () => this.t.request<Schemas["JobPublic"]>({ method: "GET", path: `/v1/jobs/${seg(jobId)}` });
    return waitFor("the job", TERMINAL_JOB, read, options);
  }
}

export class ExportsExtras extends Resource {
  /** Poll an export until it is ready, failed or expired. */
  wait(exportId: string, options: WaitOptions<Schemas["ExportPublic"]> = {}): Promise<Schemas["ExportPublic"]> {
    const read = () =>
      this.t.request<Schemas["ExportPublic"]>({ method: "GET", path: `/v1/exports/${seg(exportId)}` });
    return waitFor("the export", TERMINAL_EXPORT, read, options);
  }
}

export interface StreamOptions {
  after?: string;
  types?: string[];
  postId?: string;
  signal?: AbortSignal;
  /** Milliseconds of silence (not even a heartbeat) before reconnecting (default 45 000). */
  idleTimeout?: number;
}

export interface StreamedEvent {
  id: string | null;
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
  test?: boolean;
}

export class EventsExtras extends Resource {
  /** Events as they happen (GET /v1/events/stream), for as long as you iterate; a dropped
   * connection or a restart reconnects with Last-Event-ID, so nothing is missed or repeated. */
  async *stream(options: StreamOptions = {}): AsyncGenerator<StreamedEvent> {
    let last = options.after ?? null;
    let delay = 500;
    const query: Record<string, unknown> = {};
    if (options.types?.length) query.types = options.types.join(",");
    if (options.postId) query.post_id = options.postId;
    while (!options.signal?.aborted) {
      try {
        const headers: Record<string, string> = { Accept: "text/event-stream" };
        if (last) headers["Last-Event-ID"] = last;
        const call: CallOptions = { headers, timeout: 2 ** 31 - 1 };
        if (options.signal) call.signal = options.signal;
        const response = await this.t.raw({ method: "GET", path: "/v1/events/stream", query, options: call });
        for await (const message of messages(response.body!, options.idleTimeout ?? 45_000)) {
          delay = 500;
          last = message.id ?? last;
          if (message.data) yield { id: message.id, ...(JSON.parse(message.data) as Omit<StreamedEvent, "id">) };
        }
      } catch (error) {
        if (options.signal?.aborted) return;
        if (error instanceof APIError && !STREAM_RETRY.has(error.status)) throw error;
        if (!(error instanceof APIError || error instanceof APIConnectionError || error instanceof Error)) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  }
}

interface Message {
  id: string | null;
  data: string;
}

/** An event stream's messages, as the HTML standard parses them. */
async function* messages(body: ReadableStream<Uint8Array>, idleMs: number): AsyncGenerator<Message> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  let id: string | null = null;
  try {
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("the stream went quiet")), idleMs);
      });
      const { value, done } = await Promise.race([reader.read(), idle]).finally(() => clearTimeout(timer));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
        if (line === "") {
          if (data.length) yield { id, data: data.join("\n") };
          data = [];
        } else if (!line.startsWith(":")) {
          const at = line.indexOf(":");
          const field = at < 0 ? line : line.slice(0, at);
          const text = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
          if (field === "data") data.push(text);
          else if (field === "id" && !text.includes("\0")) id = text;
        }
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
