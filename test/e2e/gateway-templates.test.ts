// SAM and Serverless Framework apps written for these tests, each served unchanged by the command
// (`--template`, `--serverless`) in a child process and driven by `ws` clients: $connect stores the
// connection in the app's table, a custom route replies through @connections at the URL its event
// gives, $disconnect deletes the item.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ApiGatewayManagementApiClient, GoneException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { connect, eventually, refusedStatus } from '../helpers/wsClient.ts';
import { startGatewayCli, type RunningCli } from '../helpers/gatewayCli.ts';

const fixture = (path: string) => fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url));

function clientsFor(cli: RunningCli) {
  const { AWS_REGION: region, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_ENDPOINT_URL_DYNAMODB: endpoint } = cli.exports;
  const credentials = { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! };
  return {
    documents: DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region, credentials })),
    management: new ApiGatewayManagementApiClient({ endpoint: cli.callbackUrl, region, credentials, maxAttempts: 1 }),
  };
}

test('a SAM app (template.yaml) is served unchanged: connect, a TypeScript route replying through @connections, the table, disconnect', async () => {
  // The package's command (local/bin.ts), as `npx serverless-gateway-worker` runs it.
  const cli = await startGatewayCli(
    ['--template', fixture('sam-app/template.yaml'), '--parameter-overrides', 'StageName=test', 'Greeting=hi', '--port', '0', '--dynamo-port', '0', '--quiet'],
    {},
    'bin',
  );
  try {
    assert.match(cli.wsUrl, /^ws:\/\/127\.0\.0\.1:\d+\/test$/, 'the stage is the StageName parameter as overridden');
    assert.match(cli.output, /Serving sam-app from .*template\.yaml/);
    assert.match(cli.output, /functions: OnConnectFunction, SendMessageFunction, OnDisconnectFunction/);
    // Globals.Function's environment is on every SAM function, and the SimpleTable's name is shared.
    assert.equal(cli.exports.TABLE_NAME, 'sam-app-test-connections');
    assert.match(cli.stderr(), /warning: SendMessageFunction\.Environment: Fn::ImportValue "shared-event-bus" reads another stack's export/);
    assert.doesNotMatch(cli.stderr(), /audit-topic-arn/, 'the !If on a false condition leaves the ImportValue out');
    const { documents, management } = clientsFor(cli);
    const tableName = cli.exports.TABLE_NAME!;

    const alice = await connect(cli.wsUrl);
    const bob = await connect(cli.wsUrl);
    const stored = await documents.send(new ScanCommand({ TableName: tableName }));
    assert.equal(stored.Items?.length, 2, '$connect (CodeUri folder, .mjs) stored both connections');
    // A connection that is gone but still in the table: the route must get GoneException for it.
    const stale = 'AAAAAAAAAAAAAAA=';
    await documents.send(new PutCommand({ TableName: tableName, Item: { connectionId: stale } }));

    alice.send(JSON.stringify({ action: 'sendmessage', data: 'hello all' }));
    assert.equal(await bob.message(0), 'hi: hello all', 'the Greeting parameter reached the bundled TypeScript function');
    const aliceMessages = [await alice.message(0), await alice.message(1)];
    assert.ok(aliceMessages.includes('hi: hello all'), JSON.stringify(aliceMessages));
    const summary = JSON.parse(aliceMessages.find((m) => m.startsWith('{'))!);
    assert.deepEqual(
      summary,
      { delivered: 2, gone: [stale], logLevel: 'INFO' },
      'GoneException from the unmodified SDK inside the function; the Mappings value for stage test',
    );
    assert.equal((await documents.send(new GetCommand({ TableName: tableName, Key: { connectionId: stale } }))).Item, undefined, 'the stale id was deleted');

    const bobId = (await documents.send(new ScanCommand({ TableName: tableName }))).Items!.map((i) => i.connectionId as string);
    await bob.close();
    // $disconnect is the inline (ZipFile) AWS::Lambda::Function.
    const left = await eventually(
      async () => (await documents.send(new ScanCommand({ TableName: tableName }))).Items ?? [],
      (items) => items.length === 1,
    );
    const goneId = bobId.find((id) => id !== left[0]!.connectionId)!;
    // The unmodified client on a closed connection: GoneException, as AWS answers it (410, no body).
    const error = await management.send(new PostToConnectionCommand({ ConnectionId: goneId, Data: 'late' })).then(
      () => assert.fail('a post to a closed connection succeeded'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof GoneException, String(error));
    assert.equal((error as GoneException).$metadata.httpStatusCode, 410);
    await alice.close();
  } finally {
    await cli.stop();
  }
});

test('a Serverless Framework app (serverless.yml) is served unchanged: authorizer, variables, a TypeScript route with a route response, the table', async () => {
  const cli = await startGatewayCli(
    ['--serverless', fixture('serverless-app/serverless.yml'), '--stage', 'test', '--port', '0', '--dynamo-port', '0', '--quiet'],
    {
      CHAT_GREETING: 'hey',
    },
  );
  try {
    assert.match(cli.wsUrl, /^ws:\/\/127\.0\.0\.1:\d+\/test$/, '--stage is ${opt:stage} and ${sls:stage}');
    assert.match(cli.output, /Serving chat-test from .*serverless\.yml/);
    assert.equal(cli.exports.TABLE_NAME, 'chat-test-connections', '${self:service}-${sls:stage}-connections');
    assert.equal(cli.exports.AWS_REGION, 'eu-west-1', "${opt:region, 'eu-west-1'}");
    assert.match(cli.stderr(), /warning: function report: event 0 \(schedule\) is not served locally/);
    const { documents } = clientsFor(cli);

    assert.equal(await refusedStatus(cli.wsUrl), 401, 'the authorizer needs its identity source (the token query parameter)');
    assert.equal(await refusedStatus(`${cli.wsUrl}?token=wrong`), 403, 'the authorizer denies a wrong token');
    const ws = await connect(`${cli.wsUrl}?token=letmein`);
    const items = await documents.send(new ScanCommand({ TableName: 'chat-test-connections' }));
    assert.equal(items.Items?.length, 1);
    assert.equal(items.Items![0]!.user, 'alice', "the authorizer's context reached $connect");

    ws.send(JSON.stringify({ type: 'echo', text: 'ping' }));
    const replies = [await ws.message(0), await ws.message(1)].sort();
    // One through @connections (at https://{domainName}/{stage}), one as the route response.
    assert.deepEqual(replies, ['hey alice: ping', JSON.stringify({ echoed: 'ping', stage: 'test' })].sort());

    // A function that throws: the client gets API Gateway's error frame; even with --quiet the
    // console names the function and its error.
    ws.send(JSON.stringify({ type: 'boom' }));
    assert.match(await ws.message(2), /"message": "Internal server error"/);
    await eventually(
      () => cli.stderr(),
      (text) => /boom failed for \S+: function chat-test-boom TypeError: boom from the app/.test(text),
    );

    await ws.close();
    await eventually(
      async () => (await documents.send(new ScanCommand({ TableName: 'chat-test-connections' }))).Items?.length,
      (count) => count === 0,
    );
  } finally {
    await cli.stop();
  }
});
