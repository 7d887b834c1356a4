/** The backend: function runner, fault settings, connected sockets, HTTP API and control endpoint. */
import { brotliDecompressSync } from "node:zlib";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { jsonToConvex, type JSONValue, type Value } from "convex/values";
import { WebSocketServer } from "ws";
import { DEPLOY_ROUTES, Deployment } from "./deployApi.js";
import { applyFaultPatch, noFaults, sleep, type FaultSettings } from "./faults.js";
import { canonicalPath, FunctionRunner } from "./functions.js";
import { StateFile } from "./persistence.js";
import { type SessionHost, SyncSession } from "./sync.js";
import type { Outcome, UdfType } from "./types.js";
import { cleanJson, convexJson, nextTs, serialize } from "./wire.js";

export interface BackendOptions {
  functionsDir: string;
  adminKey: string;
  port: number;
  faults?: Partial<FaultSettings>;
  /** A socket that has sent nothing for this long gets a Ping (Convex: well under 30 s). */
  pingIntervalMs?: number;
  /** Load the tables from this JSON file at start and rewrite it after every commit. */
  stateFile?: string;
}

const SYNC_PATH = /^\/api(\/[0-9.]+)?\/sync$/;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const SYSTEM_API_SPEC = "_system/cli/modules:apiSpec";
const SYSTEM_CLOUD_URL = "_system/cli/convexUrl:cloudUrl";
const VERSION = "local-backend-0.1.0";
const CANONICAL_URLS = "/api/v1/get_canonical_urls";
const FUNCTION_LOGS = "/api/stream_function_logs";
const LOG_POLL_MS = 10_000;

export class Backend implements SessionHost {
  faults: FaultSettings;
  readonly sessions = new Set<SyncSession>();
  /** Bumped on every committed mutation; subscriptions re-run when it moves. */
  dataGeneration = 0;
  private mutationCount = 0;
  private messagesTowardsDrop = 0;
  private connectionCount = 0;
  private readonly server: Server;
  private readonly sockets = new WebSocketServer({ noServer: true });
  private readonly pinger: NodeJS.Timeout;
  private readonly stateFile: StateFile | null;
  private readonly deployment: Deployment;

  private constructor(
    private readonly runner: FunctionRunner,
    private readonly options: BackendOptions,
  ) {
    this.faults = { ...noFaults(), ...options.faults };
    this.stateFile = options.stateFile ? new StateFile(options.stateFile) : null;
    this.deployment = new Deployment(runner, () => this.committed());
    this.server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        sendJson(res, 500, { code: "InternalServerError", message: String(error) });
      });
    });
    this.server.keepAliveTimeout = 60_000;
    this.server.on("upgrade", (req, socket, head) => this.upgrade(req, socket as Socket, head));
    const pingIntervalMs = options.pingIntervalMs ?? 10_000;
    this.pinger = setInterval(() => {
      const idleSince = Date.now() - pingIntervalMs;
      for (const session of this.sessions) if (session.lastSentAt <= idleSince) session.ping();
    }, Math.max(10, pingIntervalMs / 2));
    this.pinger.unref();
    nextTs();
  }

  static async start(options: BackendOptions): Promise<Backend> {
    const backend = new Backend(await FunctionRunner.load(options.functionsDir), options);
    if (backend.stateFile !== null) {
      const saved = backend.stateFile.read();
      // Code pushed with the Convex CLI wins over the functions folder, as on a deployment.
      if (saved.push !== null) await backend.deployment.restore(saved.push);
      await backend.runner.restoreTables(saved.tables);
    }
    await new Promise<void>((resolve, reject) => {
      backend.server.once("error", reject);
      backend.server.listen(options.port, "127.0.0.1", resolve);
    });
    return backend;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /**
   * Counts one client message against `dropAfterMessages` (messages on any socket since
   * the fault was set); true for the message that reaches it, which clears the fault.
   */
  countMessageTowardsDrop(): boolean {
    if (this.faults.dropAfterMessages === null) return false;
    this.messagesTowardsDrop += 1;
    if (this.messagesTowardsDrop < this.faults.dropAfterMessages) return false;
    this.faults = { ...this.faults, dropAfterMessages: null };
    return true;
  }

  private setFaults(faults: FaultSettings): void {
    this.faults = faults;
    this.messagesTowardsDrop = 0;
  }

  sessionClosed(session: SyncSession): void {
    this.sessions.delete(session);
  }

  isAdminKey(key: string): boolean {
    return key === this.options.adminKey;
  }

  /** Runs a function for a socket or an HTTP request, applying injected failures. */
  async call(udfPath: string, args: Record<string, Value>, expected: UdfType | "any", isAdmin: boolean): Promise<Outcome> {
    const path = canonicalPath(udfPath);
    if (path === SYSTEM_API_SPEC && isAdmin && expected !== "mutation" && expected !== "action") {
      // `npx convex run` lists the deployment's functions when the one it was asked for is
      // missing; `npx convex function-spec` prints them with their validators.
      return { ok: true, value: (await this.runner.listFunctions()) as unknown as Value };
    }
    if (path === SYSTEM_CLOUD_URL && isAdmin && expected !== "mutation" && expected !== "action") {
      return { ok: true, value: this.url };
    }
    const failWith = this.faults.failFunctions[path];
    const outcome = await this.runner.call(udfPath, args, { expected, isAdmin, failWith });
    // A committed mutation writes; an action may have (through ctx.runMutation), even if it failed.
    const mayHaveWritten = outcome.type === "action" || (outcome.ok && outcome.type === "mutation");
    if (mayHaveWritten) {
      if (outcome.type === "mutation") this.mutationCount += 1;
      await this.committed();
    }
    return outcome;
  }

  /**
   * After a write: a new commit ts, the tables saved (with `--state-file`) before the
   * writer is answered, and every subscription re-run.
   */
  private async committed(): Promise<void> {
    nextTs();
    this.dataGeneration += 1;
    if (this.stateFile !== null) this.stateFile.write(await this.runner.dumpTables(), this.deployment.savedPush);
    for (const session of this.sessions) session.refresh();
  }

  async stop(): Promise<void> {
    clearInterval(this.pinger);
    this.deployment.stop();
    for (const client of this.sockets.clients) client.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const status = this.faults.httpErrorStatus;
    if (!SYNC_PATH.test(path) || status !== null) {
      const code = status ?? 404;
      socket.end(`HTTP/1.1 ${code} Local Backend\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.sockets.handleUpgrade(req, socket, head, (ws) => {
      this.connectionCount += 1;
      this.sessions.add(new SyncSession(ws, this));
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path.startsWith("/_test/")) return this.control(req, res, path);
    if (this.faults.httpErrorStatus !== null) {
      return sendJson(res, this.faults.httpErrorStatus, { code: "InjectedFault", message: "HTTP error mode is on" });
    }
    await sleep(this.faults.latencyMs);
    if (req.method === "GET" && path === "/version") return sendText(res, 200, VERSION);
    if (req.method === "GET" && path === "/instance_name") return sendText(res, 200, "local-backend");
    const isGet = req.method === "GET" && (path === CANONICAL_URLS || path === FUNCTION_LOGS);
    if (req.method !== "POST" && !isGet) {
      return sendJson(res, 404, { code: "NotFound", message: `No route for ${req.method} ${path}` });
    }

    const auth = this.authorize(req.headers.authorization);
    if (auth === "invalid") {
      return sendJson(res, 401, { code: "BadAdminKey", message: "The provided admin key was invalid for this instance" });
    }
    const isAdmin = auth === "admin";
    if (isGet) {
      // `npx convex dev` asks where clients should connect; there is no separate site
      // origin (no HTTP actions), so both are this server.
      if (!isAdmin) return sendJson(res, 401, { code: "BadAdminKey", message: "Needs the admin key" });
      if (path === CANONICAL_URLS) return sendJson(res, 200, { convexCloudUrl: this.url, convexSiteUrl: this.url });
      // `npx convex dev` tails function logs. Function output goes to this process's
      // stderr instead, so the long poll always ends empty (after a while, not in a busy loop).
      const cursor = Number(new URL(req.url ?? "/", "http://localhost").searchParams.get("cursor") ?? 0) || 0;
      await longPoll(LOG_POLL_MS, res);
      return sendJson(res, 200, { entries: [], newCursor: cursor });
    }
    if (path === "/api/check_admin_key") {
      return isAdmin ? sendJson(res, 200, {}) : sendJson(res, 401, { code: "BadAdminKey", message: "Not an admin key" });
    }
    if (DEPLOY_ROUTES.has(path)) return this.deploy(req, res, path, isAdmin);
    const expected = API_ROUTES[path] ?? (path.startsWith("/api/run/") ? "any" : undefined);
    if (expected === undefined) return sendJson(res, 404, { code: "NotFound", message: `No route for POST ${path}` });

    let body: { path?: unknown; args?: unknown; format?: unknown };
    try {
      body = JSON.parse((await readBody(req)).toString("utf8") || "{}") as typeof body;
    } catch {
      return sendJson(res, 400, { code: "BadJsonBody", message: "The request body is not JSON" });
    }
    const udfPath = path.startsWith("/api/run/") ? runPath(path) : body.path;
    if (typeof udfPath !== "string") return sendJson(res, 400, { code: "BadRequest", message: "Missing 'path'" });
    // Convex defaults `/api/run` to clean JSON; elsewhere it picks by client version, and
    // every Convex client sends `convex_encoded_json` explicitly.
    const format = body.format ?? (path.startsWith("/api/run/") ? "json" : "convex_encoded_json");
    if (format !== "json" && format !== "convex_encoded_json") {
      return sendJson(res, 400, { code: "BadRequest", message: `Unsupported format '${String(format)}'` });
    }
    let args: Value;
    try {
      const rawArgs = (Array.isArray(body.args) ? body.args[0] : body.args) ?? {};
      args = jsonToConvex(rawArgs as JSONValue);
    } catch (error) {
      return sendJson(res, 400, { code: "BadConvexValue", message: String(error) });
    }
    const outcome = await this.call(udfPath, args as Record<string, Value>, expected, isAdmin);
    const encode = format === "json" ? cleanJson : convexJson;
    const text = outcome.ok
      ? serialize({ status: "success", value: encode(outcome.value), logLines: [] })
      : serialize({
          status: "error",
          errorMessage: outcome.message,
          errorData: outcome.errorData === undefined ? undefined : encode(outcome.errorData),
          logLines: [],
        });
    return sendText(res, 200, text, "application/json");
  }

  /** The Convex CLI's push endpoints (deployApi.ts): admin only; bodies may be brotli-compressed. */
  private async deploy(req: IncomingMessage, res: ServerResponse, path: string, isAdmin: boolean): Promise<void> {
    if (!isAdmin) return sendJson(res, 401, { code: "BadAdminKey", message: "Pushing code needs the admin key" });
    let body: Record<string, unknown>;
    try {
      let raw = await readBody(req);
      if (req.headers["content-encoding"] === "br") raw = brotliDecompressSync(raw);
      body = JSON.parse(raw.toString("utf8") || "{}") as Record<string, unknown>;
    } catch {
      return sendJson(res, 400, { code: "BadJsonBody", message: "The request body is not JSON" });
    }
    const [status, reply] = await this.deployment.handle(path, body);
    return sendJson(res, status, reply);
  }

  /** `Convex <key>` (optionally `<key>:<acting-as identity>`) is admin; no header is anonymous. */
  private authorize(header: string | undefined): "admin" | "anonymous" | "invalid" {
    if (header === undefined || header === "") return "anonymous";
    const match = /^Convex (.+)$/.exec(header);
    if (match === null) return "invalid";
    const key = match[1];
    if (this.isAdminKey(key)) return "admin";
    const colon = key.lastIndexOf(":");
    return colon > 0 && this.isAdminKey(key.slice(0, colon)) ? "admin" : "invalid";
  }

  private async control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const remote = req.socket.remoteAddress ?? "";
    if (!["127.0.0.1", "::1", "::ffff:127.0.0.1"].includes(remote)) {
      return sendJson(res, 403, { code: "Forbidden", message: "control endpoint is loopback-only" });
    }
    if (path === "/_test/faults" && req.method === "GET") return sendJson(res, 200, this.faults);
    if (path === "/_test/faults" && req.method === "POST") {
      try {
        const patch: unknown = JSON.parse((await readBody(req)).toString("utf8") || "{}");
        this.setFaults(applyFaultPatch(this.faults, patch));
      } catch (error) {
        return sendJson(res, 400, { code: "BadFaults", message: error instanceof Error ? error.message : String(error) });
      }
      return sendJson(res, 200, this.faults);
    }
    if (path === "/_test/reset" && req.method === "POST") {
      await readBody(req);
      this.setFaults(noFaults());
      await this.runner.reset();
      await this.committed();
      return sendJson(res, 200, {});
    }
    if (path === "/_test/stats" && req.method === "GET") {
      // `?gc=1`: a full collection first, so heapUsed counts only what is still referenced.
      if (new URL(req.url ?? "/", "http://localhost").searchParams.get("gc") === "1") collectGarbage();
      const memory = process.memoryUsage();
      return sendJson(res, 200, {
        mutations: this.mutationCount,
        connections: this.connectionCount,
        openSockets: this.sessions.size,
        rss: memory.rss,
        heapUsed: memory.heapUsed,
      });
    }
    return sendJson(res, 404, { code: "NotFound", message: `No control route ${req.method} ${path}` });
  }
}

let gc: (() => void) | undefined;

/** A full V8 garbage collection (exposed on first use; the process need not start with --expose-gc). */
function collectGarbage(): void {
  if (gc === undefined) {
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
  }
  gc();
}

const API_ROUTES: Record<string, UdfType | "any"> = {
  "/api/query": "query",
  "/api/query_at_ts": "query",
  "/api/mutation": "mutation",
  "/api/action": "action",
  "/api/function": "any",
};

/** `/api/run/mutations/activation/setActive` → `mutations/activation:setActive`. */
function runPath(path: string): string {
  const parts = path.slice("/api/run/".length).split("/").filter(Boolean).map(decodeURIComponent);
  const exportName = parts.pop() ?? "default";
  return `${parts.join("/")}:${exportName}`;
}

/** Waits `ms`, or less if the client hangs up; never keeps the process alive. */
function longPoll(ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
    res.once("close", resolve);
  });
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error("request body too large"));
        req.destroy();
      } else {
        chunks.push(chunk);
      }
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body), "application/json");
}

function sendText(res: ServerResponse, status: number, text: string, contentType = "text/plain"): void {
  res.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}
