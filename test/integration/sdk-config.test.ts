/**
 * Configuration (constructor, fromEnv, region, credentials chain) and the error paths of the
 * `@connections` client that the local gateway never takes (403, 400, dropped sockets): those use a
 * small HTTP server that answers as AWS would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayHarness, LOCAL_CREDENTIALS, TEST_TABLES } from '../../testkit/gatewayHarness.ts';
import { CredentialCache } from '../../sdk/CredentialCache.ts';
import {
  BadRequestError,
  ConfigurationError,
  ForbiddenError,
  Gateway,
  GatewayEnvVar,
  NetworkError,
  ServiceError,
  type ConsumedCapacityEvent,
} from '../../sdk/index.ts';

const ID = 'Ab-_cD3fGh1Jk-2=';

/** An HTTP server whose answers the test scripts; records every request. */
async function fakeConnectionsApi(
  answer: (req: IncomingMessage, res: ServerResponse, n: number) => void,
): Promise<{ url: string; requests: IncomingMessage[]; server: Server }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    req.resume();
    req.on('end', () => answer(req, res, requests.length));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`, requests, server };
}

function awsError(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ message });
  res.writeHead(status, { 'x-amzn-ErrorType': type, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

function withEnv<T>(vars: Record<string, string | undefined>, run: () => Promise<T> | T): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return Promise.resolve()
    .then(run)
    .finally(() => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
}

describe('configuration', () => {
  const base = { callbackUrl: 'https://abc123defg.execute-api.ap-southeast-2.amazonaws.com/prod', tables: TEST_TABLES, credentials: LOCAL_CREDENTIALS };

  test('the region comes from the callbackUrl host unless given', () => {
    const fromUrl = new Gateway(base);
    assert.equal(fromUrl.region, 'ap-southeast-2');
    assert.equal(fromUrl.connectionPath(ID), '/prod/@connections/Ab-_cD3fGh1Jk-2%3D');
    fromUrl.destroy();
    const explicit = new Gateway({ ...base, region: 'eu-north-1' });
    assert.equal(explicit.region, 'eu-north-1');
    explicit.destroy();
  });

  test('a local callbackUrl takes the region from AWS_REGION, and no region at all is a ConfigurationError', async () => {
    const local = { ...base, callbackUrl: 'http://127.0.0.1:4510/local' };
    await withEnv({ AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: undefined }, () => {
      const gateway = new Gateway(local);
      assert.equal(gateway.region, 'us-west-2');
      gateway.destroy();
    });
    await withEnv({ AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined }, () => {
      assert.throws(
        () => new Gateway(local),
        (e: unknown) => e instanceof ConfigurationError && e.code === 'CONFIGURATION' && /region/.test(e.message),
      );
    });
  });

  test('bad options are ConfigurationErrors with a precise message', () => {
    const cases: Array<[string, object, RegExp]> = [
      ['not a URL', { callbackUrl: 'not a url' }, /callbackUrl/],
      ['not http(s)', { callbackUrl: 'ftp://x.example/prod' }, /callbackUrl/],
      ['a query', { callbackUrl: 'https://x.execute-api.us-east-1.amazonaws.com/prod?x=1' }, /query/],
      ['no tables', { tables: undefined }, /tables\.connections/],
      ['a short table name', { tables: { ...TEST_TABLES, uids: 'ab' } }, /tables\.uids/],
      ['zero concurrency', { concurrency: 0 }, /concurrency/],
      ['negative retries', { maxRetries: -1 }, /maxRetries/],
    ];
    for (const [label, override, message] of cases) {
      assert.throws(
        () => new Gateway({ ...base, ...override } as never),
        (e: unknown) => e instanceof ConfigurationError && message.test(e.message),
        label,
      );
    }
  });

  test('fromEnv reads the GatewayEnvVar names, lets explicit options win, and names a missing variable', () => {
    const env = {
      [GatewayEnvVar.callbackUrl]: 'https://abc123defg.execute-api.eu-west-1.amazonaws.com/live',
      [GatewayEnvVar.connectionsTable]: 'env-connections',
      [GatewayEnvVar.sessionsTable]: 'env-sessions',
      [GatewayEnvVar.membershipsTable]: 'env-memberships',
      [GatewayEnvVar.uidsTable]: 'env-uids',
      [GatewayEnvVar.groupsTable]: 'env-groups',
    };
    const gateway = Gateway.fromEnv({ credentials: LOCAL_CREDENTIALS }, env);
    assert.equal(gateway.callbackUrl, env[GatewayEnvVar.callbackUrl]);
    assert.equal(gateway.region, 'eu-west-1');
    assert.deepEqual(gateway.tables, {
      connections: 'env-connections',
      sessions: 'env-sessions',
      memberships: 'env-memberships',
      uids: 'env-uids',
      groups: 'env-groups',
    });
    gateway.destroy();
    const overridden = Gateway.fromEnv(
      { callbackUrl: 'https://zzz.execute-api.us-east-2.amazonaws.com/x', tables: TEST_TABLES, credentials: LOCAL_CREDENTIALS },
      {},
    );
    assert.equal(overridden.region, 'us-east-2');
    assert.deepEqual(overridden.tables, TEST_TABLES);
    overridden.destroy();
    for (const missing of [
      GatewayEnvVar.callbackUrl,
      GatewayEnvVar.connectionsTable,
      GatewayEnvVar.sessionsTable,
      GatewayEnvVar.membershipsTable,
      GatewayEnvVar.uidsTable,
      GatewayEnvVar.groupsTable,
    ]) {
      const partial = { ...env, [missing]: undefined };
      assert.throws(
        () => Gateway.fromEnv({ credentials: LOCAL_CREDENTIALS }, partial),
        (e: unknown) => e instanceof ConfigurationError && e.message.includes(missing),
        missing,
      );
    }
  });
});

describe('@connections error paths', { timeout: 30_000 }, () => {
  const quick = { tables: TEST_TABLES, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, retryBaseDelayMs: 1, retryMaxDelayMs: 2 };

  test('403 is a ForbiddenError in the report, not retried', async () => {
    const api = await fakeConnectionsApi((_req, res) =>
      awsError(res, 403, 'AccessDeniedException', 'User is not authorized to perform: execute-api:ManageConnections'),
    );
    const gateway = new Gateway({ ...quick, callbackUrl: api.url, maxRetries: 3 });
    try {
      const report = await gateway.sendToClient(ID, 'x');
      assert.equal(report.failed.length, 1);
      const error = report.failed[0]!.error;
      assert.ok(error instanceof ForbiddenError);
      assert.equal(error.code, 'FORBIDDEN');
      assert.equal(error.errorType, 'AccessDeniedException');
      assert.match(error.message, /ManageConnections/);
      assert.equal(api.requests.length, 1);
      await assert.rejects(gateway.isOnline(ID), ForbiddenError);
      await assert.rejects(gateway.closeClient(ID), ForbiddenError);
    } finally {
      gateway.destroy();
      await closeServer(api.server);
    }
  });

  test('400 is a BadRequestError, not retried', async () => {
    const api = await fakeConnectionsApi((_req, res) => awsError(res, 400, 'BadRequestException', 'Invalid connectionId'));
    const gateway = new Gateway({ ...quick, callbackUrl: api.url });
    try {
      const report = await gateway.sendToClient(ID, 'x');
      assert.ok(report.failed[0]!.error instanceof BadRequestError);
      assert.equal(report.failed[0]!.error.code, 'BAD_REQUEST');
      assert.equal(api.requests.length, 1);
    } finally {
      gateway.destroy();
      await closeServer(api.server);
    }
  });

  test('a 503 then a 200 is retried into a send', async () => {
    const api = await fakeConnectionsApi((_req, res, n) =>
      n === 1 ? awsError(res, 503, 'ServiceUnavailableException', 'try again') : (res.writeHead(200, { 'content-length': 0 }), res.end()),
    );
    const gateway = new Gateway({ ...quick, callbackUrl: api.url });
    try {
      assert.deepEqual((await gateway.sendToClient(ID, 'x')).sent, [ID]);
      assert.equal(api.requests.length, 2);
    } finally {
      gateway.destroy();
      await closeServer(api.server);
    }
  });

  test('sockets cut before an answer are NetworkErrors after maxRetries + 1 attempts', async () => {
    const api = await fakeConnectionsApi((req) => req.socket.destroy());
    const gateway = new Gateway({ ...quick, callbackUrl: api.url, maxRetries: 2 });
    try {
      const report = await gateway.sendToClient(ID, 'x');
      assert.ok(report.failed[0]!.error instanceof NetworkError);
      assert.equal(report.failed[0]!.error.code, 'NETWORK');
      assert.equal(api.requests.length, 3);
    } finally {
      gateway.destroy();
      await closeServer(api.server);
    }
  });

  test('without credentials the AWS SDK default chain is used, with the session token header', async () => {
    const api = await fakeConnectionsApi((_req, res) => (res.writeHead(200, { 'content-length': 0 }), res.end()));
    try {
      await withEnv(
        { AWS_ACCESS_KEY_ID: 'ASIAENVEXAMPLE', AWS_SECRET_ACCESS_KEY: 'env-secret', AWS_SESSION_TOKEN: 'env-token', AWS_PROFILE: undefined },
        async () => {
          const gateway = new Gateway({ callbackUrl: api.url, tables: TEST_TABLES, region: 'us-east-1' });
          try {
            assert.deepEqual((await gateway.sendToClient(ID, 'x')).sent, [ID]);
          } finally {
            gateway.destroy();
          }
        },
      );
      const headers = api.requests[0]!.headers;
      assert.match(
        headers.authorization!,
        /^AWS4-HMAC-SHA256 Credential=ASIAENVEXAMPLE\/\d{8}\/us-east-1\/execute-api\/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
      );
      assert.equal(headers['x-amz-security-token'], 'env-token');
    } finally {
      await closeServer(api.server);
    }
  });

  test('credentials from a provider are fetched once for many sends', async () => {
    const api = await fakeConnectionsApi((_req, res) => (res.writeHead(200, { 'content-length': 0 }), res.end()));
    let calls = 0;
    const provider = async () => {
      calls++;
      return { accessKeyId: 'AKIDPROVIDED', secretAccessKey: 's', expiration: new Date(Date.now() + 3600_000) };
    };
    const gateway = new Gateway({ callbackUrl: api.url, tables: TEST_TABLES, region: 'us-east-1', credentials: provider });
    try {
      await gateway.sendToAll('x', { clientIds: [ID, 'Bb-_cD3fGh1Jk-2=', 'Cb-_cD3fGh1Jk-2='] });
      await gateway.sendToClient(ID, 'y');
      assert.equal(calls, 1);
      assert.equal(api.requests.length, 4);
      assert.ok(api.requests.every((r) => r.headers.authorization!.includes('Credential=AKIDPROVIDED/')));
    } finally {
      gateway.destroy();
      await closeServer(api.server);
    }
  });
});

describe('credential cache', () => {
  test('credentials are reused until 5 minutes before they expire, and concurrent callers share one fetch', async () => {
    let calls = 0;
    const cache = new CredentialCache(async () => ({ accessKeyId: `AKID${++calls}`, secretAccessKey: 's', expiration: new Date(Date.now() + 3600_000) }));
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    assert.equal(calls, 1);
    assert.equal(a, b);
    assert.equal((await cache.get()).accessKeyId, 'AKID1');
    // Expiring in 4 minutes counts as expired: fetched again, and again.
    const near = new CredentialCache(async () => ({ accessKeyId: `NEAR${++calls}`, secretAccessKey: 's', expiration: new Date(Date.now() + 4 * 60_000) }));
    const first = await near.get();
    const second = await near.get();
    assert.notEqual(first.accessKeyId, second.accessKeyId);
  });

  test('a failing refresh falls back to credentials that have not expired yet, else is a ConfigurationError', async () => {
    let fail = false;
    const cache = new CredentialCache(async () => {
      if (fail) throw new Error('metadata service down');
      return { accessKeyId: 'AKIDOLD', secretAccessKey: 's', expiration: new Date(Date.now() + 60_000) };
    });
    await cache.get();
    fail = true;
    assert.equal((await cache.get()).accessKeyId, 'AKIDOLD');
    const empty = new CredentialCache(async () => {
      throw new Error('no credentials anywhere');
    });
    await assert.rejects(empty.get(), (e: unknown) => e instanceof ConfigurationError && /no credentials anywhere/.test(e.message));
  });
});

describe('DynamoDB errors and consumed capacity', { timeout: 30_000 }, () => {
  let h: GatewayHarness;
  before(async () => {
    h = await GatewayHarness.start();
  });
  after(() => h.stop());

  test('a DynamoDB failure rejects with a ServiceError carrying the AWS error type', async () => {
    const broken = h.newGateway({
      tables: {
        connections: 'no-such-table',
        sessions: 'no-such-sessions',
        memberships: 'no-such-memberships',
        uids: 'no-such-uids',
        groups: 'no-such-groups',
      },
    });
    await assert.rejects(
      broken.getSession(ID),
      (e: unknown) => e instanceof ServiceError && e.code === 'SERVICE_ERROR' && e.errorType === 'ResourceNotFoundException' && e.statusCode === 400,
    );
  });

  test('every DynamoDB call reports its consumed capacity with the method that made it', async () => {
    const events: ConsumedCapacityEvent[] = [];
    const metered = h.newGateway({ onConsumedCapacity: (e) => events.push(e) });
    const a = await h.connect();
    await metered.bindUid(a.id, 'metered');
    assert.deepEqual(
      events.map((e) => [e.operation, e.command, e.table]),
      [
        ['bindUid', 'PutItem', TEST_TABLES.uids],
        ['bindUid', 'UpdateItem', TEST_TABLES.connections],
      ],
    );
    assert.ok(events.every((e) => e.capacityUnits > 0));
  });
});
