// Starts `crosspost serve --sandbox` in a fresh home for the test run (CROSSPOST_BIN, else
// `crosspost` on PATH), makes an API key with `crosspost keys create`, and hands both to the
// tests; stops the server afterwards.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    apiUrl: string;
    apiKey: string;
  }
}

function started(server: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`crosspost serve did not start: ${err}`)), 90_000);
    server.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    server.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      try {
        const line = JSON.parse(out) as { api_url: string };
        clearTimeout(timer);
        resolve(line.api_url);
      } catch {
        // not the whole JSON yet
      }
    });
    server.on("exit", (code) => reject(new Error(`crosspost serve exited (${code}): ${err}`)));
  });
}

export default async function setup(project: TestProject): Promise<() => void> {
  const bin = process.env.CROSSPOST_BIN ?? "crosspost";
  const home = mkdtempSync(join(tmpdir(), "crosspost-sdk-ts-"));
  const env = { ...process.env, CROSSPOST_HOME: home };
  const server = spawn(bin, ["serve", "--sandbox", "--port", "0", "--sandbox-port", "0", "--json"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const apiUrl = await started(server);
  const created = execFileSync(bin, ["keys", "create", "--name", "sdk-ts", "--role", "owner", "-q"], { env, encoding: "utf8" });
  const apiKey = created.trim().split("\n").at(-1)!;
  project.provide("apiUrl", apiUrl);
  project.provide("apiKey", apiKey);
  return () => {
    server.kill("SIGTERM");
    rmSync(home, { recursive: true, force: true });
  };
}
