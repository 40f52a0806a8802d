// Property-based tests over every public entry point of the SDK (every Gateway method, the
// constructor and fromEnv) with arbitrary ids, uids, group names, sessions, messages and option bags.
//
// The oracle is the rule list in sdk/validation.ts, re-implemented here independently. For each call:
// - it never throws synchronously and never rejects with anything but a GatewayError subclass whose
//   `code` is one of GatewayErrorCode's;
// - input the rules call invalid rejects with ValidationError (PayloadTooLargeError for a message
//   over 131072 bytes), makes no network call at all (no HTTP request from this process, no
//   DynamoDB command, no consumed capacity, no post at the gateway) and leaves the five tables
//   byte-identical (raw Scan before and after);
// - input the rules call valid succeeds, or (mutations of a client that has no connection item)
//   rejects with ConnectionGoneError.
// Run counts are in NUM_RUNS; fast-check prints the seed of any failure (FC_SEED reruns it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { countHttpRequests, GatewayHarness, LOCAL_CREDENTIALS, TEST_TABLES, type TestClient } from '../../testkit/gatewayHarness.ts';
import {
  ConfigurationError,
  ConnectionGoneError,
  Gateway,
  GatewayError,
  GatewayErrorCode,
  MAX_MESSAGE_BYTES,
  MAX_NAME_LENGTH,
  MAX_PRESENCE_INFO_BYTES,
  MAX_SESSION_BYTES,
  MAX_SESSION_DEPTH,
  PayloadTooLargeError,
  ValidationError,
} from '../../sdk/index.ts';

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const NUM_RUNS = {
  /** One random call of a random Gateway method per run. */
  everyMethod: 1200,
  ids: 150,
  names: 200,
  sessions: 300,
  messages: 200,
  sizes: 60,
  constructor: 400,
} as const;
const params = (numRuns: number) => ({ numRuns, ...(seed === undefined ? {} : { seed }) });

const CODES = new Set<string>(Object.values(GatewayErrorCode));

// ---------------------------------------------------------------------------------------------
// The oracle: the documented rules, written again without looking at how validation.ts checks them.
// ---------------------------------------------------------------------------------------------

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
const CONTROL_RANGES: Array<[number, number]> = [
  [0x00, 0x1f],
  [0x7f, 0x9f],
];

/** A value whose reading throws (revoked Proxy, throwing trap) makes the whole input invalid. */
function readable<T>(read: () => T): T | typeof UNREADABLE {
  try {
    return read();
  } catch {
    return UNREADABLE;
  }
}
const UNREADABLE = Symbol('unreadable');

/** String.prototype.isWellFormed (Node 20; the project's TypeScript lib predates it). */
function wellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

/** The loose check of ids AWS supplies (registerConnection, unregisterConnection). */
function validAwsId(v: unknown): boolean {
  return typeof v === 'string' && /^[A-Za-z0-9_.~=-]{1,128}$/.test(v);
}

function validId(v: unknown): boolean {
  if (typeof v !== 'string' || v.length !== 16 || v[15] !== '=') return false;
  for (const c of v.slice(0, 15)) if (!ID_ALPHABET.includes(c)) return false;
  return true;
}

function validName(v: unknown): boolean {
  if (typeof v !== 'string' || v.length < 1 || v.length > MAX_NAME_LENGTH || !wellFormed(v)) return false;
  for (let i = 0; i < v.length; i++) {
    const code = v.charCodeAt(i);
    if (CONTROL_RANGES.some(([lo, hi]) => code >= lo && code <= hi)) return false;
  }
  return true;
}

function isArraySafely(v: unknown): boolean | typeof UNREADABLE {
  return readable(() => Array.isArray(v));
}

/** A real array with no holes whose every element passes `ok`. */
function denseArrayOf(v: unknown, ok: (e: unknown) => boolean): boolean {
  const verdict = readable(() => {
    if (!Array.isArray(v)) return false;
    for (let i = 0; i < v.length; i++) if (!Object.hasOwn(v, i) || !ok(v[i])) return false;
    return true;
  });
  return verdict === true;
}

/** One name, or a non-empty dense array of names (sendToUid, sendToGroup, getClientIdListByGroup, ...). */
function validNames(v: unknown): boolean {
  const isArray = isArraySafely(v);
  if (isArray === UNREADABLE) return false;
  return isArray ? (v as unknown[]).length > 0 && denseArrayOf(v, validName) : validName(v);
}

/** `exclude`: undefined, one id, or a dense array of ids. */
function validExclude(v: unknown): boolean {
  if (v === undefined) return true;
  const isArray = isArraySafely(v);
  if (isArray === UNREADABLE) return false;
  return isArray ? denseArrayOf(v, validId) : validId(v);
}

/** An options bag: undefined, or a non-array object whose read properties all pass their rule. */
function validOptions(v: unknown, rules: Record<string, (value: unknown) => boolean>): boolean {
  if (v === undefined) return true;
  const verdict = readable(() => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
    return Object.entries(rules).every(([key, ok]) => ok((v as Record<string, unknown>)[key]));
  });
  return verdict === true;
}

function isPlainObject(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === null || proto === Object.prototype;
}

/**
 * The session rules: plain JSON DynamoDB can hold, at most 30 levels and 100 KiB as JSON; keys are
 * not "", "__proto__" or "constructor" (the AWS SDK's marshaller reads `constructor` to type a value).
 */
function validSession(v: unknown): boolean {
  const verdict = readable(() => {
    if (!isPlainObject(v)) return false;
    const ancestors: object[] = [];
    const ok = (node: unknown, depth: number): boolean => {
      if (typeof node === 'string') return wellFormed(node);
      if (typeof node === 'boolean') return true;
      if (typeof node === 'number') return Number.isFinite(node) && Math.abs(node) <= Number.MAX_SAFE_INTEGER && (node === 0 || Math.abs(node) >= 1e-130);
      if (typeof node !== 'object') return false; // undefined (in an array), function, symbol, bigint
      if (node === null) return true;
      if (depth > MAX_SESSION_DEPTH || ancestors.includes(node)) return false;
      ancestors.push(node);
      try {
        if (Array.isArray(node)) {
          for (let i = 0; i < node.length; i++) if (!Object.hasOwn(node, i) || node[i] === undefined || !ok(node[i], depth + 1)) return false;
          return true;
        }
        if (!isPlainObject(node) || Object.getOwnPropertySymbols(node).length > 0) return false;
        for (const key of Object.keys(node)) {
          const child = (node as Record<string, unknown>)[key];
          if (child === undefined) continue;
          if (key === '' || key === '__proto__' || key === 'constructor' || !wellFormed(key) || !ok(child, depth + 1)) return false;
        }
        return true;
      } finally {
        ancestors.pop();
      }
    };
    return ok(v, 1) && Buffer.byteLength(JSON.stringify(v), 'utf8') <= MAX_SESSION_BYTES;
  });
  return verdict === true;
}

/** The bytes a message is sent as, or 'invalid'. */
function messageBytes(m: unknown): Buffer | 'invalid' {
  const bytes = readable((): Buffer | 'invalid' => {
    if (typeof m === 'string') return Buffer.from(m, 'utf8');
    if (ArrayBuffer.isView(m)) return Buffer.from(m.buffer, m.byteOffset, m.byteLength);
    if (m instanceof ArrayBuffer || m instanceof SharedArrayBuffer) return Buffer.from(m);
    if (m === undefined) return 'invalid';
    const json = JSON.stringify(m);
    return json === undefined ? 'invalid' : Buffer.from(json, 'utf8');
  });
  return bytes === UNREADABLE ? 'invalid' : bytes;
}

function validEpochMs(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= 8.64e15;
}

/** What a call should do: run the argument checks in the SDK's order; the message is always last. */
type Verdict = { readonly ok: true } | { readonly ok: false; readonly code: 'VALIDATION' | 'PAYLOAD_TOO_LARGE' };
const VALID: Verdict = { ok: true };
const INVALID: Verdict = { ok: false, code: 'VALIDATION' };

function verdict(checks: boolean[], message?: { value: unknown; optional?: boolean }): Verdict {
  if (!checks.every(Boolean)) return INVALID;
  if (!message || (message.optional && message.value === undefined)) return VALID;
  const bytes = messageBytes(message.value);
  if (bytes === 'invalid') return INVALID;
  return bytes.length > MAX_MESSAGE_BYTES ? { ok: false, code: 'PAYLOAD_TOO_LARGE' } : VALID;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const cyclic = () => {
  const o: Record<string, unknown> = { a: 1 };
  o.self = { back: o };
  return o;
};
const throwingGetter = () =>
  Object.defineProperty({}, 'x', {
    enumerable: true,
    get() {
      throw new TypeError('getter boom');
    },
  });
const revokedProxy = () => {
  const p = Proxy.revocable({}, {});
  p.revoke();
  return p.proxy;
};
/**
 * A Proxy every operation of which throws, like a revoked one; except `has` and conversion to a
 * string, which fast-check itself uses on generated values and in its reports (a revoked Proxy is
 * exercised in an example test instead).
 */
const hostileProxy = (target: object) => {
  const boom = () => {
    throw new RangeError('trap boom');
  };
  const get = (_target: object, key: string | symbol) => {
    if (key === Symbol.toPrimitive || key === 'toString') return () => '[hostile Proxy]';
    if (key === Symbol.toStringTag) return undefined;
    return boom();
  };
  return new Proxy(target, {
    getPrototypeOf: boom,
    ownKeys: boom,
    get,
    getOwnPropertyDescriptor: boom,
    set: boom,
    apply: boom,
    construct: boom,
    has: () => false,
  });
};

/** Values no rule accepts in most places, of every JavaScript kind. */
const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({
    maxDepth: 2,
    maxKeys: 3,
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withObjectString: true,
    withTypedArray: true,
    withSparseArray: true,
    stringUnit: 'binary',
  }),
  fc.constantFrom<unknown>(
    undefined,
    null,
    Number.NaN,
    -0,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2 ** 53,
    1e-200,
    Number.MIN_VALUE,
    0n,
    10n ** 30n,
    Symbol('s'),
    () => 1,
    async () => 1,
    function* generator() {},
    class Weird {},
    new Date(Number.NaN),
    /re/g,
    new Error('e'),
    Buffer.alloc(0),
    new Map([['k', 1]]),
    Promise.resolve(1),
  ),
  fc.constant(null).map(cyclic),
  fc.constant(null).map(throwingGetter),
  fc.constant(null).map(() => hostileProxy({})),
);

const idChars = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...ID_ALPHABET), minLength: min, maxLength: max });
/** Well-formed ids no gateway issued (the SDK treats them as not connected). */
const unknownId = idChars(15, 15).map((s) => `${s}=`);
/** Strings that are almost ids. */
const nearMissId: fc.Arbitrary<unknown> = fc.oneof(
  idChars(0, 20).map((s) => `${s}=`),
  idChars(15, 15),
  idChars(15, 15).map((s) => `${s}==`),
  idChars(15, 15).map((s) => `${s}=\n`),
  fc.tuple(idChars(14, 14), fc.constantFrom('+', '/', '.', ' ', 'é', '\u0000', '=', '\ud800')).map(([s, c]) => `${c}${s}=`),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

/** Names: anything a string can hold, lengths around 256, the code points at the edges of the rules. */
const nameLike: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: MAX_NAME_LENGTH - 3, max: MAX_NAME_LENGTH + 3 }), fc.constantFrom('a', 'é', '😀', '\u2028', 'ab😀'))
      .map(([n, unit]) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n)),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\u0000',
      '\t',
      '\u001f',
      '\u007f',
      '\u0080',
      '\u0085',
      '\u009f',
      '\u00a0',
      '\ud800',
      '\udc00',
      '\udc00\ud800',
      '😀',
      'a\ud800b',
      '\uffff',
      '\ufeff',
      '__proto__',
      'constructor',
    ),
  },
  { weight: 1, arbitrary: weird },
);
const nameList = (element: fc.Arbitrary<unknown>) => fc.oneof(fc.array(element, { maxLength: 4 }), fc.sparseArray(element, { maxLength: 4 }));
const namesLike: fc.Arbitrary<unknown> = fc.oneof({ weight: 3, arbitrary: nameLike }, { weight: 2, arbitrary: nameList(nameLike) });
/** joinPresence's member: { id: a name, info: anything }, or anything at all. */
const memberLike: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record(
      { id: nameLike, info: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string({ minLength: 1000, maxLength: 1100 }), weird) },
      { requiredKeys: ['id'] },
    ),
  },
  { weight: 1, arbitrary: weird },
);

/** A member whose id is a valid name and whose info is JSON of at most MAX_PRESENCE_INFO_BYTES. */
function validMember(v: unknown): boolean {
  return (
    readable(() => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
      const { id, info } = v as { id?: unknown; info?: unknown };
      if (!validName(id)) return false;
      let json: string | undefined;
      try {
        json = JSON.stringify(info ?? null);
      } catch {
        return false;
      }
      return json !== undefined && Buffer.byteLength(json, 'utf8') <= MAX_PRESENCE_INFO_BYTES;
    }) === true
  );
}

/** Names that are valid, for the places where a valid name is needed to reach the argument under test. */
const goodName = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter(validName);

/** Session-like values: JSON trees with every kind of bad leaf, key, depth and size. */
const sessionKey = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '__proto__', 'constructor', 'toString', 'toJSON', '\ud800', 'a.b', '#x', ':v', 'k\udc00') },
);
const leaf: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(fc.constant(null), fc.boolean(), fc.string({ unit: 'grapheme', maxLength: 12 }), fc.integer(), fc.double()) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      0,
      -0,
      1e-130,
      9.99e-131,
      5e-324,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER + 2,
      2 ** 60,
      1e300,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      undefined,
    ),
  },
  { weight: 1, arbitrary: weird },
);
const defineEntries = (entries: Array<[string, unknown]>, nullProto: boolean) => {
  const o: Record<string, unknown> = nullProto ? Object.create(null) : {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
};
const { tree } = fc.letrec<{ tree: unknown; node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('tree'),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.sparseArray(tie('node'), { maxLength: 3 }),
  ),
  tree: fc.tuple(fc.array(fc.tuple(sessionKey, tie('node')), { maxLength: 4 }), fc.boolean()).map(([entries, nullProto]) => defineEntries(entries, nullProto)),
}));
const nested = (levels: number, asArray: boolean): unknown => {
  let v: unknown = asArray ? [1] : { leaf: 1 };
  for (let i = 1; i < levels; i++) v = asArray ? [v] : { v };
  return asArray ? { root: v } : v;
};
const sessionLike: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: tree },
  // Depth around the limit: an object of n levels; an array chain under one key.
  {
    weight: 2,
    arbitrary: fc.tuple(fc.integer({ min: MAX_SESSION_DEPTH - 2, max: MAX_SESSION_DEPTH + 2 }), fc.boolean()).map(([n, asArray]) => nested(n, asArray)),
  },
  // Size around the limit, in one- and two-byte characters.
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: MAX_SESSION_BYTES - 4, max: MAX_SESSION_BYTES + 4 }), fc.constantFrom('x', 'é'))
      .map(([n, unit]) => ({ blob: unit.repeat(Math.floor((n - '{"blob":""}'.length) / Buffer.byteLength(unit))) })),
  },
  { weight: 1, arbitrary: tree.map((t) => Object.assign(t as object, { cycle: { back: t } })) },
  { weight: 1, arbitrary: fc.constant(null).map(() => Object.assign({ ok: 1 }, { [Symbol('s')]: 1 })) },
  { weight: 1, arbitrary: weird },
);

/** Messages: text, bytes of every view type, JSON values, and values JSON cannot carry. */
const bytesLike = (u: Uint8Array): fc.Arbitrary<unknown> =>
  fc.constantFrom<unknown>(
    u,
    Buffer.from(u),
    u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength),
    new DataView(u.buffer, u.byteOffset, u.byteLength),
    (() => {
      const shared = new SharedArrayBuffer(u.byteLength);
      new Uint8Array(shared).set(u);
      return shared;
    })(),
    new Uint16Array(u.buffer.slice(0, u.byteLength - (u.byteLength % 2))),
    new Float64Array(8),
  );
const messageLike: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 32 }),
  fc.uint8Array({ maxLength: 64 }).chain(bytesLike),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constant(null).map(() => ({ toJSON: () => ({ fine: true }) })),
  fc.constant(null).map(() => ({
    toJSON() {
      throw new Error('toJSON boom');
    },
  })),
  fc.constant(null).map(() => ({ toJSON: () => undefined })),
  weird,
);

// ---------------------------------------------------------------------------------------------
// The harness: a local gateway, the fixture connections, and what a call may and may not touch.
// ---------------------------------------------------------------------------------------------

let h: GatewayHarness;
let gw: Gateway;
let rawDynamo: DynamoDBClient;
let countingDoc: DynamoDBDocumentClient;
let dynamoCommands = 0;
let capacityEvents = 0;
/** Live fixture clients: A and B are bound and grouped and receive sends; M is mutated (and may be closed); S holds the session under test; R receives the sized messages. */
let A: TestClient;
let B: TestClient;
let M: TestClient;
let S: TestClient;
let R: TestClient;

before(async () => {
  h = await GatewayHarness.start();
  rawDynamo = new DynamoDBClient({ endpoint: h.endpoints.dynamoEndpoint, region: h.endpoints.region, credentials: LOCAL_CREDENTIALS });
  const counted = new DynamoDBClient({ endpoint: h.endpoints.dynamoEndpoint, region: h.endpoints.region, credentials: LOCAL_CREDENTIALS });
  counted.middlewareStack.add(
    (next) => async (args) => {
      dynamoCommands++;
      return next(args);
    },
    { step: 'initialize', name: 'countDynamoCommands' },
  );
  countingDoc = DynamoDBDocumentClient.from(counted, { marshallOptions: { removeUndefinedValues: true } });
  gw = h.newGateway({ dynamoDb: countingDoc, onConsumedCapacity: () => capacityEvents++, maxRetries: 0 });
  [A, B, M, S, R] = await h.connectMany(5);
  await gw.bindUid(A!.id, 'fixture-uid');
  await gw.joinGroup(A!.id, 'fixture-group');
  await gw.joinGroup(B!.id, 'fixture-group');
  await gw.setSession(B!.id, { fixture: true });
});

after(async () => {
  await h.stop();
  rawDynamo.destroy();
  countingDoc.destroy();
});

/** The five tables exactly as stored (raw attribute values), in key order. */
async function snapshot(): Promise<string> {
  const tables: Record<string, Array<Record<string, AttributeValue>>> = {};
  for (const [role, name] of Object.entries(TEST_TABLES)) {
    const items: Array<Record<string, AttributeValue>> = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await rawDynamo.send(new ScanCommand({ TableName: name, ConsistentRead: true, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    tables[role] = items
      .map((item) => Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1))))
      .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  }
  return JSON.stringify(tables);
}

function describeError(error: unknown): string {
  try {
    return `${(error as Error)?.name ?? typeof error}: ${(error as Error)?.message ?? String(error)}`;
  } catch {
    return 'an unprintable error';
  }
}

interface CallOutcome {
  readonly value?: unknown;
  readonly error?: unknown;
}

/**
 * Runs one SDK call and checks it against the verdict. `gone` allows ConnectionGoneError for a valid
 * call (a mutation of a client without a connection item); `alsoAllowed` another documented refusal
 * that depends on stored state (updateSession's merged size).
 */
async function check(
  label: string,
  call: () => unknown,
  expected: Verdict,
  allow: { gone?: boolean; alsoAllowed?: (error: unknown) => boolean } = {},
): Promise<CallOutcome> {
  const before = expected.ok ? undefined : await snapshot();
  const counters = { dynamo: dynamoCommands, capacity: capacityEvents, posts: h.local.stats().posts };
  let returned: unknown;
  let thrown: { error: unknown } | undefined;
  let value: unknown;
  const { requests, error } = await countHttpRequests(async () => {
    try {
      returned = call();
    } catch (e) {
      thrown = { error: e };
      return;
    }
    value = await returned;
  });
  assert.equal(thrown, undefined, `${label}: threw synchronously: ${describeError(thrown?.error)}`);
  assert.ok(returned instanceof Promise, `${label}: did not return a promise`);
  if (error !== undefined) {
    assert.ok(error instanceof GatewayError, `${label}: rejected with a raw ${describeError(error)}`);
    assert.ok(CODES.has(error.code), `${label}: unknown code ${error.code}`);
    assert.equal(error.name, error.constructor.name, `${label}: name ${error.name} of a ${error.constructor.name}`);
  }
  if (expected.ok) {
    if (error !== undefined) {
      const allowed = (allow.gone === true && error instanceof ConnectionGoneError) || allow.alsoAllowed?.(error) === true;
      assert.ok(allowed, `${label}: valid input was refused: ${describeError(error)}`);
    }
    return { value, error };
  }
  assert.ok(
    error instanceof ValidationError,
    `${label}: invalid input was not refused with a ValidationError (${error === undefined ? 'it succeeded' : describeError(error)})`,
  );
  assert.equal(error.code, expected.code, `${label}: ${describeError(error)}`);
  if (expected.code === 'PAYLOAD_TOO_LARGE') assert.ok(error instanceof PayloadTooLargeError);
  assert.equal(requests, 0, `${label}: invalid input made ${requests} HTTP request(s)`);
  assert.equal(dynamoCommands, counters.dynamo, `${label}: invalid input sent DynamoDB commands`);
  assert.equal(capacityEvents, counters.capacity, `${label}: invalid input consumed DynamoDB capacity`);
  assert.equal(h.local.stats().posts, counters.posts, `${label}: invalid input posted to a connection`);
  assert.equal(await snapshot(), before, `${label}: invalid input changed stored state`);
  return { error };
}

const safeLabel = (value: unknown): string => {
  try {
    return fc.stringify(value).slice(0, 120);
  } catch {
    return '<unprintable>';
  }
};

// ---------------------------------------------------------------------------------------------
// Every method
// ---------------------------------------------------------------------------------------------

interface MethodSpec {
  readonly args: fc.Arbitrary<unknown[]>;
  readonly verdict: (args: unknown[]) => Verdict;
  readonly gone?: boolean;
  readonly alsoAllowed?: (error: unknown) => boolean;
}

/** Methods without arguments: extra arguments of any kind are ignored. */
const NO_ARGUMENT_METHODS = [
  'getAllClientCount',
  'getAllClientIdCount',
  'getAllClientIdList',
  'getAllClientSessions',
  'getAllUidList',
  'getAllUidCount',
  'getAllGroupIdList',
  'getAllGroupClientIdList',
  'getAllGroupClientIdCount',
  'getAllGroupUidList',
  'getAllGroupUidCount',
] as const;

function methodSpecs(): Record<string, MethodSpec> {
  const live = fc.constantFrom(A.id, B.id, S.id, R.id);
  // Ids for methods that read or post: live clients, unknown ids, near misses, anything.
  const anyId = fc.oneof(
    { weight: 2, arbitrary: live },
    { weight: 2, arbitrary: unknownId },
    { weight: 3, arbitrary: nearMissId },
    { weight: 2, arbitrary: weird },
  );
  // Ids for methods that close or unregister: never a fixture client other than M.
  const harmlessId = fc.oneof({ weight: 2, arbitrary: unknownId }, { weight: 3, arbitrary: nearMissId }, { weight: 2, arbitrary: weird });
  const mutableId = fc.oneof(
    { weight: 3, arbitrary: fc.constant(M.id) },
    { weight: 1, arbitrary: unknownId },
    { weight: 2, arbitrary: nearMissId },
    { weight: 1, arbitrary: weird },
  );
  const sessionId = fc.oneof(
    { weight: 3, arbitrary: fc.constant(S.id) },
    { weight: 1, arbitrary: unknownId },
    { weight: 1, arbitrary: nearMissId },
    { weight: 1, arbitrary: weird },
  );
  const uidPool = fc.oneof({ weight: 1, arbitrary: fc.constant('fixture-uid') }, { weight: 4, arbitrary: namesLike });
  const groupPool = fc.oneof({ weight: 1, arbitrary: fc.constant('fixture-group') }, { weight: 4, arbitrary: namesLike });
  const singleGroup = fc.oneof({ weight: 1, arbitrary: fc.constant('fixture-group') }, { weight: 4, arbitrary: nameLike });
  const excludeLike = fc.oneof(
    fc.constant(undefined),
    live,
    unknownId,
    nearMissId,
    fc.array(fc.oneof(live, unknownId, nearMissId), { maxLength: 3 }),
    fc.sparseArray(live, { maxLength: 3 }),
    weird,
  );
  const sendOptions = fc.oneof(fc.constant(undefined), fc.record({ exclude: excludeLike }, { requiredKeys: [] }), weird);
  const allOptions = fc.oneof(
    fc.constant(undefined),
    fc.record(
      {
        clientIds: fc.oneof(fc.array(fc.oneof(live, unknownId, nearMissId), { maxLength: 3 }), fc.sparseArray(live, { maxLength: 3 }), weird),
        exclude: excludeLike,
      },
      { requiredKeys: [] },
    ),
    weird,
  );
  // Batch methods take a dense array, possibly empty; a sparse one is refused like an undefined element.
  // A list of valid names as often as the rest, so that each batch method gets valid input in a run of ~30 calls.
  const batchList = fc.oneof(
    { weight: 3, arbitrary: fc.array(goodName, { maxLength: 4 }) },
    fc.array(nameLike, { maxLength: 4 }),
    fc.sparseArray(nameLike, { maxLength: 4 }),
    weird,
  );
  const maybeMessage = fc.oneof(fc.constant(undefined), messageLike);
  const goodRecord = fc.record(
    {
      connectionId: unknownId,
      connectedAt: fc.integer({ min: 1, max: 8.64e15 }),
      sourceIp: fc.option(fc.string({ maxLength: 64 }), { nil: undefined }),
      userAgent: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
    },
    { requiredKeys: ['connectionId', 'connectedAt'] },
  );
  const record = fc.oneof(
    goodRecord,
    fc.record(
      {
        connectionId: harmlessId,
        connectedAt: fc.oneof(
          fc.integer({ min: 1, max: 2 ** 45 }),
          fc.constantFrom<unknown>(0, -1, 1.5, Date.now(), 8.64e15, 8.64e15 + 1, 2 ** 53, 1e300, Number.NaN, Number.POSITIVE_INFINITY, '2024', null),
          weird,
        ),
        sourceIp: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 70 }), weird),
        userAgent: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 40 }), fc.constant('u'.repeat(2000)), weird),
      },
      { requiredKeys: [] },
    ),
    weird,
  );
  const recordVerdict = (r: unknown): boolean =>
    readable(() => {
      if (typeof r !== 'object' || r === null || Array.isArray(r)) return false;
      const o = r as Record<string, unknown>;
      const optionalString = (v: unknown, max: number) => v === undefined || (typeof v === 'string' && v.length <= max);
      return (
        validAwsId(o.connectionId) && validEpochMs(o.connectedAt) && optionalString(o.sourceIp, 64) && optionalString(o.userAgent, Number.POSITIVE_INFINITY)
      );
    }) === true;
  const noBindTokenSecret = (error: unknown) => error instanceof ConfigurationError && /bindTokenSecret/.test(error.message);
  const mergedTooBig = (error: unknown) => error instanceof ValidationError && /the merged session/.test(error.message);

  const specs: Record<string, MethodSpec> = {
    registerConnection: { args: fc.tuple(record), verdict: ([r]) => verdict([recordVerdict(r)]) },
    unregisterConnection: { args: fc.tuple(harmlessId), verdict: ([id]) => verdict([validAwsId(id)]) },
    connectionClosed: {
      args: fc.tuple(harmlessId, fc.oneof(fc.constant(undefined), fc.integer({ min: 1000, max: 4999 }), weird)),
      verdict: ([id, code]) =>
        verdict([validAwsId(id), code === undefined || (typeof code === 'number' && Number.isInteger(code) && code >= 1000 && code <= 4999)]),
    },
    resumeConnection: {
      args: fc.tuple(harmlessId, fc.oneof(harmlessId, weird), fc.oneof(fc.string(), weird)),
      verdict: ([id, from, token]) => verdict([validId(id), validAwsId(from), typeof token === 'string']),
    },
    getConnection: { args: fc.tuple(anyId), verdict: ([id]) => verdict([validId(id)]) },
    sendToClient: { args: fc.tuple(anyId, messageLike), verdict: ([id, m]) => verdict([validId(id)], { value: m }) },
    sendToUid: {
      args: fc.tuple(uidPool, messageLike, sendOptions),
      verdict: ([u, m, o]) => verdict([validNames(u), validOptions(o, { exclude: validExclude })], { value: m }),
    },
    sendToGroup: {
      args: fc.tuple(groupPool, messageLike, sendOptions),
      verdict: ([g, m, o]) => verdict([validNames(g), validOptions(o, { exclude: validExclude })], { value: m }),
    },
    sendToAll: {
      args: fc.tuple(messageLike, allOptions),
      verdict: ([m, o]) => verdict([validOptions(o, { clientIds: (v) => v === undefined || denseArrayOf(v, validId), exclude: validExclude })], { value: m }),
    },
    isOnline: { args: fc.tuple(anyId), verdict: ([id]) => verdict([validId(id)]) },
    closeClient: { args: fc.tuple(harmlessId, maybeMessage), verdict: ([id, m]) => verdict([validId(id)], { value: m, optional: true }) },
    destroyClient: { args: fc.tuple(harmlessId), verdict: ([id]) => verdict([validId(id)]) },
    getSession: { args: fc.tuple(anyId), verdict: ([id]) => verdict([validId(id)]) },
    setSession: { args: fc.tuple(sessionId, sessionLike), verdict: ([id, s]) => verdict([validId(id), validSession(s)]), gone: true },
    updateSession: {
      args: fc.tuple(sessionId, sessionLike),
      verdict: ([id, s]) => verdict([validId(id), validSession(s)]),
      gone: true,
      alsoAllowed: mergedTooBig,
    },
    getUidByClientId: { args: fc.tuple(anyId), verdict: ([id]) => verdict([validId(id)]) },
    getGroupsByClientId: { args: fc.tuple(anyId), verdict: ([id]) => verdict([validId(id)]) },
    bindUid: { args: fc.tuple(mutableId, nameLike), verdict: ([id, u]) => verdict([validId(id), validName(u)]), gone: true },
    unbindUid: {
      args: fc.tuple(mutableId, fc.oneof(fc.constant(undefined), nameLike)),
      verdict: ([id, u]) => verdict([validId(id), u === undefined || validName(u)]),
      gone: true,
    },
    isUidOnline: { args: fc.tuple(uidPool.filter((u) => !Array.isArray(u))), verdict: ([u]) => verdict([validName(u)]) },
    getClientIdByUid: { args: fc.tuple(nameLike), verdict: ([u]) => verdict([validName(u)]) },
    isUidsOnline: { args: fc.tuple(batchList), verdict: ([l]) => verdict([denseArrayOf(l, validName)]) },
    batchGetClientIdByUid: { args: fc.tuple(batchList), verdict: ([l]) => verdict([denseArrayOf(l, validName)]) },
    // Only uids no fixture client but M is bound to: closeUid closes every connection of the uid.
    closeUid: {
      args: fc.tuple(
        nameLike.filter((u) => u !== 'fixture-uid'),
        maybeMessage,
      ),
      verdict: ([u, m]) => verdict([validName(u)], { value: m, optional: true }),
    },
    joinGroup: { args: fc.tuple(mutableId, nameLike), verdict: ([id, g]) => verdict([validId(id), validName(g)]), gone: true },
    leaveGroup: { args: fc.tuple(mutableId, nameLike), verdict: ([id, g]) => verdict([validId(id), validName(g)]), gone: true },
    joinPresence: {
      args: fc.tuple(mutableId, nameLike, memberLike),
      verdict: ([id, g, m]) => verdict([validId(id), validName(g), validMember(m)]),
      gone: true,
    },
    getPresenceMembers: { args: fc.tuple(singleGroup), verdict: ([g]) => verdict([validName(g)]) },
    ungroup: { args: fc.tuple(nameLike.filter((g) => g !== 'fixture-group')), verdict: ([g]) => verdict([validName(g)]) },
    getClientIdListByGroup: { args: fc.tuple(groupPool), verdict: ([g]) => verdict([validNames(g)]) },
    getClientCountByGroup: { args: fc.tuple(singleGroup), verdict: ([g]) => verdict([validName(g)]) },
    getClientIdCountByGroup: { args: fc.tuple(singleGroup), verdict: ([g]) => verdict([validName(g)]) },
    getClientSessionsByGroup: { args: fc.tuple(singleGroup), verdict: ([g]) => verdict([validName(g)]) },
    getUidListByGroup: { args: fc.tuple(groupPool), verdict: ([g]) => verdict([validNames(g)]) },
    getUidCountByGroup: { args: fc.tuple(groupPool), verdict: ([g]) => verdict([validNames(g)]) },
    batchGetClientIdCountByGroup: { args: fc.tuple(batchList), verdict: ([l]) => verdict([denseArrayOf(l, validName)]) },
    // This Gateway has no bind token secret: a valid id gets the documented ConfigurationError, after
    // the id was checked (test/integration/sdk-bind-tokens.test.ts runs them with a secret).
    verifyBindToken: { args: fc.tuple(anyId, fc.string()), verdict: ([id]) => verdict([validId(id)]), alsoAllowed: noBindTokenSecret },
    createBindToken: { args: fc.tuple(anyId), verdict: ([id]) => verdict([validId(id)]), alsoAllowed: noBindTokenSecret },
  };
  for (const name of NO_ARGUMENT_METHODS) specs[name] = { args: fc.array(weird, { maxLength: 2 }), verdict: () => VALID };
  return specs;
}

/** Public methods of Gateway, read from its source: every line `  [static] [async] name(` not marked private. */
function publicGatewayMethods(): string[] {
  const source = readFileSync(fileURLToPath(new URL('../../sdk/Gateway.ts', import.meta.url)), 'utf8');
  const start = source.indexOf('export class Gateway');
  const classBody = source.slice(start, source.indexOf('\n}\n', start));
  const names = new Set<string>();
  for (const match of classBody.matchAll(/^ {2}(?!private |protected )(?:static )?(?:async )?([a-zA-Z]\w*)\s*(?:<[^>]*>)?\(/gm)) names.add(match[1]!);
  names.delete('constructor');
  return [...names].sort();
}

/** Covered elsewhere in this file: the synchronous ones and the static factory. */
const COVERED_SEPARATELY = ['connectionPath', 'destroy', 'fromEnv', 'deliverChunk'];

describe('every Gateway method', { timeout: 300_000 }, () => {
  test('the specs below cover every public method of Gateway (a new method needs its spec here)', () => {
    const covered = new Set([...Object.keys(methodSpecs()), ...COVERED_SEPARATELY]);
    const missing = publicGatewayMethods().filter((name) => !covered.has(name));
    assert.deepEqual(missing, [], `add a MethodSpec for ${missing.join(', ')}`);
    for (const name of Object.keys(methodSpecs())) assert.equal(typeof (gw as unknown as Record<string, unknown>)[name], 'function', name);
  });

  test(`a random call of a random method, ${NUM_RUNS.everyMethod} runs: succeeds or rejects with a typed error; invalid input touches nothing`, async () => {
    const specs = methodSpecs();
    const call = fc.constantFrom(...Object.keys(specs)).chain((name) => specs[name]!.args.map((args) => ({ name, args })));
    const seen = new Map<string, { valid: number; invalid: number }>();
    const exercise = (name: string, args: unknown[], expected: Verdict) => {
      const spec = specs[name]!;
      const method = (gw as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
      return check(`${name}(${args.map(safeLabel).join(', ')})`, () => method.apply(gw, args), expected, { gone: spec.gone, alsoAllowed: spec.alsoAllowed });
    };
    await fc.assert(
      fc.asyncProperty(call, async ({ name, args }) => {
        const expected = specs[name]!.verdict(args);
        const tally = seen.get(name) ?? { valid: 0, invalid: 0 };
        tally[expected.ok ? 'valid' : 'invalid']++;
        seen.set(name, tally);
        await exercise(name, args, expected);
      }),
      params(NUM_RUNS.everyMethod),
    );
    // A kind of input that the random mix happened not to draw for a method (valid input is rare for
    // some generators) is drawn for that method alone, so that every run checks both kinds.
    for (const name of Object.keys(specs)) {
      const spec = specs[name]!;
      const tally = seen.get(name) ?? { valid: 0, invalid: 0 };
      seen.set(name, tally);
      for (const kind of ['valid', 'invalid'] as const) {
        if (tally[kind] > 0 || (kind === 'invalid' && (NO_ARGUMENT_METHODS as readonly string[]).includes(name))) continue;
        const [args] = fc.sample(
          spec.args.filter((a) => spec.verdict(a).ok === (kind === 'valid')),
          1,
        );
        await exercise(name, args!, spec.verdict(args!));
        tally[kind]++;
      }
    }
    // Each method was exercised with both kinds of input (no-argument methods have only valid calls).
    for (const name of Object.keys(specs)) {
      const tally = seen.get(name);
      assert.ok(tally && tally.valid > 0, `${name} never got valid input`);
      if (!(NO_ARGUMENT_METHODS as readonly string[]).includes(name)) assert.ok(tally.invalid > 0, `${name} never got invalid input`);
    }
    // The fixture is untouched by all of that.
    assert.equal(h.isOpen(A.id) && h.isOpen(B.id), true);
    assert.deepEqual(await h.gateway.getClientIdByUid('fixture-uid'), [A.id]);
    assert.deepEqual((await h.gateway.getClientIdListByGroup('fixture-group')).sort(), [A.id, B.id].sort());
  });

  test('deliverChunk (the fan-out worker entry point) refuses anything that is not a chunk, before any call', async () => {
    const deliverChunk = (gw as unknown as { deliverChunk?: (event: unknown, options?: unknown) => Promise<unknown> }).deliverChunk;
    if (typeof deliverChunk !== 'function') return; // not in this version of the SDK
    const junk = fc.oneof(
      fc.anything({ maxDepth: 2, withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withNullPrototype: true, withTypedArray: true }),
      fc.record({ type: fc.string(), version: fc.anything(), recipients: fc.anything() }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(junk, async (event) => {
        await check(`deliverChunk(${safeLabel(event)})`, () => deliverChunk.call(gw, event), INVALID);
      }),
      params(200),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// One property per kind of input, with the oracle made explicit
// ---------------------------------------------------------------------------------------------

describe('ids, names, sessions, messages', { timeout: 300_000 }, () => {
  test(`client ids (${NUM_RUNS.ids} runs): exactly the 15 [A-Za-z0-9_-] + "=" strings are accepted, by a read, a post and a mutation`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(unknownId, nearMissId, weird), async (id) => {
        const ok = validId(id);
        await check(`getUidByClientId(${safeLabel(id)})`, () => gw.getUidByClientId(id as string), ok ? VALID : INVALID);
        const posted = await check(`sendToClient(${safeLabel(id)})`, () => gw.sendToClient(id as string, 'x'), ok ? VALID : INVALID);
        if (ok) assert.deepEqual((posted.value as { gone: string[] }).gone, [id], 'an unknown id is gone (410)');
        await check(`joinGroup(${safeLabel(id)})`, () => gw.joinGroup(id as string, 'g'), ok ? VALID : INVALID, { gone: true });
      }),
      params(NUM_RUNS.ids),
    );
  });

  test(`uids and group names (${NUM_RUNS.names} runs): 1-256 well-formed code units without control characters; bind, join and query agree`, async () => {
    if (!h.isOpen(M.id)) M = await h.connect(); // the method sweep may have closed it (closeUid)
    await fc.assert(
      fc.asyncProperty(nameLike, async (name) => {
        const ok = validName(name);
        await check(`bindUid(M, ${safeLabel(name)})`, () => gw.bindUid(M.id, name as string), ok ? VALID : INVALID, { gone: true });
        await check(`joinGroup(M, ${safeLabel(name)})`, () => gw.joinGroup(M.id, name as string), ok ? VALID : INVALID, { gone: true });
        // This one also takes a list of names.
        const members = await check(
          `getClientIdListByGroup(${safeLabel(name)})`,
          () => gw.getClientIdListByGroup(name as string),
          validNames(name) ? VALID : INVALID,
        );
        const bound = await check(`getClientIdByUid(${safeLabel(name)})`, () => gw.getClientIdByUid(name as string), ok ? VALID : INVALID);
        if (ok && h.isOpen(M.id)) {
          // The stored name is the given one, byte for byte (no normalisation, no truncation).
          assert.ok((members.value as string[]).includes(M.id));
          assert.ok((bound.value as string[]).includes(M.id));
          assert.equal(await gw.getUidByClientId(M.id), name);
          assert.ok((await gw.getGroupsByClientId(M.id)).includes(name as string));
          await gw.leaveGroup(M.id, name as string);
        }
      }),
      params(NUM_RUNS.names),
    );
  });

  test(`sessions (${NUM_RUNS.sessions} runs): plain JSON DynamoDB can hold is stored and read back exactly; anything else is refused and nothing changes`, async () => {
    await fc.assert(
      fc.asyncProperty(sessionLike, fc.boolean(), async (session, replace) => {
        const ok = validSession(session);
        const previous = await gw.getSession(S.id);
        if (replace) {
          await check(`setSession(${safeLabel(session)})`, () => gw.setSession(S.id, session as never), ok ? VALID : INVALID);
          if (ok) assert.equal(canonical(await gw.getSession(S.id)), canonical(JSON.parse(JSON.stringify(session))));
        } else {
          const outcome = await check(`updateSession(${safeLabel(session)})`, () => gw.updateSession(S.id, session as never), ok ? VALID : INVALID, {
            alsoAllowed: (e) => e instanceof ValidationError && /the merged session/.test(e.message),
          });
          if (ok && outcome.error === undefined) assert.equal(canonical(await gw.getSession(S.id)), canonical(outcome.value));
          if (outcome.error !== undefined) assert.equal(canonical(await gw.getSession(S.id)), canonical(previous));
        }
        // Keep the session small, so that merges keep testing the patch rather than the limit.
        if (Buffer.byteLength(JSON.stringify((await gw.getSession(S.id)) ?? {})) > 20_000) await gw.setSession(S.id, {});
      }),
      params(NUM_RUNS.sessions),
    );
  });

  test(`messages (${NUM_RUNS.messages} runs): strings, bytes and JSON values are posted once to every recipient; anything else is refused by every send method`, async () => {
    await fc.assert(
      fc.asyncProperty(messageLike, async (message) => {
        const expected = verdict([], { value: message });
        const label = safeLabel(message);
        await check(`sendToClient(A, ${label})`, () => gw.sendToClient(A.id, message), expected);
        await check(`sendToUid(fixture-uid, ${label})`, () => gw.sendToUid('fixture-uid', message), expected);
        const toGroup = await check(`sendToGroup(fixture-group, ${label})`, () => gw.sendToGroup('fixture-group', message), expected);
        if (expected.ok) assert.deepEqual((toGroup.value as { sent: string[] }).sent.sort(), [A.id, B.id].sort());
        await check(`sendToAll(${label}, { clientIds: [B] })`, () => gw.sendToAll(message, { clientIds: [B.id] }), expected);
        await check(`closeUid(nobody, ${label})`, () => gw.closeUid('nobody-at-all', message), message === undefined ? VALID : expected);
      }),
      params(NUM_RUNS.messages),
    );
  });

  test(`sizes around 131072 bytes (${NUM_RUNS.sizes} runs): up to the limit the exact bytes arrive; one byte over is a PayloadTooLargeError with the size, before any call`, async () => {
    const sized = fc
      .tuple(fc.integer({ min: -6, max: 6 }), fc.constantFrom('ascii', 'two-byte', 'four-byte', 'buffer', 'arraybuffer', 'json'))
      .map(([delta, kind]) => ({ size: MAX_MESSAGE_BYTES + delta, kind, message: messageOfSize(MAX_MESSAGE_BYTES + delta, kind) }))
      .filter((m) => m.message !== undefined);
    // Skip whatever R got before (sendToAll in the method sweep): read up to a marker of our own.
    const marker = `marker-${Math.random()}`;
    await gw.sendToClient(R.id, marker);
    while ((await R.next()) !== marker);
    await fc.assert(
      fc.asyncProperty(sized, async ({ size, kind, message }) => {
        const bytes = messageBytes(message);
        assert.ok(bytes !== 'invalid');
        assert.equal(bytes.length, size, `${kind} of ${size} bytes is built right`);
        const outcome = await check(
          `sendToClient(R, ${kind} of ${size} bytes)`,
          () => gw.sendToClient(R.id, message),
          size > MAX_MESSAGE_BYTES ? { ok: false, code: 'PAYLOAD_TOO_LARGE' } : VALID,
        );
        if (size > MAX_MESSAGE_BYTES) {
          const error = outcome.error as PayloadTooLargeError;
          assert.equal(error.size, size);
          assert.equal(error.limit, MAX_MESSAGE_BYTES);
        } else {
          assert.deepEqual((outcome.value as { sent: string[] }).sent, [R.id]);
          assert.equal(await R.next(), isUtf8(bytes) ? bytes.toString('utf8') : `binary:${bytes.toString('base64')}`);
        }
      }),
      params(NUM_RUNS.sizes),
    );
  });
});

/** A message of exactly `size` bytes once serialised, or undefined when the kind cannot make that size. */
function messageOfSize(size: number, kind: string): unknown {
  switch (kind) {
    case 'ascii':
      return 'a'.repeat(size);
    case 'two-byte':
      return size % 2 === 0 ? 'é'.repeat(size / 2) : `${'é'.repeat((size - 1) / 2)}a`;
    case 'four-byte':
      return `${'😀'.repeat(Math.floor(size / 4))}${'a'.repeat(size % 4)}`;
    case 'buffer':
      return Buffer.alloc(size, 0xff); // not UTF-8: arrives as a binary frame
    case 'arraybuffer':
      return new Uint8Array(size).fill(0x61).buffer;
    case 'json':
      return { data: 'x'.repeat(size - '{"data":""}'.length) };
    default:
      return undefined;
  }
}

/** JSON with sorted keys: DynamoDB maps do not keep key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

// ---------------------------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------------------------

describe('construction', () => {
  const url = () => h.endpoints.callbackUrl;

  test(`the constructor (${NUM_RUNS.constructor} runs): builds, or throws a ConfigurationError; never another error, never a network call`, async () => {
    const printable = fc.anything({ maxDepth: 1, withBoxedValues: true, withDate: true, withMap: true, withTypedArray: true });
    // Anything at all where an option goes: BigInt, symbols, null-prototype objects, throwing getters, hostile Proxies.
    const anyValue = fc.oneof(printable, weird);
    // Each option is mostly a good value (so that a quarter of the runs build) and sometimes anything.
    const mostly = (good: fc.Arbitrary<unknown>, bad: fc.Arbitrary<unknown>) => fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: bad });
    const number = (min: number) =>
      mostly(
        fc.oneof(fc.constant(undefined), fc.integer({ min, max: 100 })),
        fc.oneof(
          fc.integer({ min: -5, max: 100 }),
          fc.double(),
          fc.constantFrom<unknown>('5', null, Number.NaN, Number.POSITIVE_INFINITY, 10n, Symbol('n'), Object.create(null)),
          anyValue,
        ),
      );
    const callback = (good: unknown) => mostly(fc.constantFrom(undefined, good), anyValue);
    const options = fc.record({
      callbackUrl: mostly(
        fc.constantFrom('http://127.0.0.1:1/local', 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod'),
        fc.oneof(fc.constantFrom(undefined, 'ftp://x/y', 'http://x/y?q=1', 'http://x/#f', 'not a url', '', 10n), fc.webUrl(), fc.string(), anyValue),
      ),
      tables: mostly(
        fc.constant(TEST_TABLES),
        fc.oneof(
          fc.record(
            {
              connections: fc.oneof(fc.string({ maxLength: 6 }), anyValue),
              uids: fc.oneof(fc.string({ maxLength: 6 }), anyValue),
              groups: fc.string({ maxLength: 6 }),
            },
            { requiredKeys: [] },
          ),
          anyValue,
        ),
      ),
      region: mostly(fc.constant('us-east-1'), fc.oneof(fc.constant(undefined), fc.string({ maxLength: 5 }), anyValue)),
      concurrency: number(1),
      maxRetries: number(0),
      retryBaseDelayMs: number(0),
      retryMaxDelayMs: number(0),
      requestTimeoutMs: number(1),
      scanSegments: number(1),
      maxSessionAttempts: number(1),
      random: callback(() => 0.5),
      onConsumedCapacity: callback(() => {}),
      onSendCompleted: callback(() => {}),
      logger: callback({ warn: () => {} }),
      credentials: callback(LOCAL_CREDENTIALS),
      dynamoDb: callback(h.doc),
      fanout: mostly(
        fc.constantFrom(undefined, false, { functionName: 'worker', threshold: 10 }),
        fc.oneof(fc.constant({ functionName: 'worker', lambda: 5 }), anyValue),
      ),
    });
    const outcomes = { built: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 9, arbitrary: options }, { weight: 1, arbitrary: anyValue }), async (input) => {
        const { requests, error } = await countHttpRequests(async () => {
          const built = new Gateway(input as never);
          built.destroy();
        });
        outcomes[error === undefined ? 'built' : 'refused']++;
        if (error !== undefined) assert.ok(error instanceof ConfigurationError, `new Gateway(${safeLabel(input)}) threw ${describeError(error)}`);
        else {
          // What it accepted, it can use: the callbacks are functions, the logger has warn().
          const o = input as Record<string, unknown>;
          // (undefined and null mean "the default")
          for (const name of ['random', 'onConsumedCapacity', 'onSendCompleted'])
            assert.ok(o[name] == null || typeof o[name] === 'function', `accepted ${name}: ${safeLabel(o[name])}`);
          assert.ok(o.logger == null || typeof (o.logger as { warn?: unknown }).warn === 'function', `accepted logger: ${safeLabel(o.logger)}`);
        }
        assert.equal(requests, 0);
      }),
      params(NUM_RUNS.constructor),
    );
    assert.ok(outcomes.built > 0 && outcomes.refused > 0, `both outcomes happen: ${JSON.stringify(outcomes)}`);
  });

  test('fromEnv with any environment: builds, or throws a ConfigurationError naming what is missing', async () => {
    const variable = fc.oneof(fc.constant(undefined), fc.constant(''), fc.string({ maxLength: 12 }));
    const env = fc.record(
      {
        GATEWAY_CALLBACK_URL: fc.oneof(variable, fc.constant(url())),
        GATEWAY_CONNECTIONS_TABLE: fc.oneof(variable, fc.constant(TEST_TABLES.connections)),
        GATEWAY_SESSIONS_TABLE: fc.oneof(variable, fc.constant(TEST_TABLES.sessions)),
        GATEWAY_MEMBERSHIPS_TABLE: fc.oneof(variable, fc.constant(TEST_TABLES.memberships)),
        GATEWAY_UIDS_TABLE: fc.oneof(variable, fc.constant(TEST_TABLES.uids)),
        GATEWAY_GROUPS_TABLE: fc.oneof(variable, fc.constant(TEST_TABLES.groups)),
        AWS_REGION: fc.oneof(variable, fc.constant('us-east-1')),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.property(env, (e) => {
        try {
          Gateway.fromEnv({}, e as Record<string, string | undefined>).destroy();
        } catch (error) {
          assert.ok(error instanceof ConfigurationError, `fromEnv(${safeLabel(e)}) threw ${describeError(error)}`);
          assert.equal(error.code, 'CONFIGURATION');
        }
      }),
      params(300),
    );
  });

  test('a revoked Proxy anywhere (id, name, list, options, session, message) is a ValidationError before any call', async () => {
    const p = revokedProxy;
    await check('getSession(revoked)', () => gw.getSession(p() as never), INVALID);
    await check('bindUid(M, revoked)', () => gw.bindUid(M.id, p() as never), INVALID);
    await check('sendToUid(revoked)', () => gw.sendToUid(p() as never, 'x'), INVALID);
    await check('sendToGroup(g, x, revoked)', () => gw.sendToGroup('fixture-group', 'x', p() as never), INVALID);
    await check('sendToAll(x, { exclude: revoked })', () => gw.sendToAll('x', { exclude: p() as never }), INVALID);
    await check('sendToAll(x, { clientIds: revoked })', () => gw.sendToAll('x', { clientIds: p() as never }), INVALID);
    await check('setSession(S, revoked)', () => gw.setSession(S.id, p() as never), INVALID);
    await check('setSession(S, { nested: revoked })', () => gw.setSession(S.id, { nested: p() }), INVALID);
    await check('sendToClient(A, revoked)', () => gw.sendToClient(A.id, p()), INVALID);
    await check('sendToClient(A, [revoked])', () => gw.sendToClient(A.id, [p()]), INVALID);
    await check('registerConnection(revoked)', () => gw.registerConnection(p() as never), INVALID);
  });

  test('destroy can be called on any Gateway, twice; connectionPath encodes a valid id as the AWS SDK does', () => {
    const spare = h.newGateway();
    assert.equal(spare.connectionPath('AbC-_0123456789=' as string), '/local/@connections/AbC-_0123456789%3D');
    spare.destroy();
    spare.destroy();
  });
});

// ---------------------------------------------------------------------------------------------
// Cases these properties found (each was a gap in sdk/Gateway.ts or sdk/Fanout.ts), kept as examples.
// ---------------------------------------------------------------------------------------------

describe('cases found by these properties', () => {
  test('deliverChunk refuses a chunk whose recipients array has holes, or whose fields cannot be read, before any call', async () => {
    const chunk = (recipients: unknown) => ({
      type: 'gateway.fanout.chunk',
      version: 1,
      fanoutId: 'f',
      count: 1,
      index: 0,
      operation: 'sendToAll',
      message: { utf8: 'x' },
      recipients,
    });
    await check('deliverChunk(recipients: [, A])', () => gw.deliverChunk(chunk([, A.id])), INVALID);
    const unreadable = Object.defineProperty(chunk([A.id]), 'recipients', {
      get() {
        throw new TypeError('boom');
      },
    });
    await check('deliverChunk(recipients: a throwing getter)', () => gw.deliverChunk(unreadable), INVALID);
  });

  test('isUidsOnline / batchGetClientIdByUid / batchGetClientIdCountByGroup refuse a sparse array before any call', async () => {
    const sparse = [, 'a'] as unknown as string[];
    await check('isUidsOnline([, "a"])', () => gw.isUidsOnline(sparse), INVALID);
    await check('batchGetClientIdByUid([, "a"])', () => gw.batchGetClientIdByUid(sparse), INVALID);
    await check('batchGetClientIdCountByGroup([, "a"])', () => gw.batchGetClientIdCountByGroup(sparse), INVALID);
    await check('isUidsOnline(a revoked Proxy)', () => gw.isUidsOnline(revokedProxy() as never), INVALID);
  });

  test('the batch queries answer a uid or group named "__proto__" as an own key, like any other', async () => {
    // (The method sweep may have bound M to "__proto__" or added it to that group: compare with the single queries.)
    const online = await gw.isUidsOnline(['__proto__', 'fixture-uid']);
    assert.deepEqual(Object.keys(online).sort(), ['__proto__', 'fixture-uid']);
    assert.equal(Object.getPrototypeOf(online), Object.prototype);
    assert.equal(online['__proto__'], await gw.isUidOnline('__proto__'));
    assert.equal(online['fixture-uid'], true);
    const ids = await gw.batchGetClientIdByUid(['__proto__']);
    assert.ok(Object.hasOwn(ids, '__proto__'));
    assert.equal(Object.getPrototypeOf(ids), Object.prototype);
    assert.deepEqual([...ids['__proto__']!].sort(), (await gw.getClientIdByUid('__proto__')).sort());
    const counts = await gw.batchGetClientIdCountByGroup(['__proto__', 'fixture-group']);
    assert.deepEqual(Object.keys(counts).sort(), ['__proto__', 'fixture-group']);
    assert.equal(counts['__proto__'], await gw.getClientCountByGroup('__proto__'));
    assert.equal(counts['fixture-group'], 2);
  });

  test('connectionPath refuses what is not a connection id', () => {
    for (const bad of [undefined, 5, '', 'abc', {}, 10n, Symbol('s'), revokedProxy()]) assert.throws(() => gw.connectionPath(bad as string), ValidationError);
  });

  test('fromEnv(null) and fromEnv({}, null) throw a ConfigurationError', () => {
    assert.throws(() => Gateway.fromEnv(null as never, {}), ConfigurationError);
    assert.throws(() => Gateway.fromEnv({}, null as never), ConfigurationError);
    assert.throws(() => Gateway.fromEnv(revokedProxy() as never, {}), ConfigurationError);
    assert.throws(() => Gateway.fromEnv({}, revokedProxy() as never), ConfigurationError);
    assert.throws(() => Gateway.fromEnv({}, { GATEWAY_CALLBACK_URL: 5 } as never), ConfigurationError);
    assert.throws(() => Gateway.fromEnv({}, { GATEWAY_FANOUT_FUNCTION: 5 } as never), ConfigurationError);
  });

  test('the constructor throws a ConfigurationError for a BigInt, a symbol, a null-prototype object or a Proxy in an option', () => {
    const base = { callbackUrl: h.endpoints.callbackUrl, tables: TEST_TABLES, region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
    for (const [label, bad] of [
      ['tables.connections: 10n', { tables: { ...TEST_TABLES, connections: 10n } }],
      ['callbackUrl: 10n', { callbackUrl: 10n }],
      ['concurrency: Symbol()', { concurrency: Symbol('c') }],
      ['concurrency: Object.create(null)', { concurrency: Object.create(null) }],
      ['tables.uids: a hostile Proxy', { tables: { ...TEST_TABLES, uids: hostileProxy({}) } }],
      ['tables: a revoked Proxy', { tables: revokedProxy() }],
      ['region: 10n', { region: 10n }],
    ] as const) {
      assert.throws(() => new Gateway({ ...base, ...bad } as never), ConfigurationError, label);
    }
    const throwingGetter = Object.defineProperty({ ...base }, 'maxRetries', {
      enumerable: true,
      get: () => {
        throw new TypeError('boom');
      },
    });
    assert.throws(
      () => new Gateway(throwingGetter as never),
      (e: unknown) => e instanceof ConfigurationError && /maxRetries could not be read: boom/.test(e.message),
      'a throwing getter',
    );
    assert.throws(() => new Gateway(revokedProxy() as never), ConfigurationError, 'options: a revoked Proxy');
  });

  test('options that are functions of the wrong type (random, logger, onConsumedCapacity) are refused at construction', () => {
    const base = { callbackUrl: h.endpoints.callbackUrl, tables: TEST_TABLES, region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
    for (const bad of [
      { random: 5 },
      { onConsumedCapacity: 'x' },
      { onSendCompleted: {} },
      { logger: 1 },
      { logger: {} },
      { dynamoDb: {} },
      { credentials: 'key' },
      { credentials: { accessKeyId: 'a' } },
      { fanout: { functionName: 'worker', lambda: {} } },
    ]) {
      assert.throws(() => new Gateway({ ...base, ...bad } as never), ConfigurationError, JSON.stringify(bad));
    }
  });
});
