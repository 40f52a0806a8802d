// The Lambda entry points' logic in isolation: GatewayWorker's $data, the session merge patch, how
// an Events module's callbacks are found, the init sender's retry policy, and what $connect and the
// message handler write (or do not write) through the SDK.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConnectionGoneError, LimitExceededError, PayloadTooLargeError, type FanoutInvoker, type Gateway } from '../../sdk/index.ts';
import { buildConnectData, parseCookie } from '../../lambdas/connectData.ts';
import { sessionPatch } from '../../lambdas/sessionPatch.ts';
import { resolveEvents, type GatewayEvents } from '../../lambdas/events.ts';
import { createInitSenderHandler, type InitSenderEvent } from '../../lambdas/initSenderHandler.ts';
import { verifyResumeToken } from '../../sdk/resumeToken.ts';
import { checkBindToken } from '../../sdk/bindToken.ts';
import { createConnectHandler, initMessageFor, MAX_ASYNC_INVOKE_BYTES } from '../../lambdas/connectHandler.ts';
import { createMessageHandler } from '../../lambdas/messageHandler.ts';
import { createDisconnectHandler } from '../../lambdas/disconnectHandler.ts';
import { handlerSettings } from '../../lambdas/handlerEnvironment.ts';
import { LambdaEnvVar } from '../../lambdas/env.ts';
import defaultEvents from '../../lambdas/defaultEvents.ts';
import type { WebSocketConnectEvent, WebSocketMessageEvent, WebSocketRequestContext } from '../../lambdas/webSocketEvent.ts';
import * as classEventsModule from '../fixtures/events/classEvents.ts';

const CONNECTION_ID = 'R1kmxc2VNjMCFIA=';

/** A request context as API Gateway sends it; the overrides narrow it to one kind of event. */
function requestContext<const C extends Partial<WebSocketRequestContext>>(overrides: C): WebSocketRequestContext & C {
  return {
    routeKey: '$connect',
    eventType: 'CONNECT',
    extendedRequestId: 'R1knPH17NjMFftw=',
    requestTime: '11/Nov/2024:11:35:24 +0000',
    messageDirection: 'IN',
    connectionId: CONNECTION_ID,
    connectedAt: 1_731_324_924_553,
    requestId: 'R1knPH17NjMFftw=',
    requestTimeEpoch: 1_731_324_924_561,
    stage: 'prod',
    domainName: 'abcd123456.execute-api.us-east-1.amazonaws.com',
    apiId: 'abcd123456',
    identity: { sourceIp: '49.105.91.154', userAgent: 'Mozilla/5.0' },
    ...overrides,
  };
}

/** A `$connect` event shaped like the captures in test/fixtures/aws-websocket-event-shapes.json. */
function connectEvent(query?: Record<string, string[]>, extraHeaders: Record<string, string> = {}): WebSocketConnectEvent {
  const headers: Record<string, string> = {
    Host: 'abcd123456.execute-api.us-east-1.amazonaws.com',
    'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
    'Sec-WebSocket-Key': 'am2Lpmf4Ozoh+B4lJU1n2w==',
    'Sec-WebSocket-Version': '13',
    'X-Amzn-Trace-Id': 'Root=1-6731ebfc-08e1e656421db73c5d2e4b7e',
    'X-Forwarded-For': '49.105.91.154',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
    ...extraHeaders,
  };
  return {
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    ...(query
      ? {
          queryStringParameters: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, v[v.length - 1]!])),
          multiValueQueryStringParameters: query,
        }
      : {}),
    requestContext: requestContext({ routeKey: '$connect', eventType: 'CONNECT' }),
    isBase64Encoded: false,
  };
}

describe('GatewayWorker $data from a $connect event', () => {
  test('server holds the request line, the host, the remote address and every header as HTTP_<UPPER_SNAKE>', () => {
    const data = buildConnectData(connectEvent({ token: ['a b'], tag: ['x', 'y'] }, { Origin: 'https://app.example', 'Content-Type': 'text/plain' }));
    assert.deepEqual(data.get, { token: 'a b', tag: 'y' });
    assert.equal(data.server.QUERY_STRING, 'token=a%20b&tag=x&tag=y');
    assert.equal(data.server.REQUEST_METHOD, 'GET');
    assert.equal(data.server.REQUEST_URI, '/prod?token=a%20b&tag=x&tag=y');
    assert.equal(data.server.SERVER_PROTOCOL, 'HTTP/1.1');
    assert.equal(data.server.SERVER_NAME, 'abcd123456.execute-api.us-east-1.amazonaws.com');
    assert.equal(data.server.SERVER_PORT, '443', 'from X-Forwarded-Port when Host has none');
    assert.equal(data.server.REMOTE_ADDR, '49.105.91.154');
    assert.equal(data.server.REMOTE_PORT, undefined, 'API Gateway does not expose the client port');
    assert.equal(data.server.HTTP_HOST, 'abcd123456.execute-api.us-east-1.amazonaws.com');
    assert.equal(data.server.HTTP_SEC_WEBSOCKET_KEY, 'am2Lpmf4Ozoh+B4lJU1n2w==');
    assert.equal(data.server.HTTP_X_FORWARDED_PROTO, 'https');
    assert.equal(data.server.HTTP_ORIGIN, 'https://app.example');
    assert.equal(data.server.CONTENT_TYPE, 'text/plain');
    assert.deepEqual(data.cookie, {});
  });

  test('without a query string: empty get and QUERY_STRING, REQUEST_URI is the stage path', () => {
    const data = buildConnectData(connectEvent());
    assert.deepEqual(data.get, {});
    assert.equal(data.server.QUERY_STRING, '');
    assert.equal(data.server.REQUEST_URI, '/prod');
  });

  test('a Host with a port gives SERVER_NAME and SERVER_PORT', () => {
    const data = buildConnectData(connectEvent(undefined, { Host: '127.0.0.1:4567' }));
    assert.equal(data.server.SERVER_NAME, '127.0.0.1');
    assert.equal(data.server.SERVER_PORT, '4567');
  });

  test('cookies are parsed and decoded; the first occurrence of a name wins; malformed parts are skipped', () => {
    assert.deepEqual(parseCookie('sid=s%201; theme=dark;  lang="fr" ; sid=other; bad; =novalue; pct=%E0%A4%A'), {
      sid: 's 1',
      theme: 'dark',
      lang: 'fr',
      pct: '%E0%A4%A',
    });
    const data = buildConnectData(connectEvent(undefined, { Cookie: 'a=1; b=2' }));
    assert.deepEqual(data.cookie, { a: '1', b: '2' });
    assert.equal(data.server.HTTP_COOKIE, 'a=1; b=2');
  });
});

describe('the session merge patch', () => {
  test('an untouched session gives no patch, whatever the key order', () => {
    assert.equal(sessionPatch({ a: 1, b: { c: [1, 2], d: 'x' } }, { b: { d: 'x', c: [1, 2] }, a: 1 }), undefined);
    assert.equal(sessionPatch({}, {}), undefined);
  });

  test('only changed keys are in the patch; nested objects are diffed; arrays are replaced whole', () => {
    const before = { count: 1, user: { name: 'ann', prefs: { theme: 'dark', lang: 'fr' } }, tags: ['a'] };
    const after = { count: 2, user: { name: 'ann', prefs: { theme: 'light', lang: 'fr' } }, tags: ['a', 'b'], fresh: true };
    assert.deepEqual(sessionPatch(before, after), { count: 2, user: { prefs: { theme: 'light' } }, tags: ['a', 'b'], fresh: true });
  });

  test('removed keys are written as null, as a merge cannot delete', () => {
    assert.deepEqual(sessionPatch({ a: 1, b: { c: 1, d: 2 } }, { b: { c: 1 } }), { a: null, b: { d: null } });
    assert.deepEqual(sessionPatch({ a: 1 }, { a: undefined }), { a: null });
  });

  test('a value changing type is replaced', () => {
    assert.deepEqual(sessionPatch({ a: { b: 1 } }, { a: 'flat' }), { a: 'flat' });
    assert.deepEqual(sessionPatch({ a: [1] }, { a: { 0: 1 } }), { a: { 0: 1 } });
  });
});

describe('finding the callbacks of an Events module', () => {
  test('named exports, a default object, or static methods of a default-exported class (keeping this)', async () => {
    const named = resolveEvents({ onMessage: () => 'named', other: 1 });
    assert.deepEqual(Object.keys(named), ['onMessage']);
    const fromDefault = resolveEvents({ default: { onClose: () => 'default' } });
    assert.deepEqual(Object.keys(fromDefault), ['onClose']);
    const fromEventsExport = resolveEvents({
      Events: class {
        static onConnect() {
          return 'Events';
        }
      },
    });
    assert.deepEqual(Object.keys(fromEventsExport), ['onConnect']);

    const fromClass = resolveEvents(classEventsModule);
    const sent: string[] = [];
    await fromClass.onMessage!('id', 'hi', { sendToCurrentClient: async (m: string) => void sent.push(m) } as never);
    assert.deepEqual(sent, ['class:hi'], 'the static method ran with the class as this');
  });

  test('the seed module has no callbacks', () => {
    assert.deepEqual(Object.keys(resolveEvents(defaultEvents)), []);
    assert.deepEqual(Object.keys(resolveEvents({})), []);
  });
});

/** A PostToConnection stand-in answering from a script: 'ok', 410 or any other error. */
function scriptedManagement(script: Array<'ok' | 'gone' | 'boom'>) {
  const posts: Array<{ connectionId: string; data: string }> = [];
  const client = {
    async send(command: { input: { ConnectionId: string; Data: Uint8Array } }) {
      const step = script.shift() ?? 'ok';
      if (step === 'gone') throw Object.assign(new Error('gone'), { name: 'GoneException', $metadata: { httpStatusCode: 410 } });
      if (step === 'boom') throw Object.assign(new Error('forbidden'), { name: 'ForbiddenException', $metadata: { httpStatusCode: 403 } });
      posts.push({ connectionId: command.input.ConnectionId, data: Buffer.from(command.input.Data).toString('utf8') });
      return {};
    },
  };
  return { client: client as unknown as ApiGatewayManagementApiClient, posts };
}

function connectionsTable(exists: () => boolean) {
  let checks = 0;
  const client = {
    async send() {
      checks++;
      return exists() ? { Item: { connectionId: { S: CONNECTION_ID } } } : {};
    },
  };
  return { table: { client: client as unknown as DynamoDBClient, tableName: 't', partitionKey: 'connectionId' }, checks: () => checks };
}

const quiet = () => {};
const fastBackoff = { firstDelayMs: 1, maxDelayMs: 2, existenceCheckEveryMs: 0 };

describe('the init sender', () => {
  const event = (messages: string[], retryUntil = Date.now() + 60_000): InitSenderEvent => ({ connectionId: CONNECTION_ID, messages, retryUntil });

  test('retries 410 while the connection is opening, then posts every message once, in order', async () => {
    const { client, posts } = scriptedManagement(['gone', 'gone', 'ok', 'ok']);
    const handler = createInitSenderHandler({ management: client, connections: connectionsTable(() => true).table, backoff: fastBackoff, log: quiet });
    const result = await handler(event(['init', 'welcome']));
    assert.equal(result.outcome, 'sent');
    assert.equal(result.delivered, 2);
    assert.equal(result.attempts, 4);
    assert.deepEqual(
      posts.map((p) => p.data),
      ['init', 'welcome'],
    );
    assert.ok(posts.every((p) => p.connectionId === CONNECTION_ID));
  });

  test('stops when the connection item is gone (refused, or $disconnect ran)', async () => {
    const table = connectionsTable(() => false);
    const { client, posts } = scriptedManagement(Array(50).fill('gone'));
    const result = await createInitSenderHandler({ management: client, connections: table.table, backoff: fastBackoff, log: quiet })(event(['init']));
    assert.equal(result.outcome, 'gone');
    assert.equal(result.delivered, 0);
    assert.equal(table.checks(), 1);
    assert.equal(posts.length, 0);
  });

  test('stops once $connect must have ended (retryUntil), without throwing', async () => {
    const { client } = scriptedManagement(Array(50).fill('gone'));
    const result = await createInitSenderHandler({ management: client, backoff: fastBackoff, log: quiet })(event(['init'], Date.now() - 1));
    assert.equal(result.outcome, 'expired');
    assert.equal(result.attempts, 1);
  });

  test('stops when its own invocation is about to time out', async () => {
    const { client } = scriptedManagement(Array(50).fill('gone'));
    const result = await createInitSenderHandler({ management: client, backoff: fastBackoff, log: quiet })(event(['init']), {
      getRemainingTimeInMillis: () => 100,
    });
    assert.equal(result.outcome, 'expired');
  });

  test('init of a browser-client connection: how long until the cut, and a resume token for this connection (purpose resume, until the cut plus the window)', async () => {
    const key = Buffer.alloc(32, 7);
    const { client, posts } = scriptedManagement(['ok']);
    const handler = createInitSenderHandler({ management: client, backoff: fastBackoff, bindTokenKey: { key: async () => key }, log: quiet });
    const cutAt = Date.now() + 60_000;
    await handler({ ...event([]), init: true, recovery: { cutAt, windowMs: 120_000 } });
    const init = JSON.parse(posts[0]!.data);
    assert.deepEqual(Object.keys(init), ['type', 'client_id', 'bind_token', 'cut_in', 'resume_token']);
    assert.ok(init.cut_in > 55_000 && init.cut_in <= 60_000, String(init.cut_in));
    assert.equal(verifyResumeToken(key, CONNECTION_ID, init.resume_token), true);
    assert.equal(verifyResumeToken(key, CONNECTION_ID, init.resume_token, cutAt + 121_000), false, 'expired after the cut plus the window');
    assert.equal(verifyResumeToken(key, CONNECTION_ID, init.bind_token), false, 'a bind token is no resume token');
    // Recovery off (window 0): no resume token, the cut is still told.
    const off = scriptedManagement(['ok']);
    await createInitSenderHandler({ management: off.client, backoff: fastBackoff, bindTokenKey: { key: async () => key }, log: quiet })({
      ...event([]),
      init: true,
      recovery: { cutAt, windowMs: 0 },
    });
    assert.deepEqual(Object.keys(JSON.parse(off.posts[0]!.data)), ['type', 'client_id', 'bind_token', 'cut_in']);
  });

  test('init: the init message goes first, with a bind token for this connection signed with the key', async () => {
    const key = Buffer.alloc(32, 7);
    const { client, posts } = scriptedManagement(['gone', 'ok', 'ok']);
    const handler = createInitSenderHandler({ management: client, backoff: fastBackoff, bindTokenKey: { key: async () => key }, log: quiet });
    const result = await handler({ ...event(['welcome']), init: true });
    assert.deepEqual([result.outcome, result.delivered], ['sent', 2]);
    const init = JSON.parse(posts[0]!.data);
    assert.deepEqual(Object.keys(init), ['type', 'client_id', 'bind_token']);
    assert.deepEqual([init.type, init.client_id], ['init', CONNECTION_ID]);
    assert.equal(checkBindToken(key, CONNECTION_ID, init.bind_token), undefined);
    assert.equal(checkBindToken(key, 'AAAAAAAAAAAAAAA=', init.bind_token), 'mismatch');
    assert.equal(posts[1]!.data, 'welcome');
    // Without a key (no secret configured) the init carries the id alone, as GatewayWorker's.
    const plain = scriptedManagement(['ok']);
    await createInitSenderHandler({ management: plain.client, backoff: fastBackoff, log: quiet })({ ...event([]), init: true });
    assert.deepEqual(JSON.parse(plain.posts[0]!.data), { type: 'init', client_id: CONNECTION_ID });
    assert.equal(plain.posts[0]!.data, initMessageFor(CONNECTION_ID));
  });

  test('init: when the key cannot be read nothing is posted (the client reconnects after its init timeout), and the log has no secret', async () => {
    const { client, posts } = scriptedManagement(['ok']);
    const logged: string[] = [];
    const result = await createInitSenderHandler({
      management: client,
      backoff: fastBackoff,
      bindTokenKey: { key: async () => Promise.reject(new Error('AccessDeniedException')) },
      log: (m, d) => logged.push(m + JSON.stringify(d)),
    })({ ...event(['welcome']), init: true });
    assert.deepEqual([result.outcome, result.attempts, posts.length], ['failed', 0, 0]);
    assert.match(logged[0]!, /bind token key could not be read.*AccessDeniedException/);
  });

  test('a 410 after a delivered message means gone; other errors are reported, not thrown (no async retry resends)', async () => {
    const afterFirst = await createInitSenderHandler({ management: scriptedManagement(['ok', 'gone']).client, backoff: fastBackoff, log: quiet })(
      event(['a', 'b']),
    );
    assert.deepEqual([afterFirst.outcome, afterFirst.delivered], ['gone', 1]);
    const logged: string[] = [];
    const failed = await createInitSenderHandler({ management: scriptedManagement(['boom']).client, backoff: fastBackoff, log: (m) => logged.push(m) })(
      event(['a']),
    );
    assert.equal(failed.outcome, 'failed');
    assert.equal(logged.length, 1);
  });
});

/** A Gateway stand-in recording the calls the handlers make. */
function fakeGateway(options: { session?: Record<string, unknown> | null; updateError?: Error } = {}) {
  const calls: Array<[string, ...unknown[]]> = [];
  const gateway = {
    async registerConnection(record: unknown) {
      calls.push(['registerConnection', record]);
    },
    async unregisterConnection(id: string) {
      calls.push(['unregisterConnection', id]);
      return { connectionId: id, connectedAt: 1, groups: ['g'], uid: 'u', session: { last: 'x' }, version: 1 };
    },
    async connectionClosed(id: string, code: number | undefined) {
      calls.push(['connectionClosed', id, code]);
      return { held: code === 1006, record: { connectionId: id, connectedAt: 1, groups: ['g'], uid: 'u', session: { last: 'x' }, version: 1 } };
    },
    async getSession(id: string) {
      calls.push(['getSession', id]);
      return options.session === null ? undefined : (options.session ?? {});
    },
    async updateSession(id: string, patch: unknown) {
      calls.push(['updateSession', id, patch]);
      if (options.updateError) throw options.updateError;
      return {};
    },
    async sendToClient(id: string, message: unknown) {
      calls.push(['sendToClient', id, message]);
      return { recipients: 1, sent: [id], gone: [], failed: [] };
    },
    async closeClient(id: string, ...rest: unknown[]) {
      calls.push(['closeClient', id, ...rest]);
      return true;
    },
  };
  return { gateway: gateway as unknown as Gateway, calls, names: () => calls.map((c) => c[0]) };
}

function fakeLambda(fail = false) {
  const invocations: Array<{ FunctionName: string; InvocationType: string; payload: InitSenderEvent }> = [];
  const client = {
    async send(command: { input: { FunctionName: string; InvocationType: string; Payload: Uint8Array } }) {
      if (fail) throw new Error('TooManyRequestsException');
      invocations.push({ ...command.input, payload: JSON.parse(Buffer.from(command.input.Payload).toString('utf8')) });
      return { StatusCode: 202 };
    },
  };
  return { client: client satisfies FanoutInvoker, invocations };
}

describe('$connect', () => {
  const lambdaContext = { getRemainingTimeInMillis: () => 9_000 };

  test('stores the connection with its identity, accepts, and hands init plus queued messages to the init sender asynchronously', async () => {
    const { gateway, calls } = fakeGateway();
    const lambda = fakeLambda();
    const events: GatewayEvents = {
      onConnect: (_id, ctx) => ctx.sendToCurrentClient('first'),
      onWebSocketConnect: (_id, data, ctx) => {
        ctx.session.token = data.get.token;
        ctx.sendToCurrentClient('second');
      },
    };
    const handler = createConnectHandler({ events, gateway, lambda: lambda.client, initFunction: 'init-fn', initMessage: true, log: quiet });
    const started = Date.now();
    assert.deepEqual(await handler(connectEvent({ token: ['t1'] }), lambdaContext), { statusCode: 200 });
    assert.deepEqual(calls[0], [
      'registerConnection',
      { connectionId: CONNECTION_ID, connectedAt: 1_731_324_924_553, sourceIp: '49.105.91.154', userAgent: 'Mozilla/5.0' },
    ]);
    assert.deepEqual(calls[1], ['updateSession', CONNECTION_ID, { token: 't1' }]);
    assert.equal(lambda.invocations.length, 1);
    const [invocation] = lambda.invocations;
    assert.equal(invocation!.FunctionName, 'init-fn');
    assert.equal(invocation!.InvocationType, 'Event');
    // The init message is built (and its bind token signed) by the init sender, ahead of the queued ones.
    assert.equal(invocation!.payload.init, true);
    assert.deepEqual(invocation!.payload.messages, ['first', 'second']);
    assert.ok(invocation!.payload.retryUntil >= started + 9_000 + 2_000, 'retries until $connect has surely ended');
  });

  test('?gw=1 (the browser client): the connection is stored as enveloped, and the init sender is told when the gateway will cut it and the recovery window', async () => {
    const { gateway, calls } = fakeGateway();
    const lambda = fakeLambda();
    const handler = createConnectHandler({
      events: {},
      gateway: Object.assign(gateway, { recoveryWindowSeconds: 120 }),
      lambda: lambda.client,
      initFunction: 'init-fn',
      initMessage: true,
      connectionMaxAgeMs: 5_000,
      log: quiet,
    });
    assert.deepEqual(await handler(connectEvent({ gw: ['1'] }), lambdaContext), { statusCode: 200 });
    assert.equal((calls[0]![1] as { envelope?: boolean }).envelope, true);
    assert.deepEqual(lambda.invocations[0]!.payload.recovery, { cutAt: 1_731_324_924_553 + 5_000, windowMs: 120_000 });
    // Without it: as before, nothing about recovery.
    await handler(connectEvent(), lambdaContext);
    assert.equal((calls.filter((c) => c[0] === 'registerConnection')[1]![1] as { envelope?: boolean }).envelope, undefined);
    assert.equal(lambda.invocations[1]!.payload.recovery, undefined);
  });

  test('a queued message is checked with the SDK rule when queued: over 131072 bytes (of UTF-8) throws PayloadTooLargeError, and the queue goes on', async () => {
    const { gateway } = fakeGateway();
    const lambda = fakeLambda();
    const refused: unknown[] = [];
    const events: GatewayEvents = {
      onConnect: (_id, ctx) => {
        ctx.sendToCurrentClient('x'.repeat(131072));
        for (const big of ['x'.repeat(131073), '€'.repeat(43691)]) {
          try {
            ctx.sendToCurrentClient(big);
          } catch (error) {
            refused.push(error);
          }
        }
        ctx.sendToCurrentClient('after');
      },
    };
    const handler = createConnectHandler({ events, gateway, lambda: lambda.client, initFunction: 'init-fn', initMessage: true, log: quiet });
    assert.deepEqual(await handler(connectEvent(), lambdaContext), { statusCode: 200 });
    assert.equal(refused.length, 2);
    assert.ok(
      refused.every((e) => e instanceof PayloadTooLargeError && e.code === 'PAYLOAD_TOO_LARGE'),
      '131073 ASCII bytes, and 43,691 three-byte characters',
    );
    assert.deepEqual(
      lambda.invocations[0]!.payload.messages.map((m: string) => m.length),
      [131072, 5],
    );
  });

  test('a queue that would pass the 1 MB of an asynchronous invocation throws LimitExceededError; what was queued is sent; uncaught, the connection is refused', async () => {
    const lambda = fakeLambda();
    let thrown: unknown;
    const events: GatewayEvents = {
      onConnect: (_id, ctx) => {
        try {
          for (let i = 0; i < 20; i++) ctx.sendToCurrentClient(`${i}`.padEnd(120_000, '.'));
        } catch (error) {
          thrown = error;
        }
      },
    };
    await createConnectHandler({ events, gateway: fakeGateway().gateway, lambda: lambda.client, initFunction: 'init-fn', initMessage: true, log: quiet })(
      connectEvent(),
      lambdaContext,
    );
    assert.ok(thrown instanceof LimitExceededError && thrown.code === 'LIMIT_EXCEEDED' && /1048576 bytes Lambda accepts/.test(thrown.message), String(thrown));
    const invocation = lambda.invocations[0]!;
    assert.equal(invocation.payload.messages.length, 8, '8 messages of 120,000 bytes fit, the 9th does not');
    assert.ok(Buffer.byteLength(JSON.stringify(invocation.payload)) <= MAX_ASYNC_INVOKE_BYTES);

    const uncaught = fakeGateway();
    const events2: GatewayEvents = {
      onConnect: (_id, ctx) => {
        for (let i = 0; i < 20; i++) ctx.sendToCurrentClient('y'.repeat(120_000));
      },
    };
    const handler = createConnectHandler({
      events: events2,
      gateway: uncaught.gateway,
      lambda: fakeLambda().client,
      initFunction: 'init-fn',
      initMessage: true,
      log: quiet,
    });
    await assert.rejects(handler(connectEvent(), lambdaContext), LimitExceededError);
    assert.deepEqual(uncaught.names(), ['registerConnection', 'unregisterConnection'], 'a failed $connect leaves nothing behind (API Gateway answers 502)');
  });

  test('the seed module: init only, and no session write', async () => {
    const { gateway, names } = fakeGateway();
    const lambda = fakeLambda();
    await createConnectHandler({ events: defaultEvents, gateway, lambda: lambda.client, initFunction: 'f', initMessage: true, log: quiet })(
      connectEvent(),
      lambdaContext,
    );
    assert.deepEqual(names(), ['registerConnection']);
    assert.equal(lambda.invocations[0]!.payload.init, true);
    assert.deepEqual(lambda.invocations[0]!.payload.messages, []);
  });

  test('with the init message off and nothing queued, nothing is invoked', async () => {
    const lambda = fakeLambda();
    await createConnectHandler({ events: {}, gateway: fakeGateway().gateway, lambda: lambda.client, initFunction: 'f', initMessage: false, log: quiet })(
      connectEvent(),
      lambdaContext,
    );
    assert.equal(lambda.invocations.length, 0);
  });

  test('a refusal answers its status, removes the connection again and sends nothing', async () => {
    for (const [decision, status] of [
      [false, 403],
      [{ statusCode: 401 }, 401],
      [{ statusCode: 429, headers: { 'Retry-After': '1' } }, 429],
    ] as const) {
      const { gateway, names } = fakeGateway();
      const lambda = fakeLambda();
      const handler = createConnectHandler({
        events: { onWebSocketConnect: () => decision },
        gateway,
        lambda: lambda.client,
        initFunction: 'f',
        initMessage: true,
        log: quiet,
      });
      assert.deepEqual(await handler(connectEvent(), lambdaContext), { statusCode: status });
      assert.deepEqual(names(), ['registerConnection', 'unregisterConnection']);
      assert.equal(lambda.invocations.length, 0);
    }
  });

  test('closeCurrentClient in onConnect refuses with 403 and skips onWebSocketConnect', async () => {
    const { gateway, names } = fakeGateway();
    let reached = false;
    const events: GatewayEvents = { onConnect: (_id, ctx) => ctx.closeCurrentClient(), onWebSocketConnect: () => void (reached = true) };
    const result = await createConnectHandler({ events, gateway, lambda: fakeLambda().client, initFunction: 'f', initMessage: true, log: quiet })(
      connectEvent(),
      lambdaContext,
    );
    assert.deepEqual(result, { statusCode: 403 });
    assert.equal(reached, false);
    assert.deepEqual(names(), ['registerConnection', 'unregisterConnection']);
  });

  test('response headers (a subprotocol) go back on the 101', async () => {
    const events: GatewayEvents = { onWebSocketConnect: () => ({ statusCode: 200, headers: { 'Sec-WebSocket-Protocol': 'chat.v1' } }) };
    const result = await createConnectHandler({
      events,
      gateway: fakeGateway().gateway,
      lambda: fakeLambda().client,
      initFunction: 'f',
      initMessage: true,
      log: quiet,
    })(connectEvent(), lambdaContext);
    assert.deepEqual(result, { statusCode: 200, headers: { 'Sec-WebSocket-Protocol': 'chat.v1' } });
  });

  test('a throwing callback removes the connection and fails the invocation (API Gateway answers 502)', async () => {
    const { gateway, names } = fakeGateway();
    const handler = createConnectHandler({
      events: {
        onConnect: () => {
          throw new Error('nope');
        },
      },
      gateway,
      lambda: fakeLambda().client,
      initFunction: 'f',
      initMessage: true,
      log: quiet,
    });
    await assert.rejects(handler(connectEvent(), lambdaContext), /nope/);
    assert.deepEqual(names(), ['registerConnection', 'unregisterConnection']);
  });

  test('when the init sender cannot be invoked, the connection is refused with 500 so the browser reconnects', async () => {
    const { gateway, names } = fakeGateway();
    const result = await createConnectHandler({ events: {}, gateway, lambda: fakeLambda(true).client, initFunction: 'f', initMessage: true, log: quiet })(
      connectEvent(),
      lambdaContext,
    );
    assert.deepEqual(result, { statusCode: 500 });
    assert.deepEqual(names(), ['registerConnection', 'unregisterConnection']);
  });
});

describe('messages', () => {
  const messageEvent = (body: string, routeKey = '$default'): WebSocketMessageEvent => ({
    requestContext: requestContext({ routeKey, eventType: 'MESSAGE', messageId: 'R1knPc2ntjMCFIA=' }),
    body,
    isBase64Encoded: false,
  });

  test('without onMessage a message costs no DynamoDB call at all', async () => {
    const { gateway, calls } = fakeGateway();
    assert.deepEqual(await createMessageHandler({ events: defaultEvents, gateway })(messageEvent('hi')), { statusCode: 200 });
    assert.deepEqual(calls, []);
  });

  test('an unchanged session is not written; a changed one is written as a patch of what changed', async () => {
    const unchanged = fakeGateway({ session: { a: 1, b: { c: 2 } } });
    await createMessageHandler({ events: { onMessage: (_id, _m, ctx) => void ctx.session.a }, gateway: unchanged.gateway })(messageEvent('x'));
    assert.deepEqual(unchanged.names(), ['getSession']);

    const changed = fakeGateway({ session: { a: 1, b: { c: 2, d: 3 } } });
    await createMessageHandler({
      events: {
        onMessage: (_id, _m, ctx) => {
          (ctx.session.b as Record<string, number>).c = 5;
          ctx.session.z = 'new';
        },
      },
      gateway: changed.gateway,
    })(messageEvent('x'));
    assert.deepEqual(changed.calls[1], ['updateSession', CONNECTION_ID, { b: { c: 5 }, z: 'new' }]);
  });

  test('the context: client id, route key, message text, sendToCurrentClient and closeCurrentClient on this client', async () => {
    const { gateway, calls } = fakeGateway();
    const seen: unknown[] = [];
    await createMessageHandler({
      events: {
        onMessage: async (id, message, ctx) => {
          seen.push(id, message, ctx.clientId, ctx.routeKey, ctx.requestContext.messageId);
          await ctx.sendToCurrentClient('reply');
          await ctx.closeCurrentClient('bye');
        },
      },
      gateway,
    })(messageEvent('{"action":"chat"}', 'chat'));
    assert.deepEqual(seen, [CONNECTION_ID, '{"action":"chat"}', CONNECTION_ID, 'chat', 'R1knPc2ntjMCFIA=']);
    // No getSession: this callback uses the context only as ctx.<another name> (lambdas/sessionUse.ts).
    assert.deepEqual(calls, [
      ['sendToClient', CONNECTION_ID, 'reply'],
      ['closeClient', CONNECTION_ID, 'bye'],
    ]);
  });

  test('a client already gone: onMessage still runs, its session changes are not written', async () => {
    const { gateway, names } = fakeGateway({ session: null });
    let ran = false;
    await createMessageHandler({ events: { onMessage: (_id, _m, ctx) => void ((ctx.session.x = 1), (ran = true)) }, gateway, log: quiet })(messageEvent('x'));
    assert.equal(ran, true);
    assert.deepEqual(names(), ['getSession']);
  });

  test('a client that left while onMessage ran: the session is dropped, not an error', async () => {
    const { gateway } = fakeGateway({ session: {}, updateError: new ConnectionGoneError(CONNECTION_ID) });
    const logged: string[] = [];
    const result = await createMessageHandler({ events: { onMessage: (_id, _m, ctx) => void (ctx.session.x = 1) }, gateway, log: (m) => logged.push(m) })(
      messageEvent('x'),
    );
    assert.deepEqual(result, { statusCode: 200 });
    assert.equal(logged.length, 1);
  });
});

describe('$disconnect', () => {
  test('removes the connection first, then runs onClose with the last session, uid, groups and close code', async () => {
    const { gateway, names } = fakeGateway();
    const order: string[] = [];
    let context: unknown;
    const handler = createDisconnectHandler({
      events: {
        onClose: (_id, ctx) => {
          order.push(...names());
          context = { session: ctx.session, uid: ctx.uid, groups: ctx.groups, code: ctx.closeCode, reason: ctx.closeReason, held: ctx.held };
        },
      },
      gateway,
    });
    const headers = { Host: 'abcd123456.execute-api.us-east-1.amazonaws.com', 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' };
    await handler({
      headers,
      multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      requestContext: requestContext({ routeKey: '$disconnect', eventType: 'DISCONNECT', disconnectStatusCode: 1001, disconnectReason: '' }),
      isBase64Encoded: false,
    });
    assert.deepEqual(order, ['connectionClosed']);
    assert.deepEqual(context, { session: { last: 'x' }, uid: 'u', groups: ['g'], code: 1001, reason: '', held: false });
  });
});

test('handler settings: the init message is on unless GATEWAY_INIT_MESSAGE is false', () => {
  assert.deepEqual(handlerSettings({}), { initFunction: undefined, initMessage: true, connectionMaxAgeMs: 7_200_000 });
  assert.deepEqual(handlerSettings({ [LambdaEnvVar.initFunction]: 'fn', [LambdaEnvVar.initMessage]: 'FALSE' }), {
    initFunction: 'fn',
    initMessage: false,
    connectionMaxAgeMs: 7_200_000,
  });
  // A local gateway with a lowered age limit says so; anything else is AWS's 2 hours.
  assert.equal(handlerSettings({ [LambdaEnvVar.connectionMaxAge]: '5000' }).connectionMaxAgeMs, 5000);
  assert.equal(handlerSettings({ [LambdaEnvVar.connectionMaxAge]: 'soon' }).connectionMaxAgeMs, 7_200_000);
  assert.deepEqual(handlerSettings({ [LambdaEnvVar.initMessage]: 'true' }).initMessage, true);
});
