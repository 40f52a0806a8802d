/**
 * The SDK's own async Lambda Invoke (sdk/lambdaInvoke.ts) on real HTTP: against a loopback server
 * that records what arrives (and answers what Lambda answers when things go wrong), against the
 * unmodified @aws-sdk/client-lambda sending the same invocation, and against the local gateway's
 * invoke API; then through Fanout, whose retries and typed errors apply to its failures.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256Js } from '@smithy/core/checksum';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { LambdaEventInvoker, lambdaEndpoint, type FanoutInvokeCommand } from '../../sdk/lambdaInvoke.ts';
import { ConfigurationError, ForbiddenError, Gateway, NetworkError, ServiceError, ThrottledError, type FanoutInvoker } from '../../sdk/index.ts';
import { LocalGateway } from '../../local/index.ts';
import { eventually } from '../helpers/wsClient.ts';

const REGION = 'eu-west-3';
const STATIC = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const WITH_TOKEN = { ...STATIC, sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//////////token+with/odd=chars' };
const ARN = 'arn:aws:lambda:eu-west-3:123456789012:function:fanout-worker';
const tables = { connections: 'c-table', sessions: 'c-sessions', memberships: 'c-memberships', uids: 'u-table', groups: 'g-table' };

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
  readonly socket: Socket;
}

type Answer = (req: Received, res: ServerResponse) => void;

/** A loopback HTTP server that records every request and answers with `answer` (202 by default). */
async function recorder(answer: Answer = (_req, res) => res.writeHead(202, { 'x-amzn-Remapped-Content-Length': '0' }).end()) {
  const requests: Received[] = [];
  const sockets = new Set<Socket>();
  let respond = answer;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks), socket: req.socket };
      requests.push(received);
      respond(received, res);
    });
  });
  server.on('connection', (socket) => (sockets.add(socket), socket.on('close', () => sockets.delete(socket))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    sockets,
    answer: (next: Answer) => void (respond = next),
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

const awsError =
  (status: number, type: string, body: unknown, headers: Record<string, string> = {}): Answer =>
  (_req, res) => {
    res
      .writeHead(status, { 'content-type': 'application/json', 'x-amzn-ErrorType': type, ...headers })
      .end(typeof body === 'string' ? body : JSON.stringify(body));
  };

const command = (FunctionName: string, payload: unknown = { hello: 'wörld' }): FanoutInvokeCommand => ({
  input: { FunctionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) },
});

/** The Authorization @smithy/signature-v4 computes for the request as it arrived (its own signed headers, its date). */
async function smithyAuthorization(received: Received, credentials: typeof STATIC | typeof WITH_TOKEN): Promise<string> {
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(String(received.headers.authorization))![1]!.split(';');
  const headers = Object.fromEntries(signedHeaders.map((name) => [name, String(received.headers[name])]));
  const date = String(received.headers['x-amz-date']);
  const signingDate = new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
  const signer = new SignatureV4({ service: 'lambda', region: REGION, credentials, sha256: Sha256Js, applyChecksum: false });
  const [hostname, port] = headers.host!.split(':');
  const signed = await signer.sign(
    {
      method: received.method,
      protocol: 'http:',
      hostname: hostname!,
      ...(port ? { port: Number(port) } : {}),
      path: received.url,
      query: {},
      headers,
      body: received.body,
    },
    { signingDate },
  );
  return String(signed.headers.authorization);
}

describe('the wire: what the invoker sends', () => {
  let server: Awaited<ReturnType<typeof recorder>>;
  before(async () => (server = await recorder()));
  after(() => server.close());

  for (const [label, credentials] of [
    ['static credentials', STATIC],
    ['a session token', WITH_TOKEN],
  ] as const) {
    for (const functionName of ['fanout-worker', ARN]) {
      test(`${functionName === ARN ? 'a function ARN' : 'a plain name'} with ${label}: the AWS SDK's path and headers, a signature @smithy/signature-v4 agrees with`, async () => {
        const invoker = new LambdaEventInvoker({ endpoint: server.url, region: REGION, credentials });
        const sdk = new LambdaClient({ endpoint: server.url, region: REGION, credentials, maxAttempts: 1 });
        try {
          const payload = command(functionName);
          assert.deepEqual(await invoker.send(payload), { StatusCode: 202 });
          const ours = server.requests.at(-1)!;
          await sdk.send(new InvokeCommand(payload.input));
          const theirs = server.requests.at(-1)!;

          assert.equal(ours.method, 'POST');
          assert.equal(ours.url, theirs.url);
          assert.equal(ours.url, `/2015-03-31/functions/${functionName.replaceAll(':', '%3A')}/invocations`);
          assert.equal(ours.headers['x-amz-invocation-type'], 'Event');
          assert.equal(ours.headers['x-amz-invocation-type'], theirs.headers['x-amz-invocation-type']);
          assert.equal(ours.headers['x-amz-security-token'], theirs.headers['x-amz-security-token']);
          assert.equal(ours.headers['x-amz-security-token'], 'sessionToken' in credentials ? credentials.sessionToken : undefined);
          assert.deepEqual(ours.body, Buffer.from(payload.input.Payload));
          assert.deepEqual(ours.body, theirs.body);
          const authorization = String(ours.headers.authorization);
          assert.match(authorization, new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\\d{8}/${REGION}/lambda/aws4_request, SignedHeaders=`));
          const signed = /SignedHeaders=([^,]+)/.exec(authorization)![1]!.split(';');
          for (const name of ['host', 'x-amz-date', 'x-amz-invocation-type', 'content-type', 'content-length'])
            assert.ok(signed.includes(name), `${name} is signed`);
          assert.equal(signed.includes('x-amz-security-token'), 'sessionToken' in credentials);
          assert.equal(authorization, await smithyAuthorization(ours, credentials));
          // Both requests reused a kept-alive socket after the first.
          assert.equal(ours.headers.connection, 'keep-alive');
        } finally {
          invoker.destroy();
          sdk.destroy();
        }
      });
    }
  }

  test('an endpoint with a path keeps it in front of the API path', async () => {
    const invoker = new LambdaEventInvoker({ endpoint: `${server.url}/prefix/`, region: REGION, credentials: STATIC });
    try {
      await invoker.send(command('w'));
      assert.equal(server.requests.at(-1)!.url, '/prefix/2015-03-31/functions/w/invocations');
    } finally {
      invoker.destroy();
    }
  });

  test('destroy() closes the kept-alive socket', async () => {
    const invoker = new LambdaEventInvoker({ endpoint: server.url, region: REGION, credentials: STATIC });
    await invoker.send(command('w'));
    const socket = server.requests.at(-1)!.socket;
    assert.ok(!socket.destroyed);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    invoker.destroy();
    await closed;
  });

  test('credentials from a provider; a provider that fails is a ConfigurationError and nothing is sent', async () => {
    let calls = 0;
    const invoker = new LambdaEventInvoker({ endpoint: server.url, region: REGION, credentials: async () => (calls++, WITH_TOKEN) });
    const failing = new LambdaEventInvoker({ endpoint: server.url, region: REGION, credentials: async () => Promise.reject(new Error('no profile')) });
    try {
      await invoker.send(command('w'));
      await invoker.send(command('w'));
      assert.equal(calls, 1);
      assert.equal(server.requests.at(-1)!.headers['x-amz-security-token'], WITH_TOKEN.sessionToken);
      const before = server.requests.length;
      await assert.rejects(
        failing.send(command('w')),
        (e: unknown) => e instanceof ConfigurationError && /could not load AWS credentials: no profile/.test(e.message),
      );
      assert.equal(server.requests.length, before);
    } finally {
      invoker.destroy();
      failing.destroy();
    }
  });
});

describe('the endpoint, as the AWS SDK resolves it', () => {
  test('AWS_ENDPOINT_URL_LAMBDA, then AWS_ENDPOINT_URL, then the public endpoint (amazonaws.com.cn in China)', () => {
    assert.equal(
      lambdaEndpoint('us-east-1', { AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:4567', AWS_ENDPOINT_URL: 'http://127.0.0.1:1' }).href,
      'http://127.0.0.1:4567/',
    );
    assert.equal(lambdaEndpoint('us-east-1', { AWS_ENDPOINT_URL: 'http://127.0.0.1:1/base' }).href, 'http://127.0.0.1:1/base');
    assert.equal(lambdaEndpoint('eu-west-3', {}).href, 'https://lambda.eu-west-3.amazonaws.com/');
    assert.equal(lambdaEndpoint('cn-north-1', {}).href, 'https://lambda.cn-north-1.amazonaws.com.cn/');
    assert.equal(lambdaEndpoint('cn-northwest-1', {}).href, 'https://lambda.cn-northwest-1.amazonaws.com.cn/');
    assert.equal(
      lambdaEndpoint('eu-west-3', { AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:1', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' }).href,
      'https://lambda.eu-west-3.amazonaws.com/',
    );
    // An empty variable counts as unset, as with the AWS SDK.
    assert.equal(lambdaEndpoint('eu-west-3', { AWS_ENDPOINT_URL_LAMBDA: '', AWS_ENDPOINT_URL: 'http://127.0.0.1:2' }).href, 'http://127.0.0.1:2/');
  });

  test('the same host the AWS SDK picks for each case', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['eu-west-3', {}],
      ['cn-north-1', {}],
      ['us-east-1', { AWS_ENDPOINT_URL: 'http://127.0.0.1:7/base' }],
      ['us-east-1', { AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:8', AWS_ENDPOINT_URL: 'http://127.0.0.1:7' }],
    ];
    const saved = { ...process.env };
    try {
      for (const [region, env] of cases) {
        delete process.env.AWS_ENDPOINT_URL_LAMBDA;
        delete process.env.AWS_ENDPOINT_URL;
        Object.assign(process.env, env);
        // The AWS SDK resolves its endpoint per request; a middleware reads it and stops before the network.
        const sdk = new LambdaClient({ region, credentials: STATIC, maxAttempts: 1 });
        let url: string | undefined;
        sdk.middlewareStack.add(
          () => async (args) => {
            const request = args.request as { protocol: string; hostname: string; port?: number; path: string };
            url = `${request.protocol}//${request.hostname}${request.port ? `:${request.port}` : ''}${request.path}`;
            throw new Error('stop');
          },
          { step: 'finalizeRequest' },
        );
        await assert.rejects(sdk.send(new InvokeCommand({ FunctionName: 'w', InvocationType: 'Event' })), /stop/);
        sdk.destroy();
        const invoker = new LambdaEventInvoker({ region, credentials: STATIC });
        assert.equal(`${invoker.endpoint.protocol}//${invoker.endpoint.host}${invoker.pathFor('w')}`, url, `${region} ${JSON.stringify(env)}`);
        invoker.destroy();
      }
    } finally {
      for (const key of ['AWS_ENDPOINT_URL_LAMBDA', 'AWS_ENDPOINT_URL'])
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
    }
  });

  test('a malformed endpoint is a ConfigurationError when the Gateway is built, before any call', () => {
    assert.throws(
      () => lambdaEndpoint('us-east-1', { AWS_ENDPOINT_URL_LAMBDA: 'not a url' }),
      (e: unknown) => e instanceof ConfigurationError && /is not a URL/.test(e.message),
    );
    assert.throws(
      () => lambdaEndpoint('us-east-1', { AWS_ENDPOINT_URL: 'ftp://127.0.0.1/' }),
      (e: unknown) => e instanceof ConfigurationError && /must be http\(s\), got ftp:/.test(e.message),
    );
    const saved = process.env.AWS_ENDPOINT_URL_LAMBDA;
    process.env.AWS_ENDPOINT_URL_LAMBDA = 'not a url';
    try {
      assert.throws(
        () => new Gateway({ callbackUrl: 'http://127.0.0.1:9/local', tables, region: 'us-east-1', credentials: STATIC, fanout: { functionName: 'w' } }),
        (e: unknown) => e instanceof ConfigurationError && /AWS_ENDPOINT_URL_LAMBDA/.test(e.message),
      );
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_LAMBDA;
      else process.env.AWS_ENDPOINT_URL_LAMBDA = saved;
    }
  });
});

describe('failures: named as the AWS SDK names them, typed and retried by Fanout', () => {
  let server: Awaited<ReturnType<typeof recorder>>;
  before(async () => (server = await recorder()));
  after(() => server.close());

  const invoker = (options: { timeoutMs?: number; maxAttempts?: number } = {}) =>
    new LambdaEventInvoker({ endpoint: server.url, region: REGION, credentials: STATIC, ...options });

  test("a 4xx/5xx answer: `name` from x-amzn-ErrorType (its ':' suffix dropped) or the body's __type, the status in $metadata", async () => {
    const lambda = invoker();
    try {
      const cases: Array<[Answer, { name: string; message: string; status: number }]> = [
        [
          awsError(429, 'TooManyRequestsException', { Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', Type: 'User', message: 'Rate Exceeded.' }),
          { name: 'TooManyRequestsException', message: 'Rate Exceeded.', status: 429 },
        ],
        [
          awsError(404, 'ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.awslambda/', { Type: 'User', Message: 'Function not found: x' }),
          { name: 'ResourceNotFoundException', message: 'Function not found: x', status: 404 },
        ],
        [
          awsError(403, 'AccessDeniedException', { Message: 'not authorized to perform: lambda:InvokeFunction' }),
          { name: 'AccessDeniedException', message: 'not authorized to perform: lambda:InvokeFunction', status: 403 },
        ],
        [
          (_req, res) =>
            res
              .writeHead(400, { 'content-type': 'application/json' })
              .end(JSON.stringify({ __type: 'com.amazon.coral#InvalidRequestContentException', message: 'bad json' })),
          { name: 'InvalidRequestContentException', message: 'bad json', status: 400 },
        ],
        // A proxy's HTML page: no type anywhere, the body's start as the message.
        [
          (_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>'),
          { name: 'Http502', message: '<html>Bad Gateway</html>', status: 502 },
        ],
        [(_req, res) => res.writeHead(500).end(), { name: 'Http500', message: 'HTTP 500', status: 500 }],
      ];
      for (const [answer, expected] of cases) {
        server.answer(answer);
        await assert.rejects(lambda.send(command('w')), (e: unknown) => {
          const error = e as Error & { $metadata?: { httpStatusCode?: number } };
          assert.deepEqual({ name: error.name, message: error.message, status: error.$metadata?.httpStatusCode }, expected);
          return true;
        });
      }
    } finally {
      lambda.destroy();
    }
  });

  test('no answer within timeoutMs: an error with no status (a network failure)', async () => {
    server.answer(() => undefined);
    const lambda = invoker({ timeoutMs: 150 });
    try {
      await assert.rejects(lambda.send(command('w')), (e: unknown) => {
        assert.match((e as Error).message, /no answer within 150 ms/);
        assert.equal((e as { $metadata?: unknown }).$metadata, undefined);
        return true;
      });
    } finally {
      lambda.destroy();
    }
  });

  test('maxAttempts retries 429, 5xx and network failures, not other 4xx', async () => {
    const lambda = invoker({ maxAttempts: 3 });
    try {
      let n = 0;
      server.answer((req, res) => (++n <= 2 ? awsError(503, 'ServiceException', { message: 'busy' })(req, res) : res.writeHead(202).end()));
      assert.deepEqual(await lambda.send(command('w')), { StatusCode: 202 });
      assert.equal(n, 3);
      n = 0;
      server.answer((req, res) => (++n, awsError(429, 'TooManyRequestsException', { message: 'Rate Exceeded.' })(req, res)));
      await assert.rejects(lambda.send(command('w')), { name: 'TooManyRequestsException' });
      assert.equal(n, 3);
      n = 0;
      server.answer((req, res) => (++n, awsError(400, 'InvalidParameterValueException', { message: 'no' })(req, res)));
      await assert.rejects(lambda.send(command('w')), { name: 'InvalidParameterValueException' });
      assert.equal(n, 1);
    } finally {
      lambda.destroy();
    }
  });

  test('a kept-alive socket the server reset is replaced once, on a fresh socket', async () => {
    const lambda = invoker();
    try {
      server.answer((_req, res) => res.writeHead(202).end());
      await lambda.send(command('w'));
      const first = server.requests.at(-1)!.socket;
      // The next request arrives on the same socket; the server resets it instead of answering.
      server.answer((req, res) => (req.socket === first ? req.socket.resetAndDestroy() : res.writeHead(202).end()));
      const before = server.requests.length;
      assert.deepEqual(await lambda.send(command('w')), { StatusCode: 202 });
      assert.equal(server.requests.length - before, 2);
      assert.notEqual(server.requests.at(-1)!.socket, first);
    } finally {
      lambda.destroy();
    }
  });

  test("clock skew: a 403 for the signature's time is signed again with the offset from Date, once; later invokes keep it", async () => {
    const lambda = invoker();
    const serverMs = Date.now() + 20 * 60_000;
    const expired = awsError(
      403,
      'InvalidSignatureException',
      { message: 'Signature expired: 20260101T000000Z is now earlier than 20260101T001500Z (20260101T002000Z - 5 min.)' },
      { date: new Date(serverMs).toUTCString() },
    );
    try {
      let n = 0;
      server.answer((req, res) => (++n === 1 ? expired(req, res) : res.writeHead(202).end()));
      const before = server.requests.length;
      assert.deepEqual(await lambda.send(command('w')), { StatusCode: 202 });
      assert.equal(n, 2);
      const [refused, resent] = server.requests.slice(before).map((r) => String(r.headers['x-amz-date']));
      const signedMs = (date: string) =>
        Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
      assert.ok(Math.abs(signedMs(resent!) - serverMs) < 5_000, `resent at ${resent}, the server's clock says ${new Date(serverMs).toISOString()}`);
      assert.ok(signedMs(resent!) - signedMs(refused!) > 19 * 60_000);
      assert.ok(Math.abs(lambda.signer.clockOffsetMs - 20 * 60_000) < 5_000);
      // A refusal that persists: one re-signed attempt per invoke, then the error; another 403: none.
      n = 0;
      server.answer((req, res) => (++n, expired(req, res)));
      await assert.rejects(lambda.send(command('w')), { name: 'InvalidSignatureException' });
      assert.equal(n, 2);
      n = 0;
      server.answer(
        (req, res) => (
          ++n,
          awsError(
            403,
            'InvalidSignatureException',
            { message: 'The request signature we calculated does not match the signature you provided.' },
            { date: new Date().toUTCString() },
          )(req, res)
        ),
      );
      await assert.rejects(lambda.send(command('w')), { name: 'InvalidSignatureException' });
      assert.equal(n, 1);
    } finally {
      lambda.destroy();
    }
  });

  const fanoutGateway = (fanout: Record<string, unknown>) =>
    new Gateway({
      callbackUrl: 'http://127.0.0.1:9/local',
      tables,
      region: 'us-east-1',
      credentials: STATIC,
      fanout: { functionName: ARN, threshold: 0, chunkSize: 10, ...fanout },
    });

  const ids = Array.from({ length: 10 }, (_, i) => `AAAAAAAAAAAAA${String(i).padStart(2, '0')}=`);

  /** One chunked send through the Gateway's own invoker to the recorder; the error every recipient got, and the attempts. */
  async function chunkedSend(answer: Answer, fanout: Record<string, unknown> = {}) {
    const saved = process.env.AWS_ENDPOINT_URL_LAMBDA;
    process.env.AWS_ENDPOINT_URL_LAMBDA = server.url;
    let gateway: Gateway;
    try {
      gateway = fanoutGateway({ maxRetries: 2, ...fanout });
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_LAMBDA;
      else process.env.AWS_ENDPOINT_URL_LAMBDA = saved;
    }
    let attempts = 0;
    server.answer((req, res) => (attempts++, answer(req, res)));
    try {
      const report = await gateway.sendToAll('hello', { clientIds: ids });
      return { report, attempts, error: report.failed[0]?.error };
    } finally {
      gateway.destroy();
    }
  }

  test('through Fanout: 202 queues the chunk, signed for the ARN', async () => {
    const { report, attempts } = await chunkedSend((_req, res) => res.writeHead(202).end());
    assert.equal(attempts, 1);
    assert.deepEqual([report.queued?.chunks, report.queued?.failedChunks, report.failed.length], [1, 0, 0]);
    const request = server.requests.at(-1)!;
    assert.equal(request.url, `/2015-03-31/functions/${ARN.replaceAll(':', '%3A')}/invocations`);
    assert.deepEqual(JSON.parse(request.body.toString()).recipients, ids);
    assert.match(String(request.headers.authorization), /Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/lambda\/aws4_request/);
  });

  test('through Fanout: 429 TooManyRequestsException is retried, then a ThrottledError', async () => {
    const { attempts, error, report } = await chunkedSend(awsError(429, 'TooManyRequestsException', { message: 'Rate Exceeded.' }));
    assert.equal(attempts, 3);
    assert.equal(report.failed.length, ids.length);
    assert.ok(error instanceof ThrottledError, String(error));
    assert.match(error.message, /Invoke \(Event\) of .* failed: TooManyRequestsException: Rate Exceeded\./);
  });

  test('through Fanout: 403 is a ForbiddenError, not retried', async () => {
    const { attempts, error } = await chunkedSend(awsError(403, 'AccessDeniedException', { Message: 'not authorized' }));
    assert.equal(attempts, 1);
    assert.ok(error instanceof ForbiddenError, String(error));
  });

  test('through Fanout: 404 ResourceNotFoundException is a ServiceError carrying the type, not retried', async () => {
    const { attempts, error } = await chunkedSend(awsError(404, 'ResourceNotFoundException', { Type: 'User', Message: 'Function not found' }));
    assert.equal(attempts, 1);
    assert.ok(error instanceof ServiceError, String(error));
    assert.deepEqual([error.statusCode, error.errorType], [404, 'ResourceNotFoundException']);
  });

  test('through Fanout: a 5xx with a non-JSON body is retried, then a ServiceError', async () => {
    const { attempts, error } = await chunkedSend((_req, res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable'));
    assert.equal(attempts, 3);
    assert.ok(error instanceof ServiceError, String(error));
    assert.deepEqual([error.statusCode, error.errorType], [503, 'Http503']);
  });

  test('through Fanout: no answer in time is a NetworkError after the retries', async () => {
    // The Gateway's invoker uses the default 10 s timeout; Fanout's view of a timeout is the same error
    // with no status, so a short-timeout invoker given as fanout.lambda stands for it here.
    const lambda = invoker({ timeoutMs: 100 });
    let attempts = 0;
    server.answer(() => void attempts++);
    const gateway = fanoutGateway({ lambda, maxRetries: 1 });
    try {
      const report = await gateway.sendToAll('hello', { clientIds: ids });
      assert.equal(attempts, 2);
      assert.ok(report.failed[0]?.error instanceof NetworkError, String(report.failed[0]?.error));
    } finally {
      gateway.destroy();
      lambda.destroy();
    }
  });

  test('fanout.lambda: a LambdaClient gets an InvokeCommand (loaded on first use), a stand-in the plain command', async () => {
    server.answer((_req, res) => res.writeHead(202).end());
    const client = new LambdaClient({ endpoint: server.url, region: REGION, credentials: STATIC, maxAttempts: 1 });
    const seen: unknown[] = [];
    const realSend = client.send.bind(client) as (c: unknown) => Promise<unknown>;
    (client as unknown as { send: (c: unknown) => Promise<unknown> }).send = (c) => (seen.push(c), realSend(c));
    const standIn: FanoutInvoker = { send: async (c) => (seen.push(c), { StatusCode: 202 }) };
    for (const lambda of [client as unknown as FanoutInvoker, standIn]) {
      const gateway = fanoutGateway({ lambda });
      const report = await gateway.sendToAll('hello', { clientIds: ids });
      assert.equal(report.queued?.chunks, 1);
      gateway.destroy();
    }
    assert.ok(seen[0] instanceof InvokeCommand);
    assert.ok(!(seen[1] instanceof InvokeCommand));
    assert.equal((seen[1] as FanoutInvokeCommand).input.FunctionName, ARN);
    client.destroy();
  });
});

describe("the local gateway's invoke API", () => {
  let gw: LocalGateway;
  const received: unknown[] = [];
  before(async () => {
    gw = new LocalGateway({ ttlSweepIntervalMs: 0, routes: {}, functions: { record: async (event: unknown) => void received.push(event) } });
    await gw.start();
  });
  after(() => gw.stop());

  test('accepts the signed Event invoke by name and by ARN (202) and runs the function; an unknown function is ResourceNotFoundException', async () => {
    const lambda = new LambdaEventInvoker({
      endpoint: gw.endpoints.httpUrl,
      region: gw.endpoints.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      assert.deepEqual(await lambda.send(command('record', { by: 'name' })), { StatusCode: 202 });
      assert.deepEqual(await lambda.send(command(`arn:aws:lambda:${gw.endpoints.region}:000000000000:function:record`, { by: 'arn' })), { StatusCode: 202 });
      await eventually(() => received.length === 2);
      assert.deepEqual(new Set(received), new Set([{ by: 'name' }, { by: 'arn' }]));
      await assert.rejects(lambda.send(command('missing')), (e: unknown) => {
        const error = e as Error & { $metadata: { httpStatusCode: number } };
        assert.deepEqual([error.name, error.$metadata.httpStatusCode], ['ResourceNotFoundException', 404]);
        assert.match(error.message, /Function not found: arn:aws:lambda:.*:function:missing/);
        return true;
      });
    } finally {
      lambda.destroy();
    }
  });
});
