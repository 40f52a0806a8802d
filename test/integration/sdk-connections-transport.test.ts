// GatewayOptions.connectionsTransport: a unit test's stand-in for API Gateway's @connections. The
// stand-in gets the request as the SDK signs it, and what it answers goes through the SDK's own
// retries and outcome mapping: 410 prunes, 429 is retried, 403 fails the recipient, a throw is a
// network failure. DynamoDB is the local gateway's (real dynalite); only @connections is substituted.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigurationError,
  ForbiddenError,
  NetworkError,
  ThrottledError,
  type ConnectionsRequest,
  type ConnectionsResponse,
  type Gateway,
} from '../../sdk/index.ts';
import { CONNECT_GRACE_MS } from '../../sdk/gateway/delivery.ts';
import { GatewayHarness } from '../../testkit/gatewayHarness.ts';

const CALLBACK = 'https://abc123defg.execute-api.eu-west-1.amazonaws.com/prod';
const ALICE = 'AliceConnId0001=';
const BOB = 'BobConnection02=';

let harness: GatewayHarness;
before(async () => {
  harness = await GatewayHarness.start();
});
after(() => harness.stop());

/** A Gateway on the harness's tables whose @connections answers come from `answer`. */
function gatewayAnswering(answer: (request: ConnectionsRequest, attempt: number) => ConnectionsResponse | Promise<ConnectionsResponse>) {
  const requests: ConnectionsRequest[] = [];
  const gateway: Gateway = harness.newGateway({
    callbackUrl: CALLBACK,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    retryBaseDelayMs: 0,
    retryMaxDelayMs: 0,
    connectionsTransport: async (request) => {
      requests.push(request);
      return answer(request, requests.filter((r) => r.connectionId === request.connectionId).length);
    },
  });
  return { gateway, requests };
}

assert.ok(CONNECT_GRACE_MS < 60_000);
/** A connection open for a minute: past CONNECT_GRACE_MS, so a 410 means gone rather than still opening. */
async function register(gateway: Gateway, connectionId: string): Promise<void> {
  await gateway.registerConnection({ connectionId, connectedAt: Date.now() - 60_000 });
}

test('a POST reaches the transport signed, with the URL, headers and body the SDK puts on the wire', async () => {
  const { gateway, requests } = gatewayAnswering(() => ({ status: 200 }));
  const report = await gateway.sendToClient(ALICE, { type: 'hello' });
  assert.deepEqual(report.sent, [ALICE]);
  assert.equal(requests.length, 1);
  const [request] = requests as [ConnectionsRequest];
  assert.equal(request.method, 'POST');
  assert.equal(request.url, `${CALLBACK}/@connections/AliceConnId0001%3D`);
  assert.equal(request.connectionId, ALICE);
  assert.equal(request.headers.host, 'abc123defg.execute-api.eu-west-1.amazonaws.com');
  assert.equal(request.headers['content-type'], 'application/octet-stream');
  assert.equal(request.headers['content-length'], String(Buffer.byteLength('{"type":"hello"}')));
  assert.match(
    request.headers.authorization!,
    /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/,
  );
  assert.match(request.headers['x-amz-date']!, /^\d{8}T\d{6}Z$/);
  assert.equal(Buffer.from(request.body!).toString('utf8'), '{"type":"hello"}');
});

test('410 GoneException: the recipient is gone and its connection item is pruned', async () => {
  const { gateway } = gatewayAnswering((request) =>
    request.connectionId === BOB ? { status: 410, errorType: 'GoneException:http://internal.amazon.com/coral/' } : { status: 200 },
  );
  await register(gateway, ALICE);
  await register(gateway, BOB);
  const report = await gateway.sendToAll('bye', { clientIds: [ALICE, BOB] });
  assert.deepEqual(report.sent, [ALICE]);
  assert.deepEqual(report.gone, [BOB]);
  assert.equal(await gateway.getConnection(BOB), undefined);
  assert.ok(await gateway.getConnection(ALICE));
  await gateway.unregisterConnection(ALICE);
});

test('429 is retried with the SDK backoff; past maxRetries it is a ThrottledError', async () => {
  const twice = gatewayAnswering((_request, attempt) => (attempt <= 2 ? { status: 429, errorType: 'LimitExceededException' } : { status: 200 }));
  assert.deepEqual((await twice.gateway.sendToClient(ALICE, 'x')).sent, [ALICE]);
  assert.equal(twice.requests.length, 3);

  const always = gatewayAnswering(() => ({ status: 429, errorType: 'LimitExceededException', body: '{"message":"Rate exceeded"}' }));
  const report = await always.gateway.sendToClient(ALICE, 'x');
  assert.equal(always.requests.length, 4, 'the first attempt and maxRetries (3) retries');
  assert.ok(report.failed[0]?.error instanceof ThrottledError);
  assert.match(report.failed[0]!.error.message, /429 LimitExceededException: Rate exceeded/);
});

test('403 fails the recipient at once; a transport that throws is a network failure after the retries', async () => {
  const forbidden = gatewayAnswering(() => ({ status: 403, errorType: 'ForbiddenException', body: '{"message":"Forbidden"}' }));
  const denied = await forbidden.gateway.sendToClient(ALICE, 'x');
  assert.equal(forbidden.requests.length, 1);
  assert.ok(denied.failed[0]?.error instanceof ForbiddenError);

  const broken = gatewayAnswering(() => {
    throw new Error('socket hang up');
  });
  const report = await broken.gateway.sendToClient(ALICE, 'x');
  assert.equal(broken.requests.length, 4);
  assert.ok(report.failed[0]?.error instanceof NetworkError);
  assert.match(report.failed[0]!.error.message, /socket hang up/);
});

test('a 403 for a skewed signature with a Date: the SDK takes the offset and signs once more, later requests keep it', async () => {
  const serverNow = Date.now() + 10 * 60_000;
  const serverDate = new Date(serverNow).toUTCString();
  let answered = 0;
  const { gateway, requests } = gatewayAnswering(() =>
    ++answered === 1
      ? {
          status: 403,
          errorType: 'InvalidSignatureException',
          body: '{"message":"Signature not yet current: 20261201T090000Z is still later than 20261201T091000Z"}',
          date: serverDate,
        }
      : { status: 200 },
  );
  assert.deepEqual((await gateway.sendToClient(ALICE, 'x')).sent, [ALICE]);
  assert.equal(requests.length, 2);
  const signedAt = (r: ConnectionsRequest) =>
    Date.parse(r.headers['x-amz-date']!.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  assert.ok(Math.abs(signedAt(requests[1]!) - serverNow) < 5_000, "the second attempt is signed on the server's clock");
  assert.deepEqual((await gateway.sendToClient(BOB, 'y')).sent, [BOB]);
  assert.equal(requests.length, 3);
  assert.ok(Math.abs(signedAt(requests[2]!) - serverNow) < 5_000);
});

test('GET and DELETE go through the transport too: isOnline and destroyClient', async () => {
  const { gateway, requests } = gatewayAnswering((request) =>
    request.method === 'GET'
      ? request.connectionId === ALICE
        ? {
            status: 200,
            body: JSON.stringify({ connectedAt: '2026-12-01T08:00:00.000Z', lastActiveAt: '2026-12-01T08:01:00.000Z', identity: { sourceIp: '127.0.0.1' } }),
          }
        : { status: 410, errorType: 'GoneException' }
      : { status: 204 },
  );
  assert.equal(await gateway.isOnline(ALICE), true);
  assert.equal(await gateway.isOnline(BOB), false);
  await register(gateway, ALICE);
  assert.equal(await gateway.destroyClient(ALICE), true);
  assert.deepEqual(
    requests.map((r) => `${r.method} ${r.connectionId}`),
    [`GET ${ALICE}`, `GET ${BOB}`, `DELETE ${ALICE}`],
  );
  assert.equal(requests[2]!.body, undefined);
  await gateway.unregisterConnection(ALICE);
});

test('a connectionsTransport that is not a function is a ConfigurationError before any call', () => {
  assert.throws(
    () => harness.newGateway({ connectionsTransport: 'http://mock' as never }),
    (error: Error) => error instanceof ConfigurationError && /connectionsTransport must be a function, got/.test(error.message),
  );
});
