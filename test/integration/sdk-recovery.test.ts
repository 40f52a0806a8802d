/**
 * Connection-state recovery on the server side (docs/guides/recovery.md), with real `ws` clients of
 * the local gateway: the envelope only for `?gw=1` connections, one push id per send (and per
 * fan-out chunk, also when the chunk runs twice), a lost connection held with its uid and groups,
 * pushes buffered and replayed in order to the connection that resumes it, senders redirected to
 * it, and every refusal (another connection's token, a forged one, a window that is over, a
 * deliberate close) carrying nothing over.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PutCommand, UpdateCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GatewayHarness, LOCAL_CREDENTIALS, TEST_TABLES, type TestClient } from '../../testkit/gatewayHarness.ts';
import { connectionItem } from '../helpers/dynamo.ts';
import { mintResumeToken, verifyResumeToken } from '../../sdk/resumeToken.ts';
import { mintBindToken } from '../../sdk/bindToken.ts';
import { buildChunks, parseChunk } from '../../sdk/Fanout.ts';
import { envelope, isPushId, newPushId } from '../../sdk/pushId.ts';
import { resumeRequestOf } from '../../lambdas/messageHandler.ts';
import { ConnectionGoneError, type Gateway } from '../../sdk/index.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:resume-key-AbCdEf';

/** A frame as the browser client reads it. */
function frame(text: string): { kind: 'live' | 'replay' | 'control' | 'raw'; id?: string; body: string } {
  if (text[0] !== '\x1e' && text[0] !== '\x1f') return { kind: 'raw', body: text };
  const cut = text.indexOf('\x1e', 1);
  const id = text.slice(1, cut);
  const body = text.slice(cut + 1);
  if (!id) return { kind: 'control', body };
  return { kind: text[0] === '\x1f' ? 'replay' : 'live', id, body };
}

describe('connection-state recovery', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  let gw: Gateway;
  let key: Buffer;

  let secrets: SecretsManagerClient;

  before(async () => {
    h = await GatewayHarness.start({ recovery: true, secrets: [{ arn: SECRET_ARN, name: 'resume-key', generateLength: 64 }] });
    secrets = new SecretsManagerClient({ endpoint: h.endpoints.httpUrl, region: h.endpoints.region, credentials: LOCAL_CREDENTIALS });
    // The routes use h.gateway: it reads the key through the local Secrets Manager.
    h.gateway = gw = h.newGateway({ bindTokenSecret: SECRET_ARN, requireBindToken: false, secretsManager: secrets });
    key = Buffer.from(h.local.secrets.values()[SECRET_ARN]!, 'utf8');
  });
  after(async () => {
    await h.stop();
    secrets.destroy();
  });

  const tokenFor = (id: string, validForMs = 60_000) => mintResumeToken(key, id, Date.now() + validForMs);
  const pendingOf = async (id: string) =>
    (
      (
        await h.doc.send(
          new QueryCommand({
            TableName: TEST_TABLES.memberships,
            KeyConditionExpression: 'connectionId = :p',
            ExpressionAttributeValues: { ':p': `${id}#pending` },
            ConsistentRead: true,
          }),
        )
      ).Items ?? []
    ).map((item) => item.group as string);
  /** Drops the socket without a close frame (the `$disconnect` says 1006) and waits for `$disconnect`. */
  const drop = async (client: TestClient) => {
    assert.equal(h.local.dropConnection(client.id), true);
    await h.whenDisconnected(client.id);
  };
  const resume = async (client: TestClient, from: string, token: string) => {
    client.socket.send(JSON.stringify({ action: 'resume', from, token }));
    for (;;) {
      const f = frame(await client.next());
      if (f.kind === 'control')
        return { outcome: JSON.parse(f.body) as { type: string; replayed?: number; reason?: string }, frames: [] as ReturnType<typeof frame>[] };
      if (f.kind !== 'replay') throw new Error(`unexpected frame before the outcome: ${JSON.stringify(f)}`);
      // Collected by the caller through client.messages.
    }
  };

  test('the envelope goes only to ?gw=1 connections, with one push id per send, the same for every recipient; the message is byte for byte what was sent', async () => {
    const raw = await h.connect();
    const a = await h.connect('&gw=1');
    const b = await h.connect('&gw=1');
    for (const c of [raw, a, b]) await gw.joinGroup(c.id, 'env-room');
    await gw.bindUid(a.id, 'env-user');
    await gw.sendToGroup('env-room', { n: 1 });
    assert.equal(await raw.next(), '{"n":1}');
    const fa = frame(await a.next());
    const fb = frame(await b.next());
    assert.equal(fa.kind, 'live');
    assert.ok(isPushId(fa.id), fa.id);
    assert.equal(fa.id, fb.id);
    assert.equal(fa.body, '{"n":1}');
    await gw.sendToUid('env-user', 'plain text \u2603');
    const second = frame(await a.next());
    assert.equal(second.body, 'plain text \u2603');
    assert.ok(second.id! > fa.id!, 'ids of one process sort in the order of the sends');
    // Binary goes raw, without an id.
    await gw.sendToUid('env-user', Buffer.from([0xff, 0x00]));
    assert.equal(await a.next(), `binary:${Buffer.from([0xff, 0x00]).toString('base64')}`);
    // sendToAll reads the flag from its scan.
    await gw.sendToAll('to all');
    assert.equal(await raw.next(), 'to all');
    assert.equal(frame(await a.next()).body, 'to all');
  });

  test('a fan-out chunk carries the push id and which recipients take the envelope; the worker posts the same id every time the chunk runs', async () => {
    const raw = await h.connect();
    const a = await h.connect('&gw=1');
    const pushId = newPushId();
    const recipients = new Map([
      [raw.id, [{ role: 'groups' as const, key: 'chunked', connectionId: raw.id }]],
      [a.id, [{ role: 'groups' as const, key: 'chunked', connectionId: a.id, env: true }]],
    ]);
    const [chunk] = buildChunks('fan-1', 'sendToGroup', Buffer.from('chunked push'), recipients, 1000, undefined, { pushId, enveloped: (id) => id === a.id });
    assert.equal(chunk!.pushId, pushId);
    assert.equal(chunk!.enveloped, '01');
    const event = JSON.parse(JSON.stringify(chunk));
    await gw.deliverChunk(event);
    await gw.deliverChunk(event); // Lambda ran it twice (a timeout, an async retry)
    assert.equal(await raw.next(), 'chunked push');
    assert.equal(await raw.next(), 'chunked push');
    const first = frame(await a.next());
    const again = frame(await a.next());
    assert.equal(first.id, pushId);
    assert.equal(again.id, pushId, 'the browser client drops the second');
    assert.throws(() => parseChunk({ ...event, enveloped: '1' }), /one per recipient/);
    assert.throws(() => parseChunk({ ...event, pushId: 'not an id' }), /push id/);
  });

  test('a lost connection is held with its uid, groups and session; pushes wait in order; the resume takes them over, replays them in order, and senders that meet the old id reach the new one', async () => {
    const old = await h.connect('&gw=1');
    await gw.bindUid(old.id, 'resumer');
    await gw.joinGroup(old.id, 'resume-room');
    await gw.setSession(old.id, { name: 'Ann' });
    await drop(old);
    const held = await connectionItem(h.doc, old.id);
    assert.ok(held && typeof held.heldUntil === 'number' && held.heldUntil > Date.now(), JSON.stringify(held));
    assert.deepEqual(await gw.getClientIdByUid('resumer'), [old.id], "the held connection is still the uid's");
    assert.equal(await gw.getClientCountByGroup('resume-room'), 1);

    const sent = ['one', 'two', 'three', 'four'];
    await gw.sendToUid('resumer', sent[0]!);
    await gw.sendToGroup('resume-room', sent[1]!);
    await gw.sendToClient(old.id, sent[2]!);
    await gw.sendToAll(sent[3]!);
    assert.equal((await pendingOf(old.id)).length, 4);

    const fresh = await h.connect('&gw=1');
    const { outcome } = await resume(fresh, old.id, tokenFor(old.id));
    assert.deepEqual(outcome, { type: 'resumed', from: old.id, replayed: 4 });
    const replayed = fresh.messages.map(frame).filter((f) => f.kind === 'replay');
    assert.deepEqual(
      replayed.map((f) => f.body),
      sent,
      'in the order sent',
    );
    assert.deepEqual(await pendingOf(old.id), [], 'the buffer is emptied');
    assert.deepEqual(await gw.getClientIdByUid('resumer'), [fresh.id], 'listed once: the new connection');
    assert.deepEqual(await gw.getClientIdListByGroup('resume-room'), [fresh.id]);
    assert.deepEqual(await gw.getGroupsByClientId(fresh.id), ['resume-room']);
    assert.equal(await gw.getUidByClientId(fresh.id), 'resumer');
    assert.deepEqual(await gw.getSession(fresh.id), { name: 'Ann' });
    assert.equal((await gw.getAllClientIdList()).includes(old.id), false, 'a connection taken over is not listed');

    // A sender that still addresses the old id is redirected, with the envelope and a push id.
    const report = await gw.sendToClient(old.id, 'to the old id');
    assert.deepEqual(report.gone, [old.id]);
    const redirected = frame(await fresh.next());
    assert.equal(redirected.kind, 'live');
    assert.equal(redirected.body, 'to the old id');
    await gw.sendToUid('resumer', 'live again');
    assert.equal(frame(await fresh.next()).body, 'live again');
    // A late bind of the old id (the page's bind of it arriving after the take-over) is refused: it is gone.
    await assert.rejects(gw.bindUid(old.id, 'resumer'), ConnectionGoneError);
    await assert.rejects(gw.joinGroup(old.id, 'resume-room'), ConnectionGoneError);
    assert.deepEqual(await gw.getClientIdByUid('resumer'), [fresh.id]);
    // An index item that still leads to the old id is pruned by the first send that meets it.
    await h.doc.send(
      new PutCommand({ TableName: TEST_TABLES.uids, Item: { uid: 'resumer', connectionId: old.id, expiresAt: Math.floor(Date.now() / 1000) + 600 } }),
    );
    await gw.sendToUid('resumer', 'once more');
    assert.deepEqual(await gw.getClientIdByUid('resumer'), [fresh.id]);
    // A second resume of the same old connection is refused.
    const other = await h.connect('&gw=1');
    assert.equal((await resume(other, old.id, tokenFor(old.id))).outcome.type, 'resume_refused');
  });

  test("refused, nothing carried over: another connection's token, a forged or expired token, a window that is over, a connection closed on purpose", async () => {
    const victim = await h.connect('&gw=1');
    const attacker = await h.connect('&gw=1');
    await gw.bindUid(victim.id, 'victim');
    await gw.joinGroup(victim.id, 'victim-room');
    await drop(victim);
    await gw.sendToUid('victim', 'secret');
    const expired = mintResumeToken(key, victim.id, Date.now() - 1000, Date.now() - 60_000);
    const attempts = [tokenFor(attacker.id), `v2.9999999999.${'A'.repeat(43)}`, expired, 'forged'];
    for (const token of attempts) {
      const { outcome } = await resume(attacker, victim.id, token);
      assert.deepEqual(outcome, { type: 'resume_refused', from: victim.id, reason: 'proof' });
    }
    assert.deepEqual(await gw.getClientIdByUid('victim'), [victim.id]);
    assert.equal(await gw.getUidByClientId(attacker.id), undefined);
    assert.deepEqual(await gw.getGroupsByClientId(attacker.id), []);
    assert.equal(
      attacker.messages.map(frame).some((f) => f.body === 'secret'),
      false,
    );

    // The window is over: the held item says so.
    await h.doc.send(
      new UpdateCommand({
        TableName: TEST_TABLES.connections,
        Key: { connectionId: victim.id },
        UpdateExpression: 'SET heldUntil = :past',
        ExpressionAttributeValues: { ':past': Date.now() - 1 },
      }),
    );
    assert.deepEqual((await resume(attacker, victim.id, tokenFor(victim.id))).outcome, { type: 'resume_refused', from: victim.id, reason: 'not-resumable' });
    assert.equal(await gw.getUidByClientId(attacker.id), undefined);
    // A send that meets it now removes it, as a prune always did.
    await gw.sendToUid('victim', 'too late');
    assert.equal(await connectionItem(h.doc, victim.id), undefined);
    assert.deepEqual(await gw.getClientIdByUid('victim'), []);

    // closeClient: not held, not resumable.
    const closed = await h.connect('&gw=1');
    await gw.bindUid(closed.id, 'closed-user');
    assert.equal(await gw.closeClient(closed.id), true);
    await h.whenDisconnected(closed.id);
    assert.equal(await connectionItem(h.doc, closed.id), undefined);
    assert.deepEqual((await resume(attacker, closed.id, tokenFor(closed.id))).outcome.reason, 'not-resumable');
  });

  test("a close with 1000 (the client's close()) or with no status (1005) removes the connection; a raw connection lost without a close frame is removed as before", async () => {
    const polite = await h.connect('&gw=1');
    await gw.bindUid(polite.id, 'polite');
    await polite.close();
    await h.whenDisconnected(polite.id);
    assert.equal(await connectionItem(h.doc, polite.id), undefined);
    assert.deepEqual(await gw.getClientIdByUid('polite'), []);
    const raw = await h.connect();
    await gw.bindUid(raw.id, 'raw-user');
    await drop(raw);
    assert.equal(await connectionItem(h.doc, raw.id), undefined);
  });

  test('a send that meets the close before $disconnect holds the connection itself and buffers the push', async () => {
    const early = await h.connect('&gw=1');
    await gw.bindUid(early.id, 'early');
    // Make the connection's item look like nothing happened yet: the post answers 410 (socket closed), no $disconnect has run.
    const { connectedAt } = (await connectionItem(h.doc, early.id)) as { connectedAt: number };
    await drop(early);
    await h.doc.send(
      new UpdateCommand({
        TableName: TEST_TABLES.connections,
        Key: { connectionId: early.id },
        UpdateExpression: 'REMOVE heldUntil SET connectedAt = :at',
        ExpressionAttributeValues: { ':at': connectedAt - 60_000 },
      }),
    );
    await gw.sendToUid('early', 'met the close');
    const item = await connectionItem(h.doc, early.id);
    assert.ok(item && typeof item.heldUntil === 'number');
    assert.equal((await pendingOf(early.id)).length, 1);
  });

  test('resume tokens: bound to the id and the purpose, refused once expired; the resume request is recognised only in its own shape', () => {
    const token = mintResumeToken(key, 'abcDEF123=', Date.now() + 10_000);
    assert.match(token, /^v2\.\d+\.[A-Za-z0-9_-]{43}$/);
    // The purpose is signed: a bind token for the same id is no resume token.
    assert.equal(verifyResumeToken(key, 'abcDEF123=', mintBindToken(key, 'abcDEF123=')), false);
    assert.equal(verifyResumeToken(key, 'abcDEF123=', token), true);
    assert.equal(verifyResumeToken(key, 'abcDEF124=', token), false);
    assert.equal(verifyResumeToken(key, 'abcDEF123=', token, Date.now() + 20_000), false);
    assert.equal(verifyResumeToken(Buffer.from('another key of at least 32 bytes!!'), 'abcDEF123=', token), false);
    assert.deepEqual(resumeRequestOf('{"action":"resume","from":"x","token":"y"}'), { from: 'x', token: 'y' });
    assert.equal(resumeRequestOf('{"action":"resume","from":1}'), undefined);
    assert.equal(resumeRequestOf('{"action":"ping"}'), undefined);
    assert.equal(resumeRequestOf('not json {"action":"resume"'), undefined);
    // An envelope that would pass the post limit is not made: the message goes raw.
    assert.equal(envelope(newPushId(), Buffer.alloc(131072, 0x61)), undefined);
  });
});
