/**
 * The bundled Gateway API function (cdk.out) behind the local gateway's Lambda invoke API, called as
 * other languages call it: the unmodified @aws-sdk/client-lambda, the AWS CLI v2 (Debian's awscli,
 * /usr/bin/aws) running example/cli/send-to-uid.sh, and Python's boto3 (Debian's python3-boto3)
 * running example/python/send_to_uid.py, each with only the environment `npm start` prints. The
 * guide docs/guides/other-languages.md shows both scripts; this test also checks it shows them as they are.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { lambdaClient } from '../helpers/awsClients.ts';
import { startGatewayApiApp, type GatewayApiApp } from '../../testkit/gatewayApiApp.ts';
import { GATEWAY_API_FUNCTION_ENV } from '../../lambdas/gatewayApiProtocol.ts';

const run = promisify(execFile);
const GUIDE = readFileSync(new URL('../../docs/guides/other-languages.md', import.meta.url), 'utf8');
/** Debian's tools, not an older AWS CLI v1 or another Python earlier on PATH. */
const SYSTEM_PATH = '/usr/bin:/bin';

describe('the Gateway API from other clients', { timeout: 120_000 }, () => {
  let app: GatewayApiApp;
  before(async () => {
    app = await startGatewayApiApp('gateway-api-clients');
  });
  after(() => app?.stop());

  test('the printed environment names the Gateway API function, and the gateway serves it', () => {
    assert.equal(app.env[GATEWAY_API_FUNCTION_ENV], app.functionName);
    assert.match(app.functionName, /GatewayApiFunction/);
    assert.ok(app.gateway.functions.names().includes(app.functionName));
  });

  test('the AWS SDK for JavaScript: one invocation binds and joins; a refused call is a normal result, not a function error', async () => {
    const lambda = lambdaClient(app.endpoints);
    try {
      const client = await app.connect();
      const invoke = async (payload: unknown) => {
        const answer = await lambda.send(new InvokeCommand({ FunctionName: app.functionName, Payload: JSON.stringify(payload) }));
        return { statusCode: answer.StatusCode, functionError: answer.FunctionError, body: JSON.parse(Buffer.from(answer.Payload!).toString('utf8')) };
      };
      const bound = await invoke({
        calls: [
          { method: 'bindUid', args: [client.id, 'sdk-user'] },
          { method: 'joinGroup', args: [client.id, 'sdk-room'] },
        ],
      });
      assert.deepEqual(bound, {
        statusCode: 200,
        functionError: undefined,
        body: {
          ok: true,
          results: [
            { ok: true, result: null },
            { ok: true, result: null },
          ],
        },
      });
      assert.deepEqual(await app.sdk.getClientIdByUid('sdk-user'), [client.id]);
      assert.deepEqual(await app.sdk.getClientIdListByGroup('sdk-room'), [client.id]);

      const sent = await invoke({ method: 'sendToGroup', args: ['sdk-room', 'to the room'] });
      assert.deepEqual(sent.body, { ok: true, result: { recipients: 1, sent: [client.id], gone: [], failed: [] } });
      assert.equal(await client.message(1), 'to the room');

      const refused = await invoke({ method: 'bindUid', args: ['not-an-id', 'x'] });
      assert.equal(refused.statusCode, 200);
      assert.equal(refused.functionError, undefined);
      assert.equal(refused.body.ok, false);
      assert.equal(refused.body.error.code, 'VALIDATION');
      await client.close();
    } finally {
      lambda.destroy();
    }
  });

  test('the AWS CLI v2 runs the documented push unchanged with the printed environment', async () => {
    const client = await app.connect();
    await app.sdk.bindUid(client.id, 'alice');
    const { stdout } = await run('sh', ['example/cli/send-to-uid.sh'], { env: { ...app.env, PATH: SYSTEM_PATH, HOME: '/tmp' } });
    const answer = JSON.parse(stdout) as { ok: boolean; result: { sent: string[] } };
    assert.equal(answer.ok, true);
    assert.deepEqual(answer.result.sent, [client.id]);
    assert.equal(await client.message(1), 'hi');
    await app.sdk.unbindUid(client.id);
    await client.close();
  });

  test('boto3 runs the documented push unchanged with the printed environment', async () => {
    const client = await app.connect();
    await app.sdk.bindUid(client.id, 'alice');
    const { stdout } = await run('python3', ['example/python/send_to_uid.py'], { env: { ...app.env, PATH: SYSTEM_PATH, HOME: '/tmp' } });
    const result = JSON.parse(stdout) as { sent: string[] };
    assert.deepEqual(result.sent, [client.id]);
    assert.equal(await client.message(1), 'hi');
    await app.sdk.unbindUid(client.id);
    await client.close();
  });

  test('the other-languages guide quotes both scripts as they are', () => {
    for (const path of ['example/cli/send-to-uid.sh', 'example/python/send_to_uid.py']) {
      assert.ok(GUIDE.includes(readFileSync(path, 'utf8').trim()), `docs/guides/other-languages.md shows ${path} as it is`);
    }
  });
});

describe('the Gateway API with bind tokens required (the construct default)', { timeout: 120_000 }, () => {
  let app: GatewayApiApp;
  before(async () => {
    app = await startGatewayApiApp('gateway-api-bind-tokens', { requireBindToken: true });
  });
  after(() => app?.stop());

  test("bindUid and joinGroup take the init message's bind_token as their last argument; without it, or with another client's, BIND_TOKEN and nothing written", async () => {
    const lambda = lambdaClient(app.endpoints);
    try {
      const invoke = async (payload: unknown) => {
        const answer = await lambda.send(new InvokeCommand({ FunctionName: app.functionName, Payload: JSON.stringify(payload) }));
        assert.equal(answer.FunctionError, undefined);
        return JSON.parse(Buffer.from(answer.Payload!).toString('utf8'));
      };
      const a = await app.connect();
      const b = await app.connect();
      assert.match(a.bindToken, /^v2\./);
      const missing = await invoke({ method: 'bindUid', args: [a.id, 'token-user'] });
      assert.deepEqual([missing.error.code, missing.error.reason, missing.error.connectionId], ['BIND_TOKEN', 'missing', a.id]);
      const stolen = await invoke({
        calls: [
          { method: 'bindUid', args: [a.id, 'token-user', b.bindToken] },
          { method: 'joinGroup', args: [a.id, 'token-room', b.bindToken] },
        ],
      });
      assert.deepEqual([stolen.error.code, stolen.error.reason, stolen.error.index], ['BIND_TOKEN', 'mismatch', 0]);
      assert.deepEqual(await app.sdk.getClientIdByUid('token-user'), [], 'nothing was written');
      const bound = await invoke({
        calls: [
          { method: 'bindUid', args: [a.id, 'token-user', a.bindToken] },
          { method: 'joinGroup', args: [a.id, 'token-room', a.bindToken] },
        ],
      });
      assert.deepEqual(bound, {
        ok: true,
        results: [
          { ok: true, result: null },
          { ok: true, result: null },
        ],
      });
      assert.deepEqual(await app.sdk.getClientIdListByGroup('token-room'), [a.id]);
      assert.deepEqual(await invoke({ method: 'verifyBindToken', args: [a.id, a.bindToken] }), { ok: true, result: true });
      assert.deepEqual(await invoke({ method: 'verifyBindToken', args: [a.id, b.bindToken] }), { ok: true, result: false });
      await a.close();
      await b.close();
    } finally {
      lambda.destroy();
    }
  });
});
