// The local gateway checks a SigV4 signature's credential scope as AWS does (local/credentialScope.ts):
// a client signed for another region or service than the endpoint's is refused with 403
// InvalidSignatureException in AWS's words, before anything is delivered or invoked, so a
// misconfigured region fails here as it would on AWS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { withGateway } from '../helpers/withGateway.ts';
import { connect } from '../helpers/wsClient.ts';
import { checkCredentialScope } from '../../local/credentialScope.ts';
import { ForbiddenError, Gateway } from '../../sdk/index.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const WRONG_REGION = "Credential should be scoped to a valid region, not 'eu-west-1'. ";

test('@connections signed for another region: 403 from the stock client and the SDK, nothing delivered; the right region delivers', async () => {
  await withGateway({ region: 'us-east-2', routes: { $default: async () => undefined } }, async (gw) => {
    const ws = await connect(gw.endpoints.wsUrl);
    const id = gw.openConnectionIds()[0]!;
    const stock = new ApiGatewayManagementApiClient({ endpoint: gw.endpoints.callbackUrl, region: 'eu-west-1', credentials, maxAttempts: 1 });
    await assert.rejects(
      stock.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('stock') })),
      (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.deepEqual([error.name, error.message, error.$metadata?.httpStatusCode], ['InvalidSignatureException', WRONG_REGION, 403]);
        return true;
      },
    );
    stock.destroy();

    const sdk = new Gateway({
      callbackUrl: gw.endpoints.callbackUrl,
      tables: { connections: 'c-table', sessions: 's-table', memberships: 'm-table', uids: 'u-table', groups: 'g-table' },
      region: 'eu-west-1',
      credentials,
    });
    const report = await sdk.sendToClient(id, 'sdk');
    assert.deepEqual(report.sent, []);
    const error = report.failed[0]?.error;
    assert.ok(error instanceof ForbiddenError && error.message.includes(WRONG_REGION.trim()), String(error));
    sdk.destroy();

    const right = new ApiGatewayManagementApiClient({ endpoint: gw.endpoints.callbackUrl, region: gw.endpoints.region, credentials, maxAttempts: 1 });
    await right.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('right') }));
    right.destroy();
    assert.deepEqual(ws.messages, ['right'], 'the refused posts delivered nothing');
    await ws.close();
  });
});

test('Invoke signed for another region is refused before the function runs; the right region runs it', async () => {
  let runs = 0;
  await withGateway({ region: 'us-east-2', routes: { $default: async () => undefined }, functions: { worker: async () => void runs++ } }, async (gw) => {
    const wrong = new LambdaClient({ endpoint: gw.endpoints.httpUrl, region: 'eu-west-1', credentials, maxAttempts: 1 });
    await assert.rejects(wrong.send(new InvokeCommand({ FunctionName: 'worker', Payload: Buffer.from('{}') })), {
      name: 'InvalidSignatureException',
      message: WRONG_REGION,
    });
    wrong.destroy();
    assert.equal(runs, 0);
    const right = new LambdaClient({ endpoint: gw.endpoints.httpUrl, region: gw.endpoints.region, credentials, maxAttempts: 1 });
    assert.equal((await right.send(new InvokeCommand({ FunctionName: 'worker', Payload: Buffer.from('{}') }))).StatusCode, 200);
    right.destroy();
    assert.equal(runs, 1);
  });
});

test('checkCredentialScope on its own: region, then service, then the shape of the scope', () => {
  const at = (credential: string) =>
    checkCredentialScope(
      { headers: { authorization: `AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=host, Signature=00` } } as never,
      'us-east-1',
      'execute-api',
    );
  assert.equal(at('AKID/20261201/us-east-1/execute-api/aws4_request'), undefined);
  assert.deepEqual(at('AKID/20261201/eu-west-1/execute-api/aws4_request'), { status: 403, errorType: 'InvalidSignatureException', message: WRONG_REGION });
  assert.deepEqual(at('AKID/20261201/us-east-1/lambda/aws4_request'), {
    status: 403,
    errorType: 'InvalidSignatureException',
    message: "Credential should be scoped to correct service: 'execute-api'. ",
  });
  assert.equal(at('AKID/20261201/us-east-1/execute-api')?.errorType, 'IncompleteSignatureException');
  assert.equal(at('AKID/2026-12-01/us-east-1/execute-api/aws4_request')?.errorType, 'IncompleteSignatureException');
  assert.equal(checkCredentialScope({ headers: {} } as never, 'us-east-1', 'execute-api'), undefined, 'no Authorization: the missing-token answer comes first');
});
