/** `npm run local-backend -- --port 0 --admin-key KEY`: start the local backend, print `ready <url>`. */
import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Backend } from "./backend.js";

const USAGE = `usage: local-backend --admin-key KEY [--port N] [--functions-dir DIR]
       [--latency-ms N] [--drop-after-messages N] [--http-error-status N]
       [--ping-interval-ms N] [--state-file PATH] [--stop-on-stdin-eof]`;

function usageError(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function numberFlag(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) usageError(`--${name} must be a whole number >= 0`);
  return value;
}

function portFlag(text: string | undefined): number {
  const port = numberFlag("port", text) ?? 0;
  if (port > 65535) usageError("--port must be a port number, 0-65535");
  return port;
}

function functionsDirFlag(text: string | undefined): string {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const dir = resolve(text ?? resolve(repoRoot, "convex"));
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) usageError(`--functions-dir ${dir} is not a folder`);
  return dir;
}

function errorStatusFlag(text: string | undefined): number | null {
  const status = numberFlag("http-error-status", text);
  if (status === undefined) return null;
  if (status < 400 || status > 599) usageError("--http-error-status must be an HTTP error status, 400-599");
  return status;
}

const OPTIONS = {
  port: { type: "string", default: "0" },
  "admin-key": { type: "string" },
  "functions-dir": { type: "string" },
  "latency-ms": { type: "string" },
  "drop-after-messages": { type: "string" },
  "http-error-status": { type: "string" },
  "ping-interval-ms": { type: "string" },
  "state-file": { type: "string" },
  "stop-on-stdin-eof": { type: "boolean" },
  help: { type: "boolean" },
} as const;

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ options: OPTIONS });
  } catch (error) {
    // An unknown flag or a missing value: one line and the usage, not a stack trace.
    usageError(error instanceof Error ? error.message.split("\n")[0] : String(error));
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const adminKey = values["admin-key"] ?? process.env.LOCAL_BACKEND_ADMIN_KEY;
  if (!adminKey) usageError("--admin-key (or LOCAL_BACKEND_ADMIN_KEY) is required");
  const backend = await Backend.start({
    functionsDir: functionsDirFlag(values["functions-dir"]),
    adminKey,
    port: portFlag(values.port),
    pingIntervalMs: numberFlag("ping-interval-ms", values["ping-interval-ms"]),
    stateFile: values["state-file"] === undefined ? undefined : resolve(values["state-file"]),
    faults: {
      latencyMs: numberFlag("latency-ms", values["latency-ms"]) ?? 0,
      dropAfterMessages: numberFlag("drop-after-messages", values["drop-after-messages"]) ?? null,
      httpErrorStatus: errorStatusFlag(values["http-error-status"]),
    },
  });
  process.stdout.write(`ready ${backend.url}\n`);
  // Function logs go to stderr so stdout stays a one-line handshake nobody has to drain.
  console.log = console.info = console.debug = console.error;

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // A client that never lets go of its socket must not keep the process alive.
    setTimeout(() => process.exit(0), 2000).unref();
    backend.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  if (values["stop-on-stdin-eof"]) {
    // The parent holds the pipe's other end: when it dies, even by SIGKILL, the pipe
    // closes and the backend goes with it instead of lingering as an orphan.
    process.stdin.on("end", stop).on("error", stop).resume();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
