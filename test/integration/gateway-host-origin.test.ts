// The local gateway on a developer's machine is reachable from every web page the developer opens
// (local/hostGuard.ts): it answers only requests whose Host is a loopback name or address or one of
// the API's own names (DNS rebinding), refuses browser requests (an Origin header) on @connections,
// the Lambda API, Secrets Manager and DynamoDB, and grants no CORS. The WebSocket handshake still
// takes pages of any origin. Raw HTTP requests play the page; the unmodified AWS SDK clients must
// keep working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { rawRequest } from '../helpers/rawHttp.ts';
import { withGateway } from '../helpers/withGateway.ts';
import { connect } from '../helpers/wsClient.ts';
import { hostnameOf, isLoopbackHostname } from '../../local/hostGuard.ts';
import type { LocalGateway } from '../../local/index.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const EVIL_HOST = 'evil.example.invalid';
const EVIL_ORIGIN = 'http://evil.invalid';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bind-key-AbCdEf';

const raw = rawRequest;

/** A WebSocket handshake with the given Host and Origin: the status it got (101 when accepted). */
function handshake(wsUrl: string, host: string, origin: string): Promise<number> {
  const url = new URL(wsUrl.replace(/^ws/, 'http'));
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      setHost: false,
      agent: false,
      headers: { host, origin, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (res, socket) => (socket.destroy(), resolve(res.statusCode!)));
    req.on('response', (res) => (res.resume(), resolve(res.statusCode!)));
    req.on('error', reject);
    req.end();
  });
}

/** Adds an Origin header to every request of an AWS SDK client, after signing: a page's request, as far as the server can tell. */
function fromBrowser<T extends { middlewareStack: { add: (...args: never[]) => void } }>(client: T): T {
  (client.middlewareStack as unknown as { add: (mw: unknown, options: unknown) => void }).add(
    (next: (args: { request: { headers: Record<string, string> } }) => unknown) => (args: { request: { headers: Record<string, string> } }) => {
      args.request.headers.origin = EVIL_ORIGIN;
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low' },
  );
  return client;
}

function gatewayOptions(log: string[]) {
  return {
    region: 'us-east-1',
    apiId: 'abcde12345',
    stage: 'local',
    domainNames: ['ws.example.test'],
    routes: { $default: async () => undefined, $connect: async () => void log.push('$connect') },
    functions: { worker: async () => void log.push('worker') },
    secrets: [{ arn: SECRET_ARN, name: 'bind-key', value: 'the-secret-value' }],
    tables: [{ name: 'connections-table', partitionKey: 'connectionId' }],
  };
}

async function withLocal(body: (gw: LocalGateway, log: string[]) => Promise<void>): Promise<void> {
  const log: string[] = [];
  await withGateway(gatewayOptions(log), (gw) => body(gw, log));
}

test("a Host that is not loopback nor the API's own name gets 403 on every service: @connections, Lambda, Secrets Manager, DynamoDB, the stage URL, the handshake", async () => {
  await withLocal(async (gw, log) => {
    const { httpUrl, dynamoEndpoint, wsUrl } = gw.endpoints;
    const ws = await connect(wsUrl);
    const id = gw.openConnectionIds()[0]!;
    log.length = 0;
    const asPage = { host: EVIL_HOST, 'content-type': 'text/plain' };
    const answers = {
      stage: await raw(httpUrl, 'GET', '/local', asPage),
      post: await raw(httpUrl, 'POST', `/local/@connections/${encodeURIComponent(id)}`, asPage, 'rebound'),
      invoke: await raw(httpUrl, 'POST', '/2015-03-31/functions/worker/invocations', asPage, '{}'),
      secret: await raw(
        httpUrl,
        'POST',
        '/',
        { ...asPage, 'x-amz-target': 'secretsmanager.GetSecretValue', 'content-type': 'application/x-amz-json-1.1' },
        JSON.stringify({ SecretId: SECRET_ARN }),
      ),
      dynamo: await raw(
        dynamoEndpoint,
        'POST',
        '/',
        { ...asPage, 'x-amz-target': 'DynamoDB_20120810.ListTables', 'content-type': 'application/x-amz-json-1.0' },
        '{}',
      ),
    };
    for (const [what, answer] of Object.entries(answers)) {
      assert.equal(answer.status, 403, `${what}: ${answer.body}`);
      assert.equal(answer.headers['x-amzn-errortype'], 'ForbiddenException', what);
      assert.doesNotMatch(answer.body, /the-secret-value|connections-table/, what);
    }
    assert.equal(await handshake(wsUrl, `${EVIL_HOST}:${new URL(httpUrl).port}`, EVIL_ORIGIN), 403);
    for (const host of [
      'localhost.evil.invalid',
      '127.0.0.1.evil.invalid',
      'evil.invalid:80@127.0.0.1',
      '',
      '[::2]',
      'abcde12345.execute-api.eu-west-1.amazonaws.com',
    ]) {
      assert.equal((await raw(httpUrl, 'GET', '/local', { host })).status, 403, JSON.stringify(host));
    }
    assert.deepEqual(log, [], 'nothing ran: no $connect, no invocation');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(ws.messages, [], 'nothing was delivered');
    await ws.close();
  });
});

test("loopback names and addresses, with or without a port, the API's AWS name and its custom domain names are answered", async () => {
  await withLocal(async (gw) => {
    const { httpUrl, wsUrl } = gw.endpoints;
    const port = new URL(httpUrl).port;
    const hosts = [
      '127.0.0.1',
      `127.0.0.1:${port}`,
      '127.4.5.6',
      'localhost',
      `localhost:${port}`,
      'LOCALHOST',
      'app.localhost',
      '[::1]',
      `[::1]:${port}`,
      'abcde12345.execute-api.us-east-1.amazonaws.com',
      'ws.example.test',
    ];
    for (const host of hosts) {
      // A plain GET on the stage URL: 426 asks for the upgrade, as API Gateway does.
      assert.equal((await raw(httpUrl, 'GET', '/local', { host })).status, 426, host);
      assert.equal(await handshake(wsUrl, host, EVIL_ORIGIN), 101, `handshake, Host ${host}`);
    }
  });
});

test('browser requests (an Origin header) to @connections, Lambda, Secrets Manager and DynamoDB are refused even when signed; no CORS header is ever granted', async () => {
  await withLocal(async (gw, log) => {
    const { callbackUrl, httpUrl, dynamoEndpoint, region, wsUrl } = gw.endpoints;
    const ws = await connect(wsUrl);
    const id = gw.openConnectionIds()[0]!;
    log.length = 0;

    const management = fromBrowser(new ApiGatewayManagementApiClient({ endpoint: callbackUrl, region, credentials, maxAttempts: 1 }));
    await assert.rejects(management.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('from a page') })), {
      name: 'AccessDeniedException',
    });
    const lambda = fromBrowser(new LambdaClient({ endpoint: httpUrl, region, credentials, maxAttempts: 1 }));
    await assert.rejects(lambda.send(new InvokeCommand({ FunctionName: 'worker', Payload: Buffer.from('{}') })), { name: 'AccessDeniedException' });
    const secrets = fromBrowser(new SecretsManagerClient({ endpoint: httpUrl, region, credentials, maxAttempts: 1 }));
    await assert.rejects(secrets.send(new GetSecretValueCommand({ SecretId: SECRET_ARN })), { name: 'AccessDeniedException' });
    const dynamo = fromBrowser(new DynamoDBClient({ endpoint: dynamoEndpoint, region, credentials, maxAttempts: 1 }));
    await assert.rejects(dynamo.send(new ListTablesCommand({})), { name: 'AccessDeniedException' });
    for (const client of [management, lambda, secrets, dynamo]) client.destroy();

    // The preflights a page's fetch would send first.
    const preflight = {
      host: new URL(httpUrl).host,
      origin: EVIL_ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'x-amz-target,content-type',
    };
    const answers = [
      await raw(dynamoEndpoint, 'OPTIONS', '/', { ...preflight, host: new URL(dynamoEndpoint).host }),
      await raw(
        dynamoEndpoint,
        'POST',
        '/',
        {
          host: new URL(dynamoEndpoint).host,
          origin: EVIL_ORIGIN,
          'x-amz-target': 'DynamoDB_20120810.ListTables',
          'content-type': 'application/x-amz-json-1.0',
        },
        '{}',
      ),
      await raw(httpUrl, 'OPTIONS', '/', preflight),
      await raw(httpUrl, 'OPTIONS', `/local/@connections/${encodeURIComponent(id)}`, preflight),
      await raw(httpUrl, 'OPTIONS', '/2015-03-31/functions/worker/invocations', preflight),
    ];
    for (const answer of answers) {
      assert.equal(answer.status, 403, answer.body);
      assert.equal(answer.headers['access-control-allow-origin'], undefined);
    }
    assert.deepEqual(log, [], 'the function did not run');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(ws.messages, [], 'nothing was delivered');
    await ws.close();
  });
});

test('the unmodified AWS SDK clients (no Origin, Host 127.0.0.1:port) still work on every service', async () => {
  await withLocal(async (gw, log) => {
    const { callbackUrl, httpUrl, dynamoEndpoint, region, wsUrl } = gw.endpoints;
    const ws = await connect(wsUrl);
    const id = gw.openConnectionIds()[0]!;
    const management = new ApiGatewayManagementApiClient({ endpoint: callbackUrl, region, credentials, maxAttempts: 1 });
    await management.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('pushed') }));
    const lambda = new LambdaClient({ endpoint: httpUrl, region, credentials, maxAttempts: 1 });
    assert.equal((await lambda.send(new InvokeCommand({ FunctionName: 'worker', Payload: Buffer.from('{}') }))).StatusCode, 200);
    const secrets = new SecretsManagerClient({ endpoint: httpUrl, region, credentials, maxAttempts: 1 });
    assert.equal((await secrets.send(new GetSecretValueCommand({ SecretId: SECRET_ARN }))).SecretString, 'the-secret-value');
    const dynamo = new DynamoDBClient({ endpoint: dynamoEndpoint, region, credentials, maxAttempts: 1 });
    assert.deepEqual((await dynamo.send(new ListTablesCommand({}))).TableNames, ['connections-table']);
    for (const client of [management, lambda, secrets, dynamo]) client.destroy();
    await ws.message(0);
    assert.deepEqual(ws.messages, ['pushed']);
    assert.ok(log.includes('worker'));
    await ws.close();
  });
});

test('hostnameOf and isLoopbackHostname on their own', () => {
  assert.deepEqual(['localhost:80', '[::1]:3001', '[::1]', 'a.b', '127.0.0.1:99999x', '[nothex]', 'a b', 'user@host', ''].map(hostnameOf), [
    'localhost',
    '::1',
    '::1',
    'a.b',
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
  assert.deepEqual(
    ['localhost', 'x.localhost', '127.255.0.1', '::1', '128.0.0.1', 'localhost.com', '0.0.0.0', '::ffff:127.0.0.1', 'evil.invalid'].map(isLoopbackHostname),
    [true, true, true, true, false, false, false, false, false],
  );
});
