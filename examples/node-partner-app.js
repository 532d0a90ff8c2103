// A partner's app on crosspost, with the TypeScript SDK (seed 000's workflow, end to end).
//
// It uploads a recording through a presigned direct upload, makes a clip studio project of
// it, finds a highlight, renders it vertical, learns that the render is ready from a signed
// webhook its own Express receiver verifies, publishes the render to three platforms,
// follows the post to `published`, and prints the month's usage. Every step logs; any
// refusal is printed with its code, what to change, and the request id.
//
//   (cd sdks/typescript && npm ci) && (cd examples && npm ci)
//   crosspost serve --sandbox &
//   crosspost sample stream stream.mp4
//   CROSSPOST_API_KEY=$(crosspost keys create --name partner -q | tail -1) \
//     node examples/node-partner-app.js stream.mp4
import { openAsBlob } from "node:fs";
import { basename } from "node:path";
import { APIError, Crosspost, CrosspostError, Webhook, WebhookVerificationError } from "@crosspost/sdk";
import express from "express";

const PLATFORMS = ["youtube", "tiktok", "instagram"];

function log(step, message) {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${step.padEnd(10)} ${message}`);
}

/** A local receiver: each delivery is verified before its event is handed on. */
function startReceiver() {
  const app = express();
  const waiting = [];
  const seen = [];
  let webhook = null;
  // The raw bytes: the signature covers the body exactly as sent.
  app.post("/hooks/crosspost", express.raw({ type: "*/*" }), async (request, response) => {
    if (!webhook) return response.status(503).end(); // not ready: crosspost retries
    try {
      const event = await webhook.verify(request.body, request.headers);
      log("webhook", `verified ${event.type}`);
      seen.push(event);
      for (const wait of [...waiting]) wait();
      response.status(204).end();
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      log("webhook", `refused a delivery: ${error.message}`);
      response.status(400).end();
    }
  });
  return new Promise((resolve) => {
    const server = app.listen(0, "127.0.0.1", () => {
      const url = `http://127.0.0.1:${server.address().port}/hooks/crosspost`;
      resolve({
        url,
        close: () => server.close(),
        trust: (secret) => (webhook = new Webhook(secret)),
        /** The first verified event of one of `types` whose data has the `match` members. */
        waitFor: (types, match, timeoutMs) =>
          new Promise((done, fail) => {
            const found = () => seen.find((e) => types.includes(e.type) && Object.entries(match).every(([k, v]) => e.data?.[k] === v));
            const timer = setTimeout(() => fail(new Error(`no ${types.join(" or ")} event in ${timeoutMs / 1000} s`)), timeoutMs);
            const check = () => {
              const event = found();
              if (!event) return;
              clearTimeout(timer);
              waiting.splice(waiting.indexOf(check), 1);
              done(event);
            };
            waiting.push(check);
            check();
          }),
      });
    });
  });
}

async function run(client, video, receiver) {
  const file = await openAsBlob(video, { type: "video/mp4" });
  const upload = await client.uploads.create({ filename: basename(video), content_type: "video/mp4", size: file.size });
  log("upload", `presigned ${upload.method ?? "PUT"} ${upload.upload_url}`);
  const put = await fetch(upload.upload_url, { method: upload.method ?? "PUT", headers: upload.headers, body: file });
  if (!put.ok) throw new Error(`the presigned upload answered ${put.status}: ${await put.text()}`);
  let done = await client.uploads.complete(upload.id);
  for (let i = 0; done.status === "pending" && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 200));
    done = await client.uploads.get(upload.id);
  }
  if (!done.media_id) throw new Error(`the upload did not become media: ${JSON.stringify(done.error)}`);
  log("upload", `media ${done.media_id} (${file.size.toLocaleString()} bytes)`);

  const project = await client.projects.create({ name: "Partner launch (Node)", source_media_ids: [done.media_id] });
  log("project", `${project.id} made from the recording`);
  let job = await client.projects.highlights(project.id, { min_seconds: 5, max_seconds: 10, count: 1 });
  log("highlights", `detection started (job ${job.id})`);
  job = await client.jobs.wait(job.id, { timeout: 300_000 });
  if (job.status !== "succeeded") throw new Error(`highlight detection failed: ${JSON.stringify(job.error)}`);
  const clips = [];
  for await (const clip of client.projects.clips.list(project.id)) clips.push(clip);
  if (!clips.length) throw new Error("no highlight found in the recording; try a longer or livelier one");
  const clip = clips[0];
  log("clips", `${clips.length} clip(s); rendering ${clip.id} (${clip.start_seconds}-${clip.end_seconds} s)`);

  const endpoint = await client.webhooks.create({ url: receiver.url, event_types: ["export.ready", "export.failed", "post.published"] });
  receiver.trust(endpoint.secret);
  log("webhook", `endpoint ${endpoint.id} registered at ${receiver.url}`);

  const render = await client.clips.renders.create(clip.id, { platform_preset: "tiktok", captions: false });
  log("render", `${render.id} queued, 9:16`);
  const ended = await receiver.waitFor(["export.ready", "export.failed"], { exportId: render.id }, 600_000);
  if (ended.type === "export.failed") throw new Error(`the render failed: ${JSON.stringify(ended.data.error)}`);
  log("render", `ready: ${Object.keys(ended.data.artifacts).sort().join(", ")}`);

  const post = await client.posts.create({ render_id: render.id, text: "Our launch, in 10 seconds #launch", targets: PLATFORMS });
  log("publish", `post ${post.id} to ${PLATFORMS.join(", ")}`);
  const final = await client.posts.wait(post.id, {
    timeout: 600_000,
    onUpdate: (p) => log("publish", p.targets.map((t) => `${t.platform} ${t.status}`).join(", ")),
  });
  for (const target of final.targets) log("publish", `${target.platform}: ${target.status} ${target.external_url ?? ""}`);
  if (final.status !== "published") throw new Error(`the post ended ${final.status}: see GET /v1/posts/${post.id}/ledger`);

  const usage = await client.usage.get();
  log("usage", JSON.stringify(usage.tenant));
  log("done", "the clip is live on three platforms");
}

async function main() {
  const video = process.argv[2];
  if (!video) {
    console.error("usage: node examples/node-partner-app.js RECORDING.mp4");
    return 2;
  }
  if (!process.env.CROSSPOST_API_KEY) {
    console.error("set CROSSPOST_API_KEY (crosspost keys create --name partner)");
    return 2;
  }
  const receiver = await startReceiver();
  try {
    await run(new Crosspost(), video, receiver); // CROSSPOST_API_KEY and CROSSPOST_API_URL
    return 0;
  } catch (error) {
    if (error instanceof APIError) {
      console.error(`crosspost refused: ${error.status} ${error.code}: ${error.detail} (request ${error.requestId})`);
    } else if (error instanceof CrosspostError || error instanceof Error) {
      console.error(`stopped: ${error.message}`);
    } else throw error;
    return 1;
  } finally {
    receiver.close();
  }
}

process.exitCode = await main();
