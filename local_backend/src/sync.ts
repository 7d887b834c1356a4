/** One WebSocket client speaking Convex's sync protocol. */
import { jsonToConvex, type JSONValue, type Value } from "convex/values";
import type { WebSocket } from "ws";
import { type FaultSettings, sleep } from "./faults.js";
import type { Outcome, UdfType } from "./types.js";
import { convexJson, currentTs, decodeTs, encodeTs, RawJson, serialize } from "./wire.js";

interface StateVersion {
  querySet: number;
  identity: number;
  ts: bigint;
}

interface Subscription {
  udfPath: string;
  args: Record<string, Value>;
  /** Serialized last result sent, so unchanged queries are not resent. */
  lastSent: string | null;
}

type ClientMessage = { type: string; [key: string]: unknown };

/** What a session needs of the server that accepted it (the backend implements this). */
export interface SessionHost {
  readonly faults: FaultSettings;
  /** Bumped on every committed write: subscriptions evaluated at an older one are rerun. */
  readonly dataGeneration: number;
  countMessageTowardsDrop(): boolean;
  isAdminKey(key: string): boolean;
  call(udfPath: string, args: Record<string, Value>, expected: UdfType | "any", isAdmin: boolean): Promise<Outcome>;
  sessionClosed(session: SyncSession): void;
}

export class SyncSession {
  private version: StateVersion = { querySet: 0, identity: 0, ts: 0n };
  private readonly subscriptions = new Map<number, Subscription>();
  private isAdmin = false;
  private dropping = false;
  private closed = false;
  private work: Promise<void> = Promise.resolve();
  /** The data generation the subscriptions were last evaluated at. */
  private evaluatedAt = -1;
  lastSentAt = Date.now();

  constructor(
    private readonly socket: WebSocket,
    private readonly backend: SessionHost,
  ) {
    socket.on("message", (data) => this.receive(data.toString()));
    socket.on("close", () => {
      this.closed = true;
      backend.sessionClosed(this);
    });
    socket.on("error", () => socket.terminate());
  }

  private receive(text: string): void {
    // The message that reaches the limit is still processed (a mutation commits), but
    // the socket dies before anything is answered: the client must retry it.
    const dropThisOne = this.backend.countMessageTowardsDrop();
    // Added latency is a delay in transit: each message is handled `latencyMs` after it
    // arrived, so a burst of messages costs one delay, not one per message.
    const handleAt = Date.now() + this.backend.faults.latencyMs;
    this.enqueue(async () => {
      // After a FatalError or AuthError nothing more runs for this socket (it is closing).
      if (this.closed) return;
      if (dropThisOne) this.dropping = true;
      let message: ClientMessage;
      try {
        message = JSON.parse(text) as ClientMessage;
      } catch {
        return this.fatal("Invalid JSON message");
      }
      const delay = handleAt - Date.now();
      if (delay > 0 && message.type !== "Connect" && message.type !== "Event") await sleep(delay);
      await this.handle(message);
      if (this.dropping) this.socket.terminate();
    });
  }

  private enqueue(task: () => Promise<void>): void {
    this.work = this.work.then(task).catch((error: unknown) => {
      this.fatal(error instanceof Error ? error.message : String(error));
    });
  }

  private async handle(message: ClientMessage): Promise<void> {
    switch (message.type) {
      case "Connect":
        return this.connect(message);
      case "Event":
        return;
      case "Authenticate":
        return this.authenticate(message);
      case "ModifyQuerySet":
        return this.modifyQuerySet(message);
      case "Mutation":
      case "Action":
        return this.runRequest(message, message.type === "Mutation" ? "mutation" : "action");
      default:
        return this.fatal(`Unknown message type ${String(message.type)}`);
    }
  }

  /**
   * A reconnecting client reports the newest ts it saw. Like Convex, refuse to serve it
   * from an older state (it would see time go backwards): FatalError, and it reconnects.
   */
  private connect(message: ClientMessage): void {
    if (typeof message.maxObservedTimestamp !== "string") return;
    const observed = decodeTs(message.maxObservedTimestamp);
    if (observed === null) return this.fatal("Connect maxObservedTimestamp is not an encoded u64");
    if (observed > currentTs()) {
      return this.fatal(
        `Client has observed a timestamp ${observed} ahead of the backend latest known timestamp ${currentTs()}`,
      );
    }
  }

  private async authenticate(message: ClientMessage): Promise<void> {
    const baseVersion = Number(message.baseVersion);
    if (baseVersion !== this.version.identity) {
      return this.fatal(`Authenticate baseVersion ${baseVersion} != ${this.version.identity}`);
    }
    if (message.tokenType === "Admin") {
      if (!this.backend.isAdminKey(String(message.value))) {
        return this.authError(baseVersion, "The provided admin key was invalid for this instance");
      }
      this.isAdmin = true;
    } else if (message.tokenType === "None") {
      this.isAdmin = false;
    } else {
      return this.authError(baseVersion, "The local backend accepts only admin keys, not user tokens");
    }
    await this.transition({ identity: baseVersion + 1 }, [], true);
  }

  private authError(baseVersion: number, error: string): void {
    this.send({ type: "AuthError", error, baseVersion, authUpdateAttempted: true });
    this.closed = true;
    this.socket.close(1008, "AuthError");
  }

  private async modifyQuerySet(message: ClientMessage): Promise<void> {
    const baseVersion = Number(message.baseVersion);
    if (baseVersion !== this.version.querySet) {
      return this.fatal(`ModifyQuerySet baseVersion ${baseVersion} != ${this.version.querySet}`);
    }
    const removed: JSONValue[] = [];
    for (const change of message.modifications as ClientMessage[]) {
      const queryId = Number(change.queryId);
      if (change.type === "Add") {
        const [args = {}] = jsonToConvex(change.args as JSONValue) as Value[];
        this.subscriptions.set(queryId, {
          udfPath: String(change.udfPath),
          args: args as Record<string, Value>,
          lastSent: null,
        });
      } else if (change.type === "Remove") {
        this.subscriptions.delete(queryId);
        removed.push({ type: "QueryRemoved", queryId });
      }
    }
    await this.transition({ querySet: Number(message.newVersion) }, removed, true);
  }

  private async runRequest(message: ClientMessage, expected: UdfType): Promise<void> {
    const requestId = Number(message.requestId);
    const udfPath = String(message.udfPath);
    const [args = {}] = jsonToConvex(message.args as JSONValue) as Value[];
    const outcome = await this.backend.call(udfPath, args as Record<string, Value>, expected, this.isAdmin);
    const responseType = expected === "mutation" ? "MutationResponse" : "ActionResponse";
    if (outcome.ok) {
      this.send({
        type: responseType,
        requestId,
        success: true,
        result: convexJson(outcome.value),
        ts: expected === "mutation" ? encodeTs(currentTs()) : undefined,
        logLines: [],
      });
    } else {
      this.send({
        type: responseType,
        requestId,
        success: false,
        result: outcome.message,
        ts: expected === "mutation" ? null : undefined,
        logLines: [],
        errorData: outcome.errorData === undefined ? undefined : convexJson(outcome.errorData),
      });
    }
    // The client releases a mutation's result only at the next Transition.
    await this.transition({}, [], true);
  }

  /** Re-evaluates subscriptions after someone else's commit; sends only if a result changed. */
  refresh(): void {
    if (this.closed || this.subscriptions.size === 0) return;
    this.enqueue(() => this.transition({}, [], false));
  }

  private async transition(
    change: Partial<Pick<StateVersion, "querySet" | "identity">>,
    extra: JSONValue[],
    always: boolean,
  ): Promise<void> {
    const identityChanged = change.identity !== undefined;
    const stale = identityChanged || this.evaluatedAt !== this.backend.dataGeneration;
    this.evaluatedAt = this.backend.dataGeneration;
    const modifications: (JSONValue | RawJson | Record<string, unknown>)[] = [...extra];
    for (const [queryId, subscription] of this.subscriptions) {
      if (!stale && subscription.lastSent !== null) continue;
      const outcome = await this.backend.call(subscription.udfPath, subscription.args, "query", this.isAdmin);
      const update = outcome.ok
        ? { type: "QueryUpdated", queryId, value: convexJson(outcome.value), logLines: [], journal: null }
        : {
            type: "QueryFailed",
            queryId,
            errorMessage: outcome.message,
            logLines: [],
            journal: null,
            errorData: outcome.errorData === undefined ? undefined : convexJson(outcome.errorData),
          };
      const text = serialize(update);
      if (text !== subscription.lastSent) {
        subscription.lastSent = text;
        modifications.push(new RawJson(text));
      }
    }
    if (!always && modifications.length === 0) return;
    const endVersion: StateVersion = {
      querySet: change.querySet ?? this.version.querySet,
      identity: change.identity ?? this.version.identity,
      ts: currentTs() > this.version.ts ? currentTs() : this.version.ts,
    };
    this.send({
      type: "Transition",
      startVersion: wireVersion(this.version),
      endVersion: wireVersion(endVersion),
      modifications: modifications as JSONValue[],
    });
    this.version = endVersion;
  }

  ping(): void {
    this.send({ type: "Ping" });
  }

  private fatal(error: string): void {
    this.send({ type: "FatalError", error });
    this.closed = true;
    this.socket.close(1011, "FatalError");
  }

  private send(message: Parameters<typeof serialize>[0]): void {
    if (this.closed || this.dropping) return;
    this.lastSentAt = Date.now();
    this.socket.send(serialize(message));
  }
}

function wireVersion(version: StateVersion): JSONValue {
  return { querySet: version.querySet, identity: version.identity, ts: encodeTs(version.ts) };
}
