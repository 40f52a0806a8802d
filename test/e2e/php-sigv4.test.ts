/**
 * PHP's SigV4 signer (clients/php/SigV4Signer.php, run by Debian's php-cli) against AWS's published
 * test vectors, the project's own signer (sdk/sigv4.ts) and @smithy/signature-v4: the same request
 * in, the same Authorization header out, for the Lambda Invoke requests the PHP client sends and for
 * generated requests with odd paths, queries, header spacing and session tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256Js } from '@smithy/core/checksum';
import { SigV4Signer, amzDate, sha256Hex } from '../../sdk/sigv4.ts';

const SIGN_PHP = fileURLToPath(new URL('../helpers/php/sigv4-sign.php', import.meta.url));

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

interface Request {
  region: string;
  service: string;
  method: string;
  /** As sent: percent-encoded once. */
  path: string;
  query?: Record<string, string>;
  headers: Record<string, string>;
  body?: string;
  credentials: Credentials;
}

/** Signs every request in one php-cli run. */
function phpAuthorizations(requests: readonly Request[]): string[] {
  return JSON.parse(execFileSync('php', [SIGN_PHP], { input: JSON.stringify(requests), encoding: 'utf8' })) as string[];
}

function projectAuthorization(r: Request): string {
  return new SigV4Signer(r.region, r.service).authorization(
    { method: r.method, path: r.path, query: r.query, headers: r.headers, payloadHash: sha256Hex(r.body ?? '') },
    r.credentials,
    r.headers['x-amz-date']!.slice(0, 8),
  );
}

async function smithyAuthorization(r: Request): Promise<string> {
  const [hostname, port] = r.headers.host!.split(':');
  const longDate = r.headers['x-amz-date']!;
  const signingDate = new Date(
    `${longDate.slice(0, 4)}-${longDate.slice(4, 6)}-${longDate.slice(6, 8)}T${longDate.slice(9, 11)}:${longDate.slice(11, 13)}:${longDate.slice(13, 15)}Z`,
  );
  const signer = new SignatureV4({ service: r.service, region: r.region, credentials: r.credentials, sha256: Sha256Js, applyChecksum: false });
  const signed = await signer.sign(
    {
      protocol: 'https:',
      method: r.method,
      hostname: hostname!,
      ...(port ? { port: Number(port) } : {}),
      path: r.path,
      query: r.query ?? {},
      headers: { ...r.headers },
      body: r.body,
    },
    { signingDate },
  );
  return (signed.headers as Record<string, string>).authorization!;
}

// AWS's SigV4 test suite (aws-sig-v4-test-suite): its example credentials, date, region and service.
const SUITE_CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const suite = (name: string, method: string, path: string, query: Record<string, string>, signature: string) => ({
  name,
  request: {
    region: 'us-east-1',
    service: 'service',
    method,
    path,
    query,
    headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' },
    credentials: SUITE_CREDENTIALS,
  },
  expected: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`,
});
const VECTORS = [
  suite('get-vanilla', 'GET', '/', {}, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'),
  suite('post-vanilla', 'POST', '/', {}, '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'),
  suite(
    'get-vanilla-query-order-key-case',
    'GET',
    '/',
    { Param2: 'value2', Param1: 'value1' },
    'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
  ),
];

test("AWS's published SigV4 test vectors", () => {
  const signed = phpAuthorizations(VECTORS.map((v) => v.request));
  for (const [i, vector] of VECTORS.entries()) {
    assert.equal(signed[i], vector.expected, vector.name);
    assert.equal(projectAuthorization(vector.request), vector.expected, `${vector.name} (the project's signer agrees)`);
  }
});

const DATE = amzDate(new Date('2026-03-04T05:06:07Z')).longDate;
const TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLE//////////token+with/odd=chars';

/** The request GatewayApiClient sends to Lambda's Invoke for a function name or ARN. */
function invokeRequest(functionName: string, credentials: Credentials, host = 'lambda.eu-west-3.amazonaws.com'): Request {
  const body = JSON.stringify({ method: 'sendToUid', args: ['wörld ✓', 'hi'] });
  return {
    region: 'eu-west-3',
    service: 'lambda',
    method: 'POST',
    path: `/2015-03-31/functions/${encodeURIComponent(functionName).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}/invocations`,
    headers: {
      host,
      'content-type': 'application/json',
      'x-amz-date': DATE,
      'x-amz-invocation-type': 'RequestResponse',
      ...(credentials.sessionToken ? { 'x-amz-security-token': credentials.sessionToken } : {}),
    },
    body,
    credentials,
  };
}

test("Lambda Invoke requests as the PHP client sends them: the same signature as the project's signer and @smithy/signature-v4", async () => {
  const requests = [
    invokeRequest('ServerlessGatewayWorker-GatewayApiFunctionA4AD3F18-abc', SUITE_CREDENTIALS),
    invokeRequest('arn:aws:lambda:eu-west-3:123456789012:function:gateway-api:live', { ...SUITE_CREDENTIALS, sessionToken: TOKEN }),
    invokeRequest('GatewayGatewayApiFunctionA4AD3F18', { accessKeyId: 'local', secretAccessKey: 'local' }, '127.0.0.1:3001'),
  ];
  const signed = phpAuthorizations(requests);
  for (const [i, request] of requests.entries()) {
    assert.equal(signed[i], projectAuthorization(request), request.path);
    assert.equal(signed[i], await smithyAuthorization(request), request.path);
  }
});

test('generated requests: paths, queries, header spacing and tokens sign alike in PHP, the project and @smithy', async () => {
  const segment = fc.string({ unit: fc.constantFrom(..."aZ09-_.~!*'()@:=+ %/é✓".split('')), minLength: 1, maxLength: 12 });
  const headerValue = fc.string({ unit: fc.constantFrom(...'ab c\t  1='.split('')), maxLength: 12 });
  const requests = fc
    .sample(
      fc.record({
        segments: fc.array(segment, { minLength: 1, maxLength: 4 }),
        query: fc.dictionary(fc.string({ unit: fc.constantFrom(...'abC*( )'.split('')), minLength: 1, maxLength: 4 }), fc.string({ maxLength: 6 }), {
          maxKeys: 3,
        }),
        custom: headerValue,
        token: fc.option(fc.constant(TOKEN), { nil: undefined }),
        body: fc.string({ maxLength: 40 }),
        method: fc.constantFrom('GET', 'POST', 'DELETE'),
      }),
      { numRuns: 60, seed: 1234 },
    )
    .map(
      (g): Request => ({
        region: 'ap-southeast-2',
        service: 'lambda',
        method: g.method,
        path: `/${g.segments.map((s) => encodeURIComponent(s)).join('/')}`,
        query: g.query,
        headers: {
          host: 'lambda.ap-southeast-2.amazonaws.com',
          'x-amz-date': DATE,
          'X-Custom-Header': g.custom,
          'user-agent': 'never signed',
          ...(g.token ? { 'x-amz-security-token': g.token } : {}),
        },
        body: g.body,
        credentials: { ...SUITE_CREDENTIALS, ...(g.token ? { sessionToken: g.token } : {}) },
      }),
    );
  const signed = phpAuthorizations(requests);
  for (const [i, request] of requests.entries()) {
    assert.equal(signed[i], projectAuthorization(request), `${request.method} ${request.path} ${JSON.stringify(request.query)}`);
    assert.equal(signed[i], await smithyAuthorization(request), `${request.method} ${request.path} ${JSON.stringify(request.query)}`);
  }
});
