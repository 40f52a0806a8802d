/**
 * Input rules, checked before any network call. Each failure is a ValidationError (or
 * PayloadTooLargeError) whose message names the argument and the rule.
 *
 * - Client id: an API Gateway connection id, `^[A-Za-z0-9_-]{15}=$`.
 * - Uid and group: a string of 1..256 UTF-16 code units, well-formed (no lone surrogates), without
 *   control characters (U+0000-U+001F, U+007F-U+009F). No coercion: pass `String(123)` for a number.
 *   256 characters stay under DynamoDB's 1024-byte sort-key limit even at 4 bytes a character.
 * - Lists of ids or names (`uid: string[]`, `exclude`, `clientIds`, the arrays of isUidsOnline,
 *   batchGetClientIdByUid and batchGetClientIdCountByGroup): real arrays without holes (a sparse
 *   array's hole is an `undefined` element, refused like one).
 * - Session: a plain object (prototype Object.prototype or null) of JSON values: null, booleans,
 *   strings and keys that are well-formed Unicode (no lone surrogates: DynamoDB stores UTF-8, which
 *   cannot encode them), arrays, plain objects, and numbers that are finite, within +-Number.MAX_SAFE_INTEGER
 *   (larger ones come back from DynamoDB as BigInt) and either 0 or at least 1e-130 in magnitude
 *   (DynamoDB's number range). Object keys are non-empty and neither `__proto__` nor `constructor` (the
 *   AWS SDK's marshaller reads `constructor` to pick an object's DynamoDB type). Nesting depth at most
 *   30 (DynamoDB allows 32 levels in an item). Properties whose value is `undefined` are dropped, as
 *   JSON.stringify drops them; `undefined` anywhere else, functions, symbols, BigInt, class
 *   instances (Date, Map, ...) and cycles are refused. At most 100 KiB as JSON, leaving room in
 *   DynamoDB's 400 KB item for the groups and the other attributes.
 * - Message: a string (sent as UTF-8; a lone surrogate becomes U+FFFD, as in any UTF-8 encoder), bytes
 *   (Uint8Array/Buffer, ArrayBuffer, SharedArrayBuffer or any ArrayBufferView, sent as is), or any
 *   other value JSON.stringify accepts (serialised once per call); `undefined`, functions, symbols and
 *   values JSON.stringify rejects are refused; over 131072 bytes after serialisation is a
 *   PayloadTooLargeError.
 * - connectedAt (registerConnection): a whole number of epoch milliseconds from 1 to 8.64e15 (the
 *   range of a JavaScript Date; also a safe integer, which DynamoDB's document client requires).
 * - Values that cannot be read (a getter or a Proxy trap that throws, a revoked Proxy) are refused
 *   with a ValidationError whose `cause` is what was thrown; nothing else escapes as a raw error.
 */
import { GatewayError, PayloadTooLargeError, ValidationError } from './errors.ts';

export type Session = Record<string, unknown>;

/** API Gateway's PostToConnection limit (Smithy model: 131072 bytes). */
export const MAX_MESSAGE_BYTES = 131072;
export const MAX_NAME_LENGTH = 256;
export const MAX_SESSION_BYTES = 100 * 1024;
export const MAX_SESSION_DEPTH = 30;
/**
 * The most groups one connection may be in: `joinGroup` past it rejects with LimitExceededError
 * (a condition on the connection item's groupCount; the index and membership items written first
 * are removed again). Each membership is an item of its own now, so no item grows with the groups;
 * the cap is kept from the first release, where the groups shared one item with the session and
 * DynamoDB's 400 KB item limit set it: GatewayClient's users rarely come near it, and it bounds
 * what $disconnect and a 410 prune must delete (up to 400 index and membership items, 16 batches).
 */
export const MAX_GROUPS_PER_CONNECTION = 200;
/** DynamoDB numbers: magnitudes from 1e-130 up to below 1e126; JS numbers further limited to safe integers. */
const MIN_NUMBER_MAGNITUDE = 1e-130;

const CLIENT_ID = /^[A-Za-z0-9_-]{15}=$/;
/**
 * A connection id as AWS supplies it, to `$connect` / `$disconnect` and in the tables a fan-out
 * chunk's recipients come from. Its format is not documented, so this is loose (non-empty, URL-safe,
 * bounded): if AWS ever changes it, connections still register and unregister and broadcasts still
 * reach them, instead of every `$connect` failing. Ids a caller passes in keep the strict check
 * (CLIENT_ID), which catches a uid or a group passed where a client id belongs.
 */
const AWS_CONNECTION_ID = /^[A-Za-z0-9_.~=-]{1,128}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function describe(value: unknown): string {
  try {
    return describeUnsafe(value);
  } catch {
    return 'an unreadable value'; // a revoked Proxy, or a Proxy whose traps throw
  }
}

function describeUnsafe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return Object.getPrototypeOf(value)?.constructor?.name ? `a ${Object.getPrototypeOf(value).constructor.name}` : 'an object';
  return String(value);
}

/**
 * Runs a check over a caller's value; anything but a GatewayError it throws (a throwing getter or
 * Proxy trap reached while reading the value) becomes a ValidationError.
 */
function readSafely<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw new ValidationError(`${what} could not be read: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
}

/** The elements of a real, dense array, each checked; a hole is refused like an `undefined` element. */
function checkEach<T>(value: unknown[], what: string, check: (v: unknown, what: string) => T): T[] {
  const out: T[] = [];
  for (let i = 0; i < value.length; i++) {
    if (!(i in value)) throw new ValidationError(`${what}[${i}] is a hole (a sparse array); pass a dense array`);
    out.push(check(value[i], `${what}[${i}]`));
  }
  return out;
}

export function isClientId(value: unknown): value is string {
  return typeof value === 'string' && CLIENT_ID.test(value);
}

export function checkClientId(value: unknown, what = 'clientId'): string {
  if (!isClientId(value))
    throw new ValidationError(`${what} must be an API Gateway connection id (15 characters of [A-Za-z0-9_-] then "="), got ${describe(value)}`);
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
  return readSafely(what, () => {
    if (Array.isArray(value)) {
      if (value.length === 0) throw new ValidationError(`${what} must not be an empty array`);
      return [...new Set(checkEach(value, what, check))];
    }
    return [check(value, what)];
  });
}

/** Client ids to leave out: undefined, one id or an array of ids. */
export function checkExclude(value: unknown, what = 'exclude'): Set<string> {
  return readSafely(what, () => {
    if (value === undefined) return new Set<string>();
    if (Array.isArray(value)) return new Set(checkEach(value, what, checkClientId));
    return new Set([checkClientId(value, what)]);
  });
}

/** A real, dense array of names, possibly empty (the batch queries); duplicates removed, order kept. */
export function checkNameList(value: unknown, check: (v: unknown, what: string) => string, what: string): string[] {
  return readSafely(what, () => {
    if (!Array.isArray(value)) throw new ValidationError(`${what} must be an array, got ${describe(value)}`);
    return [...new Set(checkEach(value, what, check))];
  });
}

/** A connection id AWS supplied (see AWS_CONNECTION_ID): a ValidationError only for what cannot be one at all. */
export function checkAwsConnectionId(value: unknown, what = 'connectionId'): string {
  if (typeof value !== 'string' || !AWS_CONNECTION_ID.test(value)) {
    throw new ValidationError(`${what} must be a connection id (1-128 URL-safe characters: letters, digits, '_', '-', '.', '~', '='), got ${describe(value)}`);
  }
  return value;
}

export function checkClientIds(value: unknown, what: string, check: (v: unknown, what: string) => string = checkClientId): string[] {
  return readSafely(what, () => {
    if (!Array.isArray(value)) throw new ValidationError(`${what} must be an array of client ids, got ${describe(value)}`);
    return [...new Set(checkEach(value, what, check))];
  });
}

/**
 * An options bag (or record): undefined gives {}; otherwise a non-array object. It is returned
 * behind a read guard: a property whose getter (or Proxy trap) throws when the SDK reads it rejects
 * the call with a ValidationError instead of a raw error. Only the properties the SDK reads are read.
 */
export function checkOptionsObject(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  return readSafely(what, () => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError(`${what} must be an object, got ${describe(value)}`);
    return new Proxy(value as Record<string, unknown>, {
      get: (target, key) => readSafely(`${what}.${String(key)}`, () => Reflect.get(target, key)),
    });
  });
}

/** The bytes to post for a message. */
export function serializeMessage(message: unknown): Buffer {
  const bytes = readSafely('message', (): Buffer => {
    if (typeof message === 'string') return Buffer.from(message, 'utf8');
    if (ArrayBuffer.isView(message)) return Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    if (message instanceof ArrayBuffer || isSharedArrayBuffer(message)) return Buffer.from(message);
    if (message === undefined) throw new ValidationError('message must not be undefined');
    let json: string | undefined;
    try {
      json = JSON.stringify(message);
    } catch (error) {
      throw new ValidationError(`message cannot be serialised as JSON: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
    if (json === undefined) throw new ValidationError(`message cannot be serialised as JSON (got ${describe(message)})`);
    return Buffer.from(json, 'utf8');
  });
  if (bytes.length > MAX_MESSAGE_BYTES) throw new PayloadTooLargeError(bytes.length, MAX_MESSAGE_BYTES);
  return bytes;
}

function isSharedArrayBuffer(value: unknown): value is SharedArrayBuffer {
  return typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer;
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
  return readSafely(what, () => checkSessionUnsafe(value, what));
}

function checkSessionUnsafe(value: unknown, what: string): Session {
  if (!isPlainObject(value)) throw new ValidationError(`${what} must be a plain object, got ${describe(value)}`);
  const seen = new Set<object>();
  const copy = (node: unknown, path: string, depth: number): unknown => {
    switch (typeof node) {
      case 'string':
        if (LONE_SURROGATE.test(node)) throw new ValidationError(`${path} must be well-formed Unicode (no lone surrogates)`);
        return node;
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
            // The AWS SDK's marshaller (@aws-sdk/util-dynamodb) picks an object's DynamoDB type from
            // `value.constructor.name`: an own "constructor" key makes it refuse the object, or store it
            // as the string "[object Object]" ({ constructor: { name: 'String' } }).
            if (key === 'constructor') throw new ValidationError(`${path} has a "constructor" key, which the AWS SDK cannot store as a map key`);
            if (LONE_SURROGATE.test(key)) throw new ValidationError(`${path} has a key that is not well-formed Unicode (a lone surrogate)`);
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

/** The largest time value a JavaScript Date holds (ECMA-262 TimeClip): 100,000,000 days after 1970. */
const MAX_EPOCH_MS = 8.64e15;

/** Well-formed check for the connectedAt of registerConnection. */
export function checkEpochMs(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > MAX_EPOCH_MS) {
    throw new ValidationError(`${what} must be a whole number of epoch milliseconds from 1 to ${MAX_EPOCH_MS}, got ${describe(value)}`);
  }
  return value;
}

/**
 * At most `max` UTF-16 code units of `value`, cut on a code-point boundary: a surrogate pair is kept
 * whole or dropped whole, never split into a lone high surrogate.
 */
export function truncateCodePoints(value: string, max: number): string {
  if (value.length <= max) return value;
  const last = value.charCodeAt(max - 1);
  const next = value.charCodeAt(max);
  const splitsPair = last >= 0xd800 && last <= 0xdbff && next >= 0xdc00 && next <= 0xdfff;
  return value.slice(0, splitsPair ? max - 1 : max);
}

export function checkOptionalString(value: unknown, what: string, max = 4096): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ValidationError(`${what} must be a string, got ${describe(value)}`);
  if (value.length > max) throw new ValidationError(`${what} must be at most ${max} characters`);
  return value;
}
