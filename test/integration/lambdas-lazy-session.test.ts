// The message handler reads the session only when onMessage can use it: up front (one awaited
// GetItem) when the module may touch ctx.session, else only when onMessage awaits ctx.getSession().
// A callback that touches neither costs no read (lambdas/messageSession.ts, lambdas/sessionUse.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createMessageHandler } from '../../lambdas/messageHandler.ts';
import { resolveEvents, type GatewayEvents } from '../../lambdas/events.ts';
import type { WebSocketMessageEvent } from '../../lambdas/webSocketEvent.ts';
import { formatRequestTime } from '../../local/events.ts';
import { ConfigurationError, Gateway, ServiceError, type ConsumedCapacityEvent } from '../../sdk/index.ts';
import { GatewayHarness, LOCAL_CREDENTIALS } from '../../testkit/gatewayHarness.ts';

function messageEvent(clientId: string, body: string): WebSocketMessageEvent {
  const now = Date.now();
  return {
    body,
    isBase64Encoded: false,
    requestContext: {
      routeKey: '$default',
      eventType: 'MESSAGE',
      extendedRequestId: 'r',
      requestTime: formatRequestTime(now),
      messageDirection: 'IN',
      connectionId: clientId,
      connectedAt: now,
      requestId: 'r',
      requestTimeEpoch: now,
      stage: 'test',
      domainName: '127.0.0.1',
      apiId: 'local',
      identity: { sourceIp: '127.0.0.1' },
      messageId: 'm',
    },
  };
}

describe('the message handler reads the session only for a callback that can use it', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  let gateway: Gateway;
  let client: string;
  const events: ConsumedCapacityEvent[] = [];
  const sessionReads = () => events.filter((e) => e.table === h.tables.sessions && e.command === 'GetItem');
  const sessionWrites = () => events.filter((e) => e.table === h.tables.sessions && e.command === 'UpdateItem');
  const logged: string[] = [];
  const handlerFor = (onMessage: NonNullable<GatewayEvents['onMessage']>, gw: Gateway = gateway, more: Partial<GatewayEvents> = {}) =>
    createMessageHandler({ events: { onMessage, ...more }, gateway: gw, log: (message) => void logged.push(message) });

  before(async () => {
    h = await GatewayHarness.start();
    gateway = h.newGateway({ onConsumedCapacity: (e) => void events.push(e) });
    client = (await h.connect()).id;
    await gateway.setSession(client, { count: 1, keep: 'me' });
  });
  after(() => h.stop());

  test('a callback that never touches the session costs no session read and no write', async () => {
    events.length = 0;
    let seen = '';
    await handlerFor((_id, message) => void (seen = message))(messageEvent(client, 'ping'));
    assert.equal(seen, 'ping');
    // One that takes the context but only sends through it: nothing read either.
    await handlerFor(async (_id, message, ctx) => {
      await ctx.sendToCurrentClient(`echo ${message} to ${ctx.clientId}`);
    })(messageEvent(client, 'ping'));
    assert.deepEqual(sessionReads(), []);
    assert.deepEqual(sessionWrites(), []);
  });

  test('a callback that uses ctx.session: the session is read once, before it; a change is saved as a merge', async () => {
    events.length = 0;
    const counts: unknown[] = [];
    await handlerFor((_id, _m, ctx) => {
      counts.push(ctx.session.count);
      ctx.session.count = Number(ctx.session.count) + 1;
      counts.push(ctx.session.count);
    })(messageEvent(client, 'x'));
    assert.deepEqual(counts, [1, 2]);
    assert.equal(sessionReads().filter((e) => e.operation === 'getSession').length, 1, 'one read');
    assert.equal(sessionWrites().length, 1);
    assert.deepEqual(await gateway.getSession(client), { count: 2, keep: 'me' });
  });

  test('reading it without changing it writes nothing', async () => {
    events.length = 0;
    await handlerFor((_id, _m, ctx) => void ctx.session.keep)(messageEvent(client, 'x'));
    assert.equal(sessionReads().length, 1);
    assert.equal(sessionWrites().length, 0);
  });

  test('replacing it: only what changed is written', async () => {
    await handlerFor((_id, _m, ctx) => {
      ctx.session = { count: 2, keep: 'me', added: true };
    })(messageEvent(client, 'x'));
    assert.deepEqual(await gateway.getSession(client), { count: 2, keep: 'me', added: true });
  });

  test('await ctx.getSession(): read on the first call only, once, and only on the branch that calls it', async () => {
    const handler = handlerFor(async (_id, message, ctx) => {
      if (message !== 'count') return;
      const session = await ctx.getSession();
      assert.equal(await ctx.getSession(), session, 'the same object');
      session.count = Number(session.count) + 1;
    });
    events.length = 0;
    await handler(messageEvent(client, 'other'));
    assert.deepEqual(sessionReads(), []);
    await handler(messageEvent(client, 'count'));
    assert.equal(sessionReads().filter((e) => e.operation === 'getSession').length, 1);
    assert.equal(sessionWrites().length, 1);
    assert.equal((await gateway.getSession(client))?.count, 3);
  });

  test("a declared messageSession wins: 'upfront' reads for any callback, 'on-demand' makes ctx.session an error", async () => {
    events.length = 0;
    await handlerFor(() => {}, gateway, { messageSession: 'upfront' })(messageEvent(client, 'x'));
    assert.equal(sessionReads().length, 1);
    events.length = 0;
    await assert.rejects(
      handlerFor((_id, _m, ctx) => void ctx.session.count, gateway, { messageSession: 'on-demand' })(messageEvent(client, 'x')),
      (error: unknown) => error instanceof ConfigurationError && /ctx\.getSession\(\)/.test(error.message),
    );
    await assert.rejects(
      handlerFor((_id, _m, ctx) => void (ctx.session = {}), gateway, { messageSession: 'on-demand' })(messageEvent(client, 'x')),
      ConfigurationError,
    );
    assert.deepEqual(sessionReads(), [], 'nothing read, nothing written');
    assert.deepEqual(sessionWrites(), []);
    // Declared in a module, beside the callbacks; anything else is refused when the module is resolved.
    const resolved = resolveEvents({ messageSession: 'on-demand', onMessage: (_id: string, _m: string, ctx: { session: unknown }) => ctx.session });
    assert.equal(resolved.messageSession, 'on-demand');
    assert.throws(() => resolveEvents({ messageSession: 'lazy', onMessage: () => {} }), ConfigurationError);
    // Once getSession() has read it, ctx.session is that object.
    await handlerFor(
      async (_id, _m, ctx) => {
        const session = await ctx.getSession();
        assert.equal(ctx.session, session);
      },
      gateway,
      { messageSession: 'on-demand' },
    )(messageEvent(client, 'x'));
  });

  test('a module whose onMessage hands ctx to a helper reads up front, so ctx.session works in the helper', async () => {
    const helper = (ctx: { session: Record<string, unknown> }) => void (ctx.session.viaHelper = true);
    const module = resolveEvents({
      default: {
        onMessage(_id: string, _m: string, ctx: { session: Record<string, unknown> }) {
          helper(ctx);
        },
      },
    });
    await createMessageHandler({ events: module, gateway })(messageEvent(client, 'x'));
    assert.equal((await gateway.getSession(client))?.viaHelper, true);
  });

  test('a client that is gone: the session is {}, and a change is logged, not saved', async () => {
    logged.length = 0;
    const gone = 'GoneGoneGone01A=';
    let session: unknown;
    await handlerFor((_id, _m, ctx) => {
      session = { ...ctx.session };
      ctx.session.x = 1;
    })(messageEvent(gone, 'x'));
    await handlerFor(async (_id, _m, ctx) => {
      (await ctx.getSession()).y = 1;
    })(messageEvent(gone, 'x'));
    assert.deepEqual(session, {});
    assert.deepEqual(logged, ['onMessage: the session was not saved; the client is gone', 'onMessage: the session was not saved; the client is gone']);
    assert.equal(await gateway.getSession(gone), undefined);
  });

  test('a read DynamoDB refuses is a typed error: before onMessage (which does not run), or from getSession()', async () => {
    const wrong = h.newGateway({ tables: { ...h.tables, sessions: 'no-such-sessions' } });
    let ran = false;
    await assert.rejects(
      handlerFor((_id, _m, ctx) => void ((ran = true), ctx.session.x), wrong)(messageEvent(client, 'x')),
      (e: unknown) => e instanceof ServiceError && e.errorType === 'ResourceNotFoundException' && e.statusCode === 400,
    );
    assert.equal(ran, false);
    let thrown: unknown;
    await assert.rejects(
      handlerFor(async (_id, _m, ctx) => {
        try {
          await ctx.getSession();
        } catch (error) {
          thrown = error;
          throw error;
        }
      }, wrong)(messageEvent(client, 'x')),
      ServiceError,
    );
    assert.ok(thrown instanceof ServiceError);
  });

  test('a DynamoDB that does not answer: a ServiceError, as from any other Gateway call', async () => {
    const closed = new DynamoDBClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    const unreachable = new Gateway({
      callbackUrl: 'http://127.0.0.1:9/local',
      tables: h.tables,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
      dynamoDb: DynamoDBDocumentClient.from(closed),
      random: () => 0,
    });
    try {
      await assert.rejects(
        handlerFor((_id, _m, ctx) => void ctx.session.x, unreachable)(messageEvent(client, 'x')),
        (e: unknown) => e instanceof ServiceError && /ECONNREFUSED/.test(e.message),
      );
    } finally {
      unreachable.destroy();
      closed.destroy();
    }
  });
});
