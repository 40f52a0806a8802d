/**
 * The SDK's own SigV4 signer against the AWS SDK's: same request in, same Authorization header out;
 * and the fast path addresses the same URL as ApiGatewayManagementApiClient.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256Js } from '@smithy/core/checksum';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { SigV4Signer, amzDate, canonicalPath, escapeUri, sha256Hex } from '../../sdk/sigv4.ts';
import { Gateway } from '../../sdk/index.ts';

const TEST_TABLES_FOR_SIGV4 = {
  connections: 'unused-connections',
  sessions: 'unused-sessions',
  memberships: 'unused-memberships',
  uids: 'unused-uids',
  groups: 'unused-groups',
};

const ID = 'Ab-_cD3fGh1Jk-2=';
const DATE = new Date('2026-03-04T05:06:07.890Z');
const STATIC = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const WITH_TOKEN = { ...STATIC, sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//////////token+with/odd=chars' };

async function smithyAuthorization(
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  request: {
    method: string;
    hostname: string;
    port?: number;
    path: string;
    query?: Record<string, string>;
    headers: Record<string, string>;
    body?: Uint8Array | string;
  },
): Promise<Record<string, string>> {
  const signer = new SignatureV4({ service: 'execute-api', region: 'eu-west-3', credentials, sha256: Sha256Js, applyChecksum: false });
  const signed = await signer.sign({ protocol: 'https:', query: {}, ...request }, { signingDate: DATE });
  return signed.headers as Record<string, string>;
}

for (const [label, credentials] of [
  ['static credentials', STATIC],
  ['credentials with a session token', WITH_TOKEN],
] as const) {
  test(`the signer's Authorization equals @smithy/signature-v4's for a POST to @connections (${label})`, async () => {
    const body = Buffer.from('{"hello":"wörld","n":1}');
    const path = `/prod/@connections/${encodeURIComponent(ID)}`;
    const host = 'abc123defg.execute-api.eu-west-3.amazonaws.com';
    const { longDate, shortDate } = amzDate(DATE);
    const headers: Record<string, string> = {
      host,
      'x-amz-content-sha256': sha256Hex(body),
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'x-amz-date': longDate,
      ...('sessionToken' in credentials ? { 'x-amz-security-token': credentials.sessionToken } : {}),
    };
    const expected = await smithyAuthorization(credentials, { method: 'POST', hostname: host, path, headers, body });
    const ours = new SigV4Signer('eu-west-3', 'execute-api');
    assert.equal(ours.authorization({ method: 'POST', path, headers, payloadHash: sha256Hex(body) }, credentials, shortDate), expected.authorization);
    // The minimal form used on the fast path signs host, x-amz-date and the token only.
    const minimalHeaders: Record<string, string> = { host, 'x-amz-date': longDate };
    if ('sessionToken' in credentials) minimalHeaders['x-amz-security-token'] = credentials.sessionToken;
    const expectedMinimal = await smithyAuthorization(credentials, { method: 'POST', hostname: host, path, headers: minimalHeaders, body });
    assert.equal(
      ours.minimalAuthorization('POST', canonicalPath(path), host, longDate, shortDate, credentials, sha256Hex(body)),
      expectedMinimal.authorization,
    );
  });
}

test('the signer matches @smithy/signature-v4 for GET and DELETE with an empty body, a port, odd header spacing and a query', async () => {
  const signer = new SigV4Signer('eu-west-3', 'execute-api');
  const { longDate, shortDate } = amzDate(DATE);
  for (const method of ['GET', 'DELETE']) {
    const headers = { host: '127.0.0.1:4510', 'x-amz-date': longDate, 'X-Custom': '  a   b\tc ', 'user-agent': 'not signed' };
    const path = `/local/stage.v2/@connections/${encodeURIComponent(ID)}`;
    const query = { b: '2', a: 'x y', 'c*': "(')" };
    const expected = await smithyAuthorization(STATIC, { method, hostname: '127.0.0.1', port: 4510, path, query, headers: { ...headers } });
    assert.equal(signer.authorization({ method, path, query, headers, payloadHash: sha256Hex('') }, STATIC, shortDate), expected.authorization);
  }
});

test('the canonical URI double-encodes the path as the AWS SDK does', () => {
  assert.equal(canonicalPath('/prod/@connections/Ab-_cD3fGh1Jk-2%3D'), '/prod/%40connections/Ab-_cD3fGh1Jk-2%253D');
  assert.equal(canonicalPath('/prod/%40connections/Ab-_cD3fGh1Jk-2%3D'), '/prod/%2540connections/Ab-_cD3fGh1Jk-2%253D');
  assert.equal(canonicalPath('//a/./b/../c/'), '/a/c/');
  assert.equal(escapeUri("!'()*"), '%21%27%28%29%2A');
});

test('the signing key is cached per day and recomputed when the day or the secret changes', () => {
  const signer = new SigV4Signer('us-east-1', 'execute-api');
  const first = signer.signingKey('secret', '20260304');
  assert.equal(signer.signingKey('secret', '20260304'), first);
  assert.notEqual(signer.signingKey('secret', '20260305'), first);
  assert.notEqual(signer.signingKey('other', '20260305').toString('hex'), first.toString('hex'));
});

/** Captures the first request an HTTP server receives, answering 200. */
async function captureOne(run: (url: string) => Promise<unknown>): Promise<{ method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }> {
  let captured: { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer } | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      captured ??= { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      res.writeHead(200, { 'content-length': 0 });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  return captured!;
}

test('the fast path posts to the same URL as ApiGatewayManagementApiClient, with a signature the AWS SDK agrees with', async () => {
  const body = Buffer.from('same bytes');
  const stock = await captureOne(async (endpoint) => {
    const client = new ApiGatewayManagementApiClient({ endpoint, region: 'eu-west-3', credentials: WITH_TOKEN });
    await client.send(new PostToConnectionCommand({ ConnectionId: ID, Data: body }));
    client.destroy();
  });
  const ours = await captureOne(async (endpoint) => {
    const gateway = new Gateway({ callbackUrl: endpoint, tables: TEST_TABLES_FOR_SIGV4, region: 'eu-west-3', credentials: WITH_TOKEN });
    const report = await gateway.sendToClient(ID, body);
    gateway.destroy();
    assert.deepEqual(report.sent, [ID]);
  });
  assert.equal(stock.method, 'POST');
  assert.equal(ours.method, 'POST');
  assert.equal(ours.url, stock.url);
  assert.equal(ours.url, `/prod/@connections/${encodeURIComponent(ID)}`);
  assert.deepEqual(ours.body, stock.body);
  assert.equal(ours.headers['x-amz-security-token'], WITH_TOKEN.sessionToken);
  // Re-sign what we sent with the AWS SDK's signer at the same x-amz-date: the headers must agree.
  const date = ours.headers['x-amz-date'] as string;
  const signingDate = new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
  const signer = new SignatureV4({ service: 'execute-api', region: 'eu-west-3', credentials: WITH_TOKEN, sha256: Sha256Js, applyChecksum: false });
  const resigned = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      path: ours.url,
      query: {},
      headers: { host: ours.headers.host!, 'x-amz-date': date, 'x-amz-security-token': WITH_TOKEN.sessionToken },
      body,
    },
    { signingDate },
  );
  assert.equal(ours.headers.authorization, resigned.headers.authorization);
  // And the stock client's own signature checks out with our signer over its signed headers.
  const stockAuth = stock.headers.authorization as string;
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(stockAuth)![1]!.split(';');
  const stockSigned = Object.fromEntries(signedHeaders.map((h) => [h, String(stock.headers[h])]));
  const stockDate = stock.headers['x-amz-date'] as string;
  assert.equal(
    new SigV4Signer('eu-west-3', 'execute-api').authorization(
      { method: 'POST', path: stock.url, headers: stockSigned, payloadHash: sha256Hex(stock.body) },
      WITH_TOKEN,
      stockDate.slice(0, 8),
    ),
    stockAuth,
  );
});
