/**
 * The Gateway API's allow-list (GatewayBackendProps.gatewayApi.methods, GATEWAY_API_METHODS): a
 * narrowed function refuses every other method with a typed METHOD_NOT_ALLOWED result naming the
 * method, before its arguments are checked and before any network call; a malformed allow-list fails
 * closed. First the handler on the real SDK and the local gateway, then the bundled function (cdk.out)
 * behind the local gateway's Lambda invoke API, as other languages call it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { GatewayHarness, countHttpRequests } from '../../testkit/gatewayHarness.ts';
import { lambdaClient } from '../helpers/awsClients.ts';
import { startGatewayApiApp, type GatewayApiApp } from '../../testkit/gatewayApiApp.ts';
import { createGatewayApiHandler } from '../../lambdas/gatewayApiHandler.ts';
import { allowedMethodsFromEnv, GATEWAY_API_METHODS_ENV, GATEWAY_API_PRESETS, resolveGatewayApiMethods } from '../../lambdas/gatewayApiAccess.ts';
import { GATEWAY_API_METHODS } from '../../lambdas/gatewayApiMethods.ts';
import { ConfigurationError } from '../../sdk/index.ts';

describe('the allow-list', () => {
  test('presets name only existing methods; read-only and send-only do not overlap, and neither holds a write but the sends', () => {
    for (const names of Object.values(GATEWAY_API_PRESETS)) for (const name of names) assert.ok(Object.hasOwn(GATEWAY_API_METHODS, name), name);
    assert.deepEqual(new Set(GATEWAY_API_PRESETS.all), new Set(Object.keys(GATEWAY_API_METHODS)));
    const readOnly = new Set<string>(GATEWAY_API_PRESETS['read-only']);
    for (const write of [
      'bindUid',
      'unbindUid',
      'joinGroup',
      'leaveGroup',
      'ungroup',
      'setSession',
      'updateSession',
      'closeClient',
      'closeUid',
      'destroyClient',
      'destoryClient',
      ...GATEWAY_API_PRESETS['send-only'],
    ]) {
      assert.ok(!readOnly.has(write), `read-only holds ${write}`);
    }
  });

  test('GATEWAY_API_METHODS: unset allows everything; a preset or a list; anything else fails closed with a ConfigurationError naming the variable', () => {
    assert.equal(allowedMethodsFromEnv({}), undefined);
    assert.deepEqual([...allowedMethodsFromEnv({ [GATEWAY_API_METHODS_ENV]: 'send-only' })!].sort(), [...GATEWAY_API_PRESETS['send-only']].sort());
    assert.deepEqual([...allowedMethodsFromEnv({ [GATEWAY_API_METHODS_ENV]: ' isOnline , sendToUid ' })!], ['isOnline', 'sendToUid']);
    for (const bad of ['', ' ', 'readonly', 'isOnline,', 'isOnline,sendToUids', 'constructor', '__proto__']) {
      assert.throws(
        () => allowedMethodsFromEnv({ [GATEWAY_API_METHODS_ENV]: bad }),
        (e: unknown) => e instanceof ConfigurationError && e.message.startsWith(`environment variable ${GATEWAY_API_METHODS_ENV}: `),
        JSON.stringify(bad),
      );
    }
    assert.throws(() => resolveGatewayApiMethods([]), ConfigurationError);
  });
});

describe('a narrowed handler on the local gateway', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  before(async () => {
    h = await GatewayHarness.start();
  });
  after(() => h.stop());

  test('read-only: sendToAll is refused with METHOD_NOT_ALLOWED naming it, before any network call; a query runs', async () => {
    const api = createGatewayApiHandler({ gateway: h.gateway, allowedMethods: allowedMethodsFromEnv({ [GATEWAY_API_METHODS_ENV]: 'read-only' }) });
    const a = await h.connect();
    const { requests, error } = await countHttpRequests(async () => {
      const answer = await api({ method: 'sendToAll', args: ['to everyone'] });
      assert.deepEqual(answer, {
        ok: false,
        error: {
          code: 'METHOD_NOT_ALLOWED',
          name: 'MethodNotAllowedError',
          method: 'sendToAll',
          message: 'method "sendToAll" is not allowed by this Gateway API function (its allow-list: gatewayApi.methods)',
        },
      });
      // Refused before its arguments are looked at: bad arguments do not change the answer.
      const badArgs = await api({ method: 'closeClient', args: [42] });
      assert.ok(!badArgs.ok && badArgs.error.code === 'METHOD_NOT_ALLOWED' && badArgs.error.method === 'closeClient');
    });
    assert.equal(error, undefined);
    assert.equal(requests, 0);
    assert.deepEqual(await api({ method: 'isOnline', args: [a.id] }), { ok: true, result: true });
    // An unknown method is still a VALIDATION error, whatever the allow-list.
    const unknown = await api({ method: 'sendToEveryone', args: [] });
    assert.ok(!unknown.ok && unknown.error.code === 'VALIDATION');
  });

  test('a batch with one call outside the allow-list runs none of its calls', async () => {
    const api = createGatewayApiHandler({ gateway: h.gateway, allowedMethods: allowedMethodsFromEnv({ [GATEWAY_API_METHODS_ENV]: 'sendToUid,isOnline' }) });
    const a = await h.connect();
    const { requests } = await countHttpRequests(async () => {
      const answer = await api({
        calls: [
          { method: 'isOnline', args: [a.id] },
          { method: 'bindUid', args: [a.id, 'allow-list-user'] },
        ],
      });
      assert.ok(!answer.ok);
      assert.deepEqual([answer.error.code, answer.error.method, answer.error.index], ['METHOD_NOT_ALLOWED', 'bindUid', 1]);
      assert.equal('results' in answer ? answer.results : undefined, undefined);
    });
    assert.equal(requests, 0);
    assert.deepEqual(await h.gateway.getClientIdByUid('allow-list-user'), []);
  });
});

describe('the bundled Gateway API function, narrowed to send-only, behind the Lambda invoke API', { timeout: 120_000 }, () => {
  let app: GatewayApiApp;
  before(async () => {
    app = await startGatewayApiApp('gateway-api-allow-list', { functionEnvironment: { [GATEWAY_API_METHODS_ENV]: 'send-only' } });
  });
  after(() => app?.stop());

  test('a read is refused as a normal result (no function error); a send goes through', async () => {
    const lambda = lambdaClient(app.endpoints);
    try {
      const client = await app.connect();
      const invoke = async (payload: unknown) => {
        const answer = await lambda.send(new InvokeCommand({ FunctionName: app.functionName, Payload: JSON.stringify(payload) }));
        return { functionError: answer.FunctionError, body: JSON.parse(Buffer.from(answer.Payload!).toString('utf8')) };
      };
      const refused = await invoke({ method: 'getAllClientSessions', args: [] });
      assert.equal(refused.functionError, undefined);
      assert.deepEqual([refused.body.ok, refused.body.error.code, refused.body.error.method], [false, 'METHOD_NOT_ALLOWED', 'getAllClientSessions']);
      const bind = await invoke({ method: 'bindUid', args: [client.id, 'allow-list-bundled'] });
      assert.deepEqual([bind.body.ok, bind.body.error.code], [false, 'METHOD_NOT_ALLOWED']);
      assert.deepEqual(await app.sdk.getClientIdByUid('allow-list-bundled'), []);
      const sent = await invoke({ method: 'sendToClient', args: [client.id, 'allowed'] });
      assert.deepEqual(sent.body, { ok: true, result: { recipients: 1, sent: [client.id], gone: [], failed: [] } });
      assert.equal(await client.message(1), 'allowed');
      await client.close();
    } finally {
      lambda.destroy();
    }
  });
});
