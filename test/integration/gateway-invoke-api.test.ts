// Fidelity item 6: the Lambda invoke API, through the unmodified @aws-sdk/client-lambda.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { LocalGateway } from '../../local/index.ts';
import { eventually } from '../helpers/wsClient.ts';
import { lambdaClient } from '../helpers/awsClients.ts';

let gw: LocalGateway;
let lambda: LambdaClient;
const received: unknown[] = [];
const failures: unknown[] = [];
let flakyCalls = 0;

before(async () => {
  gw = new LocalGateway({
    ttlSweepIntervalMs: 0,
    asyncRetryDelaysMs: [10, 20],
    routes: {},
    functions: {
      add: async (event: { a: number; b: number }) => ({ sum: event.a + event.b }),
      fails: async () => {
        throw new TypeError('bad input');
      },
      record: async (event: unknown) => void received.push(event),
      flaky: {
        handler: async () => {
          flakyCalls++;
          throw new Error(`attempt ${flakyCalls}`);
        },
        onFailure: 'deadLetters',
      },
      deadLetters: async (record: unknown) => void failures.push(record),
    },
  });
  await gw.start();
  lambda = lambdaClient(gw.endpoints);
});
after(() => gw.stop());

const decode = (payload?: Uint8Array) => JSON.parse(Buffer.from(payload ?? []).toString('utf8'));

test('RequestResponse answers 200 with the function result', async () => {
  const result = await lambda.send(new InvokeCommand({ FunctionName: 'add', Payload: JSON.stringify({ a: 2, b: 3 }) }));
  assert.equal(result.StatusCode, 200);
  assert.equal(result.FunctionError, undefined);
  assert.equal(result.ExecutedVersion, '$LATEST');
  assert.deepEqual(decode(result.Payload), { sum: 5 });
});

test('a function error answers 200 with X-Amz-Function-Error and the error payload', async () => {
  const result = await lambda.send(new InvokeCommand({ FunctionName: 'fails', Payload: '{}' }));
  assert.equal(result.StatusCode, 200);
  assert.equal(result.FunctionError, 'Unhandled');
  const error = decode(result.Payload);
  assert.equal(error.errorType, 'TypeError');
  assert.equal(error.errorMessage, 'bad input');
  assert.ok(Array.isArray(error.trace));
});

test('an Event invocation answers 202 and runs in the background', async () => {
  const result = await lambda.send(new InvokeCommand({ FunctionName: 'record', InvocationType: 'Event', Payload: '{"n":1}' }));
  assert.equal(result.StatusCode, 202);
  await eventually(() => received.length === 1);
  assert.deepEqual(received[0], { n: 1 });
});

test('ARNs and qualified names resolve to the function', async () => {
  for (const name of [gw.functions.arn('add'), `${gw.functions.arn('add')}:$LATEST`, 'add:$LATEST']) {
    const result = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: '{"a":1,"b":1}' }));
    assert.deepEqual(decode(result.Payload), { sum: 2 }, name);
  }
});

test('an unknown function answers 404 ResourceNotFoundException', async () => {
  await assert.rejects(lambda.send(new InvokeCommand({ FunctionName: 'nope' })), (e: Error & { $metadata: { httpStatusCode: number } }) => {
    assert.equal(e.name, 'ResourceNotFoundException');
    assert.equal(e.$metadata.httpStatusCode, 404);
    return true;
  });
});

test('a DryRun answers 204 without running the function', async () => {
  const before = received.length;
  const result = await lambda.send(new InvokeCommand({ FunctionName: 'record', InvocationType: 'DryRun' }));
  assert.equal(result.StatusCode, 204);
  assert.equal(received.length, before);
});

test('a failing Event invocation is retried twice, then its on-failure destination gets the record', async () => {
  await lambda.send(new InvokeCommand({ FunctionName: 'flaky', InvocationType: 'Event', Payload: '{"job":7}' }));
  const [record] = (await eventually(
    () => failures,
    (f) => f.length === 1,
  )) as Array<Record<string, any>>;
  assert.equal(flakyCalls, 3);
  assert.equal(record!.requestContext.condition, 'RetriesExhausted');
  assert.equal(record!.requestContext.approximateInvokeCount, 3);
  assert.deepEqual(record!.requestPayload, { job: 7 });
  assert.equal(record!.responsePayload.errorMessage, 'attempt 3');
  assert.equal(gw.functions.asyncFailures().length, 1);
});

test('a payload that is not JSON answers 400 InvalidRequestContentException', async () => {
  await assert.rejects(lambda.send(new InvokeCommand({ FunctionName: 'add', Payload: 'not json' })), { name: 'InvalidRequestContentException' });
});
