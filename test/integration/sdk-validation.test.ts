/**
 * Invalid input of every kind: each call rejects (never throws synchronously) with the typed error,
 * before any network call (no HTTP request leaves the process, nothing changes in DynamoDB or at
 * the gateway).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { countHttpRequests, GatewayHarness, type TestClient } from '../../testkit/gatewayHarness.ts';
import { connectionItem, sessionItem } from '../helpers/dynamo.ts';
import { PayloadTooLargeError, ValidationError, type Gateway } from '../../sdk/index.ts';

const BAD_CLIENT_IDS: unknown[] = [
  '',
  'abc',
  'Ab-_cD3fGh1Jk-2',
  'Ab-_cD3fGh1Jk-2X',
  'Ab+_cD3fGh1Jk-2=',
  'Ab/_cD3fGh1Jk-2=',
  'Ab-_cD3fGh1Jk-2==',
  ' Ab-_cD3fGh1Jk2=',
  123,
  null,
  undefined,
  {},
  ['Ab-_cD3fGh1Jk-2='],
];
const BAD_NAMES: unknown[] = [
  '',
  'x'.repeat(257),
  'tab\there',
  'nul\u0000',
  'del\u007f',
  'c1\u0085',
  'lone\ud800',
  'lone\udc00x',
  42,
  null,
  undefined,
  {},
  true,
];
const BAD_NAME_LISTS: unknown[] = [[], [''], ['ok', ''], ['ok', 42]];

class Cyclic {
  self?: unknown;
}
const cycle: Record<string, unknown> = { a: 1 };
cycle.again = cycle;
const deep = (levels: number) => {
  let v: Record<string, unknown> = {};
  for (let i = 0; i < levels; i++) v = { v };
  return v;
};
const BAD_SESSIONS: Array<[string, unknown]> = [
  ['null', null],
  ['undefined', undefined],
  ['an array', [1, 2]],
  ['a string', '{"a":1}'],
  ['a Date', new Date()],
  ['a Map', new Map([['a', 1]])],
  ['a class instance', new Cyclic()],
  ['a function value', { f: () => 1 }],
  ['a symbol value', { s: Symbol('x') }],
  ['a BigInt value', { b: 10n }],
  ['NaN', { n: Number.NaN }],
  ['Infinity', { n: Number.POSITIVE_INFINITY }],
  ['an unsafe integer', { n: 2 ** 60 }],
  ['a number below DynamoDB range', { n: 1e-200 }],
  ['a cycle', cycle],
  ['undefined in an array', { list: [1, undefined] }],
  ['an empty key', { '': 1 }],
  ['a __proto__ key', JSON.parse('{"__proto__": {"polluted": true}}')],
  ['a nested Date', { when: { d: new Date() } }],
  ['31 levels of nesting', deep(31)],
  ['more than 100 KiB', { blob: 'x'.repeat(100 * 1024) }],
];
const cyclicMessage: Record<string, unknown> = {};
cyclicMessage.self = cyclicMessage;
type ErrorClass = new (...args: never[]) => ValidationError;
const BAD_MESSAGES: Array<[string, unknown, ErrorClass]> = [
  ['undefined', undefined, ValidationError],
  ['a function', () => 'x', ValidationError],
  ['a symbol', Symbol('m'), ValidationError],
  ['a BigInt', 5n, ValidationError],
  ['a cyclic object', cyclicMessage, ValidationError],
  ['131073 bytes of string', 'x'.repeat(131073), PayloadTooLargeError],
  ['a string of 65537 two-byte characters', 'é'.repeat(65537), PayloadTooLargeError],
  ['131073 bytes of Buffer', Buffer.alloc(131073), PayloadTooLargeError],
  ['an object over the limit once serialised', { data: 'y'.repeat(131072) }, PayloadTooLargeError],
];

describe('invalid input', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  let gw: Gateway;
  let client: TestClient;
  before(async () => {
    h = await GatewayHarness.start();
    gw = h.gateway;
    client = await h.connect();
    await gw.bindUid(client.id, 'valid-uid');
    await gw.joinGroup(client.id, 'valid-group');
  });
  after(() => h.stop());

  /** Calls `run` and checks: no synchronous throw, a rejection of the given class, no HTTP request. */
  async function refuses(label: string, run: () => Promise<unknown>, errorClass: ErrorClass = ValidationError): Promise<void> {
    let promise: Promise<unknown> | undefined;
    const { requests, error } = await countHttpRequests(async () => {
      assert.doesNotThrow(() => {
        promise = run();
      }, `${label}: threw synchronously`);
      await promise;
    });
    assert.ok(promise instanceof Promise, `${label}: did not return a promise`);
    assert.ok(
      error instanceof errorClass,
      `${label}: expected ${errorClass.name}, got ${(error as Error)?.name ?? 'no error'}: ${(error as Error)?.message ?? ''}`,
    );
    assert.equal((error as ValidationError).code, errorClass === PayloadTooLargeError ? 'PAYLOAD_TOO_LARGE' : 'VALIDATION', label);
    assert.equal(requests, 0, `${label}: made ${requests} HTTP request(s)`);
  }

  test('ids AWS supplies get the loose check: registerConnection / unregisterConnection take any 1-128 URL-safe characters, every other method still the strict one', async () => {
    // A format AWS might move to (longer, padded), and other URL-safe shapes.
    const future = ['Zm9vYmFyYmF6cXV4LTEyMw==', 'abc.def~1', 'A'.repeat(128)];
    for (const id of future) {
      await gw.registerConnection({ connectionId: id, connectedAt: Date.now() });
      assert.equal((await gw.unregisterConnection(id))?.connectionId, id);
      await refuses(`sendToClient(${id})`, () => gw.sendToClient(id, 'x'));
      await refuses(`bindUid(${id})`, () => gw.bindUid(id, 'u'));
    }
    for (const bad of ['', 'a/b', 'a b', 'A'.repeat(129), 'ü', 42, null, undefined, ['x']]) {
      const id = bad as string;
      await refuses(`registerConnection(${String(JSON.stringify(bad))})`, () => gw.registerConnection({ connectionId: id, connectedAt: Date.now() }));
      await refuses(`unregisterConnection(${String(JSON.stringify(bad))})`, () => gw.unregisterConnection(id));
    }
  });

  test('malformed client ids are refused by every method that takes one from your code', async () => {
    const posts = h.local.stats().posts;
    for (const bad of BAD_CLIENT_IDS) {
      const id = bad as string;
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['sendToClient', () => gw.sendToClient(id, 'x')],
        ['isOnline', () => gw.isOnline(id)],
        ['closeClient', () => gw.closeClient(id, 'x')],
        ['destroyClient', () => gw.destroyClient(id)],
        ['getSession', () => gw.getSession(id)],
        ['setSession', () => gw.setSession(id, {})],
        ['updateSession', () => gw.updateSession(id, {})],
        ['getUidByClientId', () => gw.getUidByClientId(id)],
        ['bindUid', () => gw.bindUid(id, 'u')],
        ['unbindUid', () => gw.unbindUid(id)],
        ['joinGroup', () => gw.joinGroup(id, 'g')],
        ['leaveGroup', () => gw.leaveGroup(id, 'g')],
        ['getGroupsByClientId', () => gw.getGroupsByClientId(id)],
        ['getConnection', () => gw.getConnection(id)],
        ['sendToGroup exclude list', () => gw.sendToGroup('valid-group', 'x', { exclude: [client.id, id] })],
        ['sendToUid exclude', () => gw.sendToUid('valid-uid', 'x', { exclude: [id] })],
        ['sendToAll clientIds', () => gw.sendToAll('x', { clientIds: [client.id, id] })],
      ];
      // `exclude` may be undefined (no exclusion) or an array of ids; every other bad value is refused.
      if (bad !== undefined && !Array.isArray(bad)) {
        calls.push(
          ['sendToGroup exclude', () => gw.sendToGroup('valid-group', 'x', { exclude: id })],
          ['sendToAll exclude', () => gw.sendToAll('x', { exclude: id })],
        );
      }
      for (const [name, run] of calls) await refuses(`${name}(${String(JSON.stringify(bad))})`, run);
    }
    assert.equal(h.local.stats().posts, posts);
  });

  test('empty, overlong, control-character, ill-formed and non-string uids and groups are refused', async () => {
    for (const bad of BAD_NAMES) {
      const name = bad as string;
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['bindUid', () => gw.bindUid(client.id, name)],
        ['unbindUid', () => gw.unbindUid(client.id, name === undefined ? 'x'.repeat(257) : name)],
        ['sendToUid', () => gw.sendToUid(name, 'x')],
        ['isUidOnline', () => gw.isUidOnline(name)],
        ['getClientIdByUid', () => gw.getClientIdByUid(name)],
        ['closeUid', () => gw.closeUid(name)],
        ['isUidsOnline', () => gw.isUidsOnline([name])],
        ['batchGetClientIdByUid', () => gw.batchGetClientIdByUid(['ok', name])],
        ['joinGroup', () => gw.joinGroup(client.id, name)],
        ['leaveGroup', () => gw.leaveGroup(client.id, name)],
        ['ungroup', () => gw.ungroup(name)],
        ['sendToGroup', () => gw.sendToGroup(name, 'x')],
        ['getClientIdListByGroup', () => gw.getClientIdListByGroup(name)],
        ['getClientCountByGroup', () => gw.getClientCountByGroup(name)],
        ['getClientIdCountByGroup', () => gw.getClientIdCountByGroup(name)],
        ['getClientSessionsByGroup', () => gw.getClientSessionsByGroup(name)],
        ['getUidListByGroup', () => gw.getUidListByGroup(name)],
        ['getUidCountByGroup', () => gw.getUidCountByGroup(name)],
        ['batchGetClientIdCountByGroup', () => gw.batchGetClientIdCountByGroup([name])],
      ];
      for (const [method, run] of calls) await refuses(`${method}(${String(JSON.stringify(bad))})`, run);
    }
    for (const list of BAD_NAME_LISTS) {
      const names = list as string[];
      await refuses(`sendToUid(${JSON.stringify(list)})`, () => gw.sendToUid(names, 'x'));
      await refuses(`sendToGroup(${JSON.stringify(list)})`, () => gw.sendToGroup(names, 'x'));
      await refuses(`getClientIdListByGroup(${JSON.stringify(list)})`, () => gw.getClientIdListByGroup(names));
      await refuses(`getUidListByGroup(${JSON.stringify(list)})`, () => gw.getUidListByGroup(names));
    }
    await refuses('isUidsOnline(not an array)', () => gw.isUidsOnline('u' as never));
    await refuses('batchGetClientIdCountByGroup(not an array)', () => gw.batchGetClientIdCountByGroup('g' as never));
    // The limits themselves are accepted.
    await gw.joinGroup(client.id, 'g'.repeat(256));
    await gw.bindUid(client.id, '😀'.repeat(128));
    assert.equal(await gw.getUidByClientId(client.id), '😀'.repeat(128));
  });

  test('sessions that are not plain JSON objects DynamoDB can hold are refused by setSession and updateSession', async () => {
    await gw.setSession(client.id, { before: true });
    const before = [await connectionItem(h.doc, client.id), await sessionItem(h.doc, client.id)];
    for (const [label, bad] of BAD_SESSIONS) {
      await refuses(`setSession(${label})`, () => gw.setSession(client.id, bad as never));
      await refuses(`updateSession(${label})`, () => gw.updateSession(client.id, bad as never));
    }
    assert.deepEqual([await connectionItem(h.doc, client.id), await sessionItem(h.doc, client.id)], before);
    // 30 levels is accepted.
    await gw.setSession(client.id, deep(29));
  });

  test('unserialisable and oversized messages are refused before any call by every send method', async () => {
    const posts = h.local.stats().posts;
    for (const [label, bad, errorClass] of BAD_MESSAGES) {
      await refuses(`sendToClient(${label})`, () => gw.sendToClient(client.id, bad), errorClass);
      await refuses(`sendToUid(${label})`, () => gw.sendToUid('valid-uid', bad), errorClass);
      await refuses(`sendToGroup(${label})`, () => gw.sendToGroup('valid-group', bad), errorClass);
      await refuses(`sendToAll(${label})`, () => gw.sendToAll(bad), errorClass);
      if (bad !== undefined) {
        await refuses(`closeClient(${label})`, () => gw.closeClient(client.id, bad), errorClass);
        await refuses(`closeUid(${label})`, () => gw.closeUid('valid-uid', bad), errorClass);
      }
    }
    assert.equal(h.local.stats().posts, posts);
    assert.deepEqual(client.unread(), []);
    assert.equal(h.isOpen(client.id), true);
  });

  test('malformed option bags and connection records are refused', async () => {
    await refuses('sendToGroup(options: string)', () => gw.sendToGroup('valid-group', 'x', 'nope' as never));
    await refuses('sendToAll(clientIds: string)', () => gw.sendToAll('x', { clientIds: client.id as never }));
    await refuses('registerConnection(no record)', () => gw.registerConnection(undefined as never));
    await refuses('registerConnection(connectedAt: string)', () => gw.registerConnection({ connectionId: client.id, connectedAt: '2024' as never }));
    await refuses('registerConnection(connectedAt: NaN)', () => gw.registerConnection({ connectionId: client.id, connectedAt: Number.NaN }));
    await refuses('registerConnection(connectedAt: -1)', () => gw.registerConnection({ connectionId: client.id, connectedAt: -1 }));
    await refuses('registerConnection(sourceIp: 1)', () => gw.registerConnection({ connectionId: client.id, connectedAt: 1, sourceIp: 1 as never }));
  });
});
