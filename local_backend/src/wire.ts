/** Wire encodings shared by the sync protocol and the HTTP API. */
import { convexToJson, type JSONValue, type Value } from "convex/values";

/** A piece of JSON text inserted verbatim when a message is serialized. */
export class RawJson {
  constructor(readonly text: string) {}
}

type Serializable =
  | RawJson
  | JSONValue
  | undefined
  | Serializable[]
  | { [key: string]: Serializable };

/**
 * Serializes a Convex value as Convex JSON text. Whole floats are written as `1.0`
 * because the Python SDK's legacy decoder reads a bare JSON integer as an error.
 */
export function convexJson(value: Value): RawJson {
  return new RawJson(floatText(convexToJson(value)));
}

/**
 * A Convex value in the HTTP API's `format: "json"` (Convex's "clean" export): int64 as a
 * decimal string, bytes as a base64 string, NaN/±Infinity as strings, the rest as is.
 */
export function cleanJson(value: Value): RawJson {
  return new RawJson(floatText(clean(value)));
}

function clean(value: Value): JSONValue {
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (value instanceof ArrayBuffer) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(clean);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clean(v as Value)]));
  }
  return value;
}

function floatText(json: JSONValue): string {
  if (typeof json === "number") {
    const text = JSON.stringify(json);
    return /^-?\d+$/.test(text) ? `${text}.0` : text;
  }
  if (Array.isArray(json)) return `[${json.map(floatText).join(",")}]`;
  if (json !== null && typeof json === "object") {
    const fields = Object.entries(json).map(([k, v]) => `${JSON.stringify(k)}:${floatText(v)}`);
    return `{${fields.join(",")}}`;
  }
  return JSON.stringify(json);
}

/** JSON.stringify that splices RawJson parts in as they are. */
export function serialize(message: Serializable): string {
  if (message instanceof RawJson) return message.text;
  if (Array.isArray(message)) return `[${message.map((m) => serialize(m ?? null)).join(",")}]`;
  if (message !== null && typeof message === "object") {
    const fields = Object.entries(message)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${serialize(v)}`);
    return `{${fields.join(",")}}`;
  }
  return JSON.stringify(message);
}

/** A u64 nanosecond timestamp as the protocol writes it: padded base64 of 8 little-endian bytes. */
export function encodeTs(ts: bigint): string {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(ts);
  return bytes.toString("base64");
}

/** The inverse of `encodeTs`; null if `text` is not 8 bytes of base64. */
export function decodeTs(text: string): bigint | null {
  const bytes = Buffer.from(text, "base64");
  return bytes.length === 8 && bytes.toString("base64") === text ? bytes.readBigUInt64LE() : null;
}

let lastTs = 0n;

/** A fresh commit timestamp: wall-clock nanoseconds, strictly increasing. */
export function nextTs(): bigint {
  const now = BigInt(Date.now()) * 1_000_000n;
  lastTs = now > lastTs ? now : lastTs + 1n;
  return lastTs;
}

/** The latest timestamp handed out (0 before the first). */
export function currentTs(): bigint {
  return lastTs;
}
