/**
 * Input rules, checked before any network call. Each failure is a ValidationError (or
 * PayloadTooLargeError) whose message names the argument and the rule.
 *
 * - Client id: an API Gateway connection id, `^[A-Za-z0-9_-]{15}=$`.
 * - Uid and group: a string of 1..256 UTF-16 code units, well-formed (no lone surrogates), without
 *   control characters (U+0000-U+001F, U+007F-U+009F). No coercion: pass `String(123)` for a number.
 *   256 characters stay under DynamoDB's 1024-byte sort-key limit even at 4 bytes a character.
 * - Session: a plain object (prototype Object.prototype or null) of JSON values: null, booleans,
 *   strings, arrays, plain objects, and numbers that are finite, within +-Number.MAX_SAFE_INTEGER
 *   (larger ones come back from DynamoDB as BigInt) and either 0 or at least 1e-130 in magnitude
 *   (DynamoDB's number range). Object keys are non-empty and not `__proto__`. Nesting depth at most
 *   30 (DynamoDB allows 32 levels in an item). Properties whose value is `undefined` are dropped, as
 *   JSON.stringify drops them; `undefined` anywhere else, functions, symbols, BigInt, class
 *   instances (Date, Map, ...) and cycles are refused. At most 100 KiB as JSON, leaving room in
 *   DynamoDB's 400 KB item for the groups and the other attributes.
 * - Message: a string (sent as UTF-8), bytes (Uint8Array/Buffer, ArrayBuffer or any ArrayBufferView,
 *   sent as is), or any other value JSON.stringify accepts (serialised once per call); `undefined`,
 *   functions, symbols and values JSON.stringify rejects are refused; over 131072 bytes after
 *   serialisation is a PayloadTooLargeError.
 */
import { PayloadTooLargeError, ValidationError } from './errors.ts';

export type Session = Record<string, unknown>;

/** API Gateway's PostToConnection limit (Smithy model: 131072 bytes). */
export const MAX_MESSAGE_BYTES = 131072;
export const MAX_NAME_LENGTH = 256;
export const MAX_SESSION_BYTES = 100 * 1024;
export const MAX_SESSION_DEPTH = 30;
/** DynamoDB numbers: magnitudes from 1e-130 up to below 1e126; JS numbers further limited to safe integers. */
const MIN_NUMBER_MAGNITUDE = 1e-130;

const CLIENT_ID = /^[A-Za-z0-9_-]{15}=$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return Object.getPrototypeOf(value)?.constructor?.name ? `a ${Object.getPrototypeOf(value).constructor.name}` : 'an object';
  return String(value);
}

export function isClientId(value: unknown): value is string {
  return typeof value === 'string' && CLIENT_ID.test(value);
}

export function checkClientId(value: unknown, what = 'clientId'): string {
  if (!isClientId(value)) throw new ValidationError(`${what} must be an API Gateway connection id (15 characters of [A-Za-z0-9_-] then "="), got ${describe(value)}`);
  return value;
}

function checkName(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new ValidationError(`${what} must be a string, got ${describe(value)}`);
  if (value.length === 0) throw new ValidationError(`${what} must not be empty`);
  if (value.length > MAX_NAME_LENGTH) throw new ValidationError(`${what} must be at most ${MAX_NAME_LENGTH} characters, got ${value.length}`);
  if (CONTROL.test(value)) throw new ValidationError(`${what} must not contain control characters, got ${describe(value)}`);
  if (LONE_SURROGATE.test(value)) throw new ValidationError(`${what} must be well-formed Unicode (no lone surrogates)`);
  return value;
}

export function checkUid(value: unknown, what = 'uid'): string {
  return checkName(value, what);
}

export function checkGroup(value: unknown, what = 'group'): string {
  return checkName(value, what);
}

/** One name or a non-empty array of names; duplicates removed, order kept. */
export function checkNames(value: unknown, check: (v: unknown, what: string) => string, what: string): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) throw new ValidationError(`${what} must not be an empty array`);
    return [...new Set(value.map((v, i) => check(v, `${what}[${i}]`)))];
  }
  return [check(value, what)];
}

/** Client ids to leave out: undefined, one id or an array of ids. */
export function checkExclude(value: unknown, what = 'exclude'): Set<string> {
  if (value === undefined) return new Set();
  if (Array.isArray(value)) return new Set(value.map((v, i) => checkClientId(v, `${what}[${i}]`)));
  return new Set([checkClientId(value, what)]);
}

export function checkClientIds(value: unknown, what: string): string[] {
  if (!Array.isArray(value)) throw new ValidationError(`${what} must be an array of client ids, got ${describe(value)}`);
  return [...new Set(value.map((v, i) => checkClientId(v, `${what}[${i}]`)))];
}

export function checkOptionsObject(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError(`${what} must be an object, got ${describe(value)}`);
  return value as Record<string, unknown>;
}

/** The bytes to post for a message. */
export function serializeMessage(message: unknown): Buffer {
  let bytes: Buffer;
  if (typeof message === 'string') bytes = Buffer.from(message, 'utf8');
  else if (message instanceof Uint8Array) bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  else if (ArrayBuffer.isView(message)) bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  else if (message instanceof ArrayBuffer) bytes = Buffer.from(message);
  else {
    if (message === undefined) throw new ValidationError('message must not be undefined');
    let json: string | undefined;
    try {
      json = JSON.stringify(message);
    } catch (error) {
      throw new ValidationError(`message cannot be serialised as JSON: ${(error as Error).message}`, { cause: error });
    }
    if (json === undefined) throw new ValidationError(`message cannot be serialised as JSON (got ${describe(message)})`);
    bytes = Buffer.from(json, 'utf8');
  }
  if (bytes.length > MAX_MESSAGE_BYTES) throw new PayloadTooLargeError(bytes.length, MAX_MESSAGE_BYTES);
  return bytes;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Checks a session (or an updateSession patch) and returns a clean copy: plain objects with
 * Object.prototype, `undefined` properties dropped. Throws ValidationError on anything else.
 */
export function checkSession(value: unknown, what = 'session'): Session {
  if (!isPlainObject(value)) throw new ValidationError(`${what} must be a plain object, got ${describe(value)}`);
  const seen = new Set<object>();
  const copy = (node: unknown, path: string, depth: number): unknown => {
    switch (typeof node) {
      case 'string':
      case 'boolean':
        return node;
      case 'number':
        if (!Number.isFinite(node)) throw new ValidationError(`${path} must be a finite number, got ${node}`);
        if (Math.abs(node) > Number.MAX_SAFE_INTEGER) throw new ValidationError(`${path} is beyond Number.MAX_SAFE_INTEGER (${node}); store it as a string`);
        if (node !== 0 && Math.abs(node) < MIN_NUMBER_MAGNITUDE) throw new ValidationError(`${path} is too small for DynamoDB (${node})`);
        return node;
      case 'object': {
        if (node === null) return null;
        if (depth > MAX_SESSION_DEPTH) throw new ValidationError(`${what} nests deeper than ${MAX_SESSION_DEPTH} levels at ${path}`);
        if (seen.has(node)) throw new ValidationError(`${what} contains a cycle at ${path}`);
        seen.add(node);
        try {
          if (Array.isArray(node)) {
            const out: unknown[] = [];
            for (let i = 0; i < node.length; i++) {
              if (node[i] === undefined) throw new ValidationError(`${path}[${i}] is undefined (not JSON)`);
              out.push(copy(node[i], `${path}[${i}]`, depth + 1));
            }
            return out;
          }
          if (!isPlainObject(node)) throw new ValidationError(`${path} must be a plain JSON value, got ${describe(node)}`);
          const out: Record<string, unknown> = {};
          for (const key of Object.keys(node)) {
            const child = node[key];
            if (child === undefined) continue;
            if (key === '') throw new ValidationError(`${path} has an empty key (DynamoDB attribute names cannot be empty)`);
            if (key === '__proto__') throw new ValidationError(`${path} has a "__proto__" key`);
            out[key] = copy(child, `${path}.${key}`, depth + 1);
          }
          if (Object.getOwnPropertySymbols(node).length > 0) throw new ValidationError(`${path} has symbol keys (not JSON)`);
          return out;
        } finally {
          seen.delete(node);
        }
      }
      default:
        throw new ValidationError(`${path} must be a JSON value, got ${describe(node)}`);
    }
  };
  const result = copy(value, what, 1) as Session;
  checkSessionSize(result, what);
  return result;
}

export function checkSessionSize(session: Session, what = 'session'): void {
  const size = Buffer.byteLength(JSON.stringify(session), 'utf8');
  if (size > MAX_SESSION_BYTES) throw new ValidationError(`${what} is ${size} bytes as JSON; the limit is ${MAX_SESSION_BYTES}`);
}

/**
 * Deep merge like PHP's array_replace_recursive, for JSON objects: where both sides hold a plain
 * object the two merge key by key; anything else (arrays, scalars, null) in the patch replaces.
 * Neither input is modified.
 */
export function mergeSession(base: Session, patch: Session): Session {
  const out: Session = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeSession(current, value) : value;
  }
  return out;
}

/** Well-formed check for the connectedAt of registerConnection. */
export function checkEpochMs(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || !Number.isInteger(value)) {
    throw new ValidationError(`${what} must be a positive integer of epoch milliseconds, got ${describe(value)}`);
  }
  return value;
}

export function checkOptionalString(value: unknown, what: string, max = 4096): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ValidationError(`${what} must be a string, got ${describe(value)}`);
  if (value.length > max) throw new ValidationError(`${what} must be at most ${max} characters`);
  return value;
}
