/** Sessions: replace vs deep merge, no lost updates under concurrency, and clients that are gone. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GatewayHarness, LOCAL_CREDENTIALS } from '../../testkit/gatewayHarness.ts';
import { connectionItem, sessionItem } from '../helpers/dynamo.ts';
import { ConflictError, ConnectionGoneError, type Gateway } from '../../sdk/index.ts';

describe('sessions', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  let gw: Gateway;
  before(async () => {
    h = await GatewayHarness.start();
    gw = h.gateway;
  });
  after(() => h.stop());

  test('a new connection has an empty session', async () => {
    const a = await h.connect();
    assert.deepEqual(await gw.getSession(a.id), {});
  });

  test('setSession replaces the whole session', async () => {
    const a = await h.connect();
    await gw.setSession(a.id, { a: 1, nested: { x: 1, y: 2 } });
    await gw.setSession(a.id, { b: 2, nested: { z: 3 } });
    assert.deepEqual(await gw.getSession(a.id), { b: 2, nested: { z: 3 } });
  });

  test('updateSession deep-merges: nested objects merge, arrays, scalars and null replace', async () => {
    const a = await h.connect();
    await gw.setSession(a.id, { name: 'x', tags: [1, 2, 3], prefs: { theme: 'dark', lang: 'en', deep: { a: 1 } }, keep: true, gone: 1 });
    const merged = await gw.updateSession(a.id, { tags: [9], prefs: { lang: 'fr', deep: { b: 2 } }, gone: null, added: { k: 'v' }, skipped: undefined });
    const expected = { name: 'x', tags: [9], prefs: { theme: 'dark', lang: 'fr', deep: { a: 1, b: 2 } }, keep: true, gone: null, added: { k: 'v' } };
    assert.deepEqual(merged, expected);
    assert.deepEqual(await gw.getSession(a.id), expected);
    // An object replaces a scalar and a scalar replaces an object.
    assert.deepEqual(await gw.updateSession(a.id, { name: { first: 'x' }, prefs: 'none' }), { ...expected, name: { first: 'x' }, prefs: 'none' });
  });

  test('every value kind round-trips through DynamoDB unchanged', async () => {
    const a = await h.connect();
    const session = {
      s: 'text ✓ 𝄞',
      e: '',
      i: -42,
      f: 0.1,
      big: Number.MAX_SAFE_INTEGER,
      tiny: 1e-100,
      t: true,
      n: null,
      arr: [1, 'two', [3], { four: 4 }],
      empty: {},
      emptyList: [],
    };
    await gw.setSession(a.id, session);
    assert.deepEqual(await gw.getSession(a.id), session);
  });

  test('concurrent updateSession calls from two SDK instances lose no update', async () => {
    const a = await h.connect();
    const other = h.newGateway();
    const writers = Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? gw : other).updateSession(a.id, { counters: { [`k${i}`]: i }, [`top${i}`]: true }));
    const results = await Promise.all(writers);
    const session = (await gw.getSession(a.id))!;
    assert.deepEqual(Object.keys(session.counters as object).sort(), Array.from({ length: 24 }, (_, i) => `k${i}`).sort());
    for (let i = 0; i < 24; i++) assert.equal(session[`top${i}`], true);
    // Each call returned the session as it wrote it; the last writer's result is the stored session.
    assert.ok(results.some((r) => Object.keys(r.counters as object).length === 24));
    assert.equal((await sessionItem(h.doc, a.id))?.version, 24);
  });

  test('an updateSession that loses the race re-reads and keeps the other write; with one attempt it is a ConflictError', async () => {
    const a = await h.connect();
    // A document client that lets another writer in between updateSession's read and its write.
    let interleave: (() => Promise<void>) | undefined;
    const client = new DynamoDBClient({ endpoint: h.endpoints.dynamoEndpoint, region: h.endpoints.region, credentials: LOCAL_CREDENTIALS });
    const doc = DynamoDBDocumentClient.from(client);
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        if (/^Update(Item)?Command$/.test(context.commandName ?? '') && interleave) {
          const run = interleave;
          interleave = undefined;
          await run();
        }
        return next(args);
      },
      { step: 'initialize', name: 'interleaveWriter' },
    );
    const racing = h.newGateway({ dynamoDb: doc });
    interleave = () => gw.updateSession(a.id, { other: 'writer' }).then(() => undefined);
    assert.deepEqual(await racing.updateSession(a.id, { mine: 1 }), { other: 'writer', mine: 1 });
    assert.deepEqual(await gw.getSession(a.id), { other: 'writer', mine: 1 });

    const impatient = h.newGateway({ dynamoDb: doc, maxSessionAttempts: 1 });
    interleave = () => gw.setSession(a.id, { replaced: true });
    await assert.rejects(impatient.updateSession(a.id, { lost: 1 }), (e: unknown) => e instanceof ConflictError && e.code === 'CONFLICT');
    assert.deepEqual(await gw.getSession(a.id), { replaced: true });
    doc.destroy();
  });

  test('getSession of a client that is not connected is undefined; setSession and updateSession reject with ConnectionGoneError', async () => {
    const a = await h.connect();
    await a.close();
    await h.whenDisconnected(a.id);
    assert.equal(await gw.getSession(a.id), undefined);
    await assert.rejects(gw.setSession(a.id, { x: 1 }), ConnectionGoneError);
    await assert.rejects(gw.updateSession(a.id, { x: 1 }), ConnectionGoneError);
    assert.equal(await connectionItem(h.doc, a.id), undefined, 'no item was created');
    assert.equal(await sessionItem(h.doc, a.id), undefined, 'no session item was created');
  });

  test('the session is still readable in $disconnect, through what unregisterConnection returns', async () => {
    const a = await h.connect();
    await gw.updateSession(a.id, { uid: 'kept-for-onClose' });
    await a.close();
    assert.deepEqual((await h.whenDisconnected(a.id))?.session, { uid: 'kept-for-onClose' });
  });
});
