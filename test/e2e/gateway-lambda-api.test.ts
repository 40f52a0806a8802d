// The Lambda API's read operations (ListFunctions, GetFunction, GetFunctionConfiguration) through the
// unmodified @aws-sdk/client-lambda and the AWS CLI v2 (/usr/bin/aws), and the error for any other
// operation: UnknownOperationException, not a credentials error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
  ListFunctionsCommand,
  paginateListFunctions,
  type FunctionConfiguration,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { LocalGateway } from '../../local/index.ts';
import { lambdaClient } from '../helpers/awsClients.ts';

const entry = fileURLToPath(new URL('../../testkit/functions/envProbe.mjs', import.meta.url));
let gw: LocalGateway;
let lambda: LambdaClient;

before(async () => {
  gw = new LocalGateway({
    ttlSweepIntervalMs: 0,
    routes: {},
    functions: {
      probe: {
        entry,
        runtime: 'nodejs22.x',
        timeoutMs: 6000,
        memoryMB: 256,
        role: 'arn:aws:iam::000000000000:role/probe-role',
        environment: { TABLE: 'things' },
      },
      inline: async () => 'hi',
      third: { entry },
    },
  });
  await gw.start();
  lambda = lambdaClient(gw.endpoints);
});
after(() => gw.stop());

function checkProbeConfiguration(configuration: FunctionConfiguration | Record<string, unknown> | undefined): void {
  const c = configuration as Record<string, unknown>;
  assert.equal(c.FunctionName, 'probe');
  assert.equal(c.FunctionArn, 'arn:aws:lambda:us-east-1:000000000000:function:probe');
  assert.equal(c.Runtime, 'nodejs22.x');
  assert.equal(c.Role, 'arn:aws:iam::000000000000:role/probe-role');
  assert.equal(c.Handler, 'envProbe.handler');
  assert.equal(c.Timeout, 6);
  assert.equal(c.MemorySize, 256);
  assert.equal(c.Version, '$LATEST');
  assert.equal(c.State, 'Active');
  assert.equal(c.PackageType, 'Zip');
  assert.deepEqual(c.Environment, { Variables: { TABLE: 'things' } }, "only the function's own variables, as Lambda reports them");
  assert.equal(c.CodeSize, readFileSync(entry).length);
  assert.equal(c.CodeSha256, createHash('sha256').update(readFileSync(entry)).digest('base64'));
  assert.match(String(c.LastModified), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$/);
  assert.deepEqual(c.Architectures, ['x86_64']);
}

test('ListFunctions lists every hosted function, in pages when MaxItems asks for them', async () => {
  const all = await lambda.send(new ListFunctionsCommand({}));
  assert.deepEqual(
    all.Functions!.map((f) => f.FunctionName),
    ['probe', 'inline', 'third'],
  );
  assert.equal(all.NextMarker, undefined);
  checkProbeConfiguration(all.Functions![0]);
  assert.equal(all.Functions![1]!.Runtime, 'nodejs24.x');
  const paged: string[] = [];
  for await (const page of paginateListFunctions({ client: lambda, pageSize: 1 }, {})) {
    assert.ok(page.Functions!.length <= 1);
    paged.push(...page.Functions!.map((f) => f.FunctionName!));
  }
  assert.deepEqual(paged, ['probe', 'inline', 'third']);
  await assert.rejects(lambda.send(new ListFunctionsCommand({ MaxItems: 0 })), { name: 'ValidationException' });
  await assert.rejects(lambda.send(new ListFunctionsCommand({ Marker: 'not-a-marker' })), { name: 'InvalidParameterValueException' });
});

test('GetFunction and GetFunctionConfiguration describe a function by name, ARN or $LATEST', async () => {
  const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'probe' }));
  checkProbeConfiguration(got.Configuration);
  assert.equal(got.Code!.RepositoryType, 'S3');
  assert.match(got.Code!.Location!, /^file:\/\//);
  for (const FunctionName of ['probe', 'arn:aws:lambda:us-east-1:000000000000:function:probe', 'probe:$LATEST']) {
    checkProbeConfiguration(await lambda.send(new GetFunctionConfigurationCommand({ FunctionName })));
  }
  checkProbeConfiguration(await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'probe', Qualifier: '$LATEST' })));
});

test('an unknown function or a version other than $LATEST answers 404 ResourceNotFoundException', async () => {
  await assert.rejects(lambda.send(new GetFunctionCommand({ FunctionName: 'missing' })), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(e.name, 'ResourceNotFoundException');
    assert.equal(e.$metadata?.httpStatusCode, 404);
    assert.match(e.message, /Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing/);
    return true;
  });
  await assert.rejects(lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'probe', Qualifier: '3' })), { name: 'ResourceNotFoundException' });
});

test('another operation answers UnknownOperationException, not a credentials error', async () => {
  await assert.rejects(lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'probe' })), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(e.name, 'UnknownOperationException');
    assert.equal(e.$metadata?.httpStatusCode, 400);
    return true;
  });
  const unsigned = await fetch(`${gw.endpoints.httpUrl}/2015-03-31/functions/`);
  assert.equal(unsigned.status, 403, 'an unsigned request is still refused as unsigned');
  assert.equal(unsigned.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
});

/** Runs AWS CLI v2 against the gateway with throwaway credentials and no user configuration. */
async function awsCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    AWS_PAGER: '',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  try {
    const { stdout, stderr } = await promisify(execFile)('/usr/bin/aws', [...args, '--endpoint-url', gw.endpoints.httpUrl, '--output', 'json'], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('AWS CLI v2: list-functions, get-function and get-function-configuration parse, another operation names UnknownOperationException', async () => {
  const list = await awsCli('lambda', 'list-functions');
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(
    (JSON.parse(list.stdout) as { Functions: Array<{ FunctionName: string }> }).Functions.map((f) => f.FunctionName),
    ['probe', 'inline', 'third'],
  );
  const got = await awsCli('lambda', 'get-function', '--function-name', 'probe');
  assert.equal(got.code, 0, got.stderr);
  checkProbeConfiguration((JSON.parse(got.stdout) as { Configuration: Record<string, unknown> }).Configuration);
  const configuration = await awsCli('lambda', 'get-function-configuration', '--function-name', 'probe');
  assert.equal(configuration.code, 0, configuration.stderr);
  checkProbeConfiguration(JSON.parse(configuration.stdout));
  const missing = await awsCli('lambda', 'get-function', '--function-name', 'missing');
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /\(ResourceNotFoundException\) when calling the GetFunction operation/);
  const unknown = await awsCli('lambda', 'get-function-concurrency', '--function-name', 'probe');
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /\(UnknownOperationException\) when calling the GetFunctionConcurrency operation/);
});
