// Fidelity item 4 (A11 MUST 4): the @connections API, through the unmodified
// @aws-sdk/client-apigatewaymanagementapi client and through raw HTTP for what the SDK never sends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import {
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
  type ApiGatewayManagementApiClient,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { LocalGateway, type WebSocketEvent } from '../../local/index.ts';
import { connect, eventually, type TestClient } from '../helpers/wsClient.ts';
import { managementClient } from '../helpers/awsClients.ts';
import { clientCloseFrame, openRawWebSocket, walkServerFrames } from '../helpers/rawWebSocket.ts';

let gw: LocalGateway;
let client: ApiGatewayManagementApiClient;
const events: WebSocketEvent[] = [];

before(async () => {
  const record = async (e: WebSocketEvent) => void events.push(e);
  gw = new LocalGateway({ stage: 'prod', ttlSweepIntervalMs: 0, routes: { $connect: record, $disconnect: record } });
  await gw.start();
  client = managementClient(gw.endpoints);
});
after(() => gw.stop());

async function open(userAgent?: string): Promise<{ ws: TestClient; id: string }> {
  const count = events.length;
  const ws = await connect(gw.endpoints.wsUrl, userAgent ? { headers: { 'User-Agent': userAgent } } : {});
  return { ws, id: events[count]!.requestContext.connectionId };
}

function rawRequest(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = request(`${gw.endpoints.httpUrl}${path}`, { method, headers }, (res) => {
      let data = '';
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Matches an SDK exception by name and HTTP status. */
function awsError(name: string, status: number) {
  return (error: unknown) => {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    assert.equal(e.name, name);
    assert.equal(e.$metadata?.httpStatusCode, status);
    return true;
  };
}

const SIGNED = {
  Authorization: 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00',
  // The gateway refuses a signing time more than 5 minutes off its clock, as AWS does.
  'X-Amz-Date': new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, ''),
};

test('POST delivers the payload to the socket and answers 200', async () => {
  const { ws, id } = await open();
  const result = await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: '{"type":"push"}' }));
  assert.equal(result.$metadata.httpStatusCode, 200);
  assert.equal(await ws.message(0), '{"type":"push"}');
  await ws.close();
});

test('GET answers 200 with connectedAt, lastActiveAt and identity', async () => {
  const { ws, id } = await open('agent/2');
  const info = await client.send(new GetConnectionCommand({ ConnectionId: id }));
  assert.equal(info.$metadata.httpStatusCode, 200);
  assert.equal(info.ConnectedAt!.getTime(), events.find((e) => e.requestContext.connectionId === id)!.requestContext.connectedAt);
  assert.ok(info.LastActiveAt!.getTime() >= info.ConnectedAt!.getTime());
  assert.deepEqual(info.Identity, { SourceIp: '127.0.0.1', UserAgent: 'agent/2' });
  const raw = await rawRequest('GET', `/prod/@connections/${encodeURIComponent(id)}`, SIGNED);
  assert.deepEqual(Object.keys(JSON.parse(raw.body)), ['connectedAt', 'identity', 'lastActiveAt']);
  await ws.close();
});

test('DELETE answers 204, closes the socket and fires $disconnect', async () => {
  const { ws, id } = await open();
  const result = await client.send(new DeleteConnectionCommand({ ConnectionId: id }));
  assert.equal(result.$metadata.httpStatusCode, 204);
  const closed = await ws.closed;
  assert.equal(closed.code, 1000);
  await eventually(() => events.some((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === id));
});

test('an unknown or closed connection gets 410 GoneException on POST, GET and DELETE', async () => {
  const { ws, id } = await open();
  await ws.close();
  await eventually(() => gw.getConnection(id) === 'gone');
  for (const connectionId of [id, 'AAAAAAAAAAAAAAA=']) {
    await assert.rejects(client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'x' })), awsError('GoneException', 410));
    await assert.rejects(client.send(new GetConnectionCommand({ ConnectionId: connectionId })), { name: 'GoneException' });
    await assert.rejects(client.send(new DeleteConnectionCommand({ ConnectionId: connectionId })), { name: 'GoneException' });
  }
  const raw = await rawRequest('POST', '/prod/@connections/AAAAAAAAAAAAAAA%3D', SIGNED, 'x');
  assert.equal(raw.status, 410);
  assert.equal(raw.headers['x-amzn-errortype'], 'GoneException');
  assert.equal(raw.body, '', 'AWS sends a 410 with no body');
  // What the stock v3 client makes of that answer, as Lambda logs on AWS show it: an instance of
  // GoneException whose message is "UnknownError" (the body carries no message).
  const error = await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'x' })).catch((e: unknown) => e);
  assert.ok(error instanceof GoneException, String(error));
  assert.equal(error.message, 'UnknownError');
});

test('during the close handshake a POST, GET or DELETE gets 410 GoneException and nothing is delivered', async () => {
  // The client sends its close frame and keeps its side of the TCP connection open: the server has
  // answered the close (its close frame is the signal) and waits in its closing state for the TCP
  // close. Nothing here depends on timing: the state is held until the client ends the socket.
  const count = events.length;
  const raw = await openRawWebSocket(gw.endpoints.wsUrl, { allowHalfOpen: true });
  const id = events[count]!.requestContext.connectionId;
  raw.socket.write(clientCloseFrame(4000));
  assert.equal(await raw.closeCode, 4000, 'the server echoed the close: it is closing');
  await assert.rejects(client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'too late' })), awsError('GoneException', 410));
  await assert.rejects(client.send(new GetConnectionCommand({ ConnectionId: id })), awsError('GoneException', 410));
  await assert.rejects(client.send(new DeleteConnectionCommand({ ConnectionId: id })), awsError('GoneException', 410));
  assert.equal(walkServerFrames(raw.received()).textFrames, 0, 'no data frame was sent');
  assert.ok(!events.some((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === id), '$disconnect waits for the TCP close');
  raw.socket.end();
  await eventually(() => events.some((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === id));
  const disconnect = events.find((e) => e.requestContext.eventType === 'DISCONNECT' && e.requestContext.connectionId === id)!;
  assert.equal((disconnect.requestContext as { disconnectStatusCode?: number }).disconnectStatusCode, 4000);
});

test('a malformed connection id gets 400 BadRequestException', async () => {
  for (const bad of ['short', 'AAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAA+=', 'AAAAAAAAAAAAAAA==']) {
    await assert.rejects(client.send(new PostToConnectionCommand({ ConnectionId: bad, Data: 'x' })), awsError('BadRequestException', 400));
  }
});

test('a payload over 128 KB gets 413 PayloadTooLargeException and exactly 128 KB is delivered', async () => {
  const { ws, id } = await open();
  await assert.rejects(
    client.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.alloc(131073, 97) })),
    awsError('PayloadTooLargeException', 413),
  );
  await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.alloc(131072, 98) }));
  assert.equal((await ws.message(0)).length, 131072, 'a message over 32 KB is sent in frames and reassembled');
  await ws.close();
});

test('a request without a SigV4 Authorization header gets 403', async () => {
  const { ws, id } = await open();
  const raw = await rawRequest('POST', `/prod/@connections/${encodeURIComponent(id)}`, {}, 'x');
  assert.equal(raw.status, 403);
  assert.equal(raw.headers['x-amzn-errortype'], 'MissingAuthenticationTokenException');
  assert.equal(ws.messages.length, 0);
  await ws.close();
});

test('URL-encoded paths are accepted: %40connections and %3D, as the SDK and AWS docs write them', async () => {
  const { ws, id } = await open();
  const encodedId = id.replace('=', '%3D');
  for (const path of [`/prod/%40connections/${encodedId}`, `/prod/@connections/${encodedId}`, `/prod/@connections/${id}`]) {
    const raw = await rawRequest('POST', path, SIGNED, path);
    assert.equal(raw.status, 200, path);
  }
  await ws.message(2);
  await ws.close();
});

test('a path outside the stage, or another method, is refused with 403', async () => {
  const { ws, id } = await open();
  assert.equal((await rawRequest('POST', `/other/@connections/${encodeURIComponent(id)}`, SIGNED, 'x')).status, 403);
  assert.equal((await rawRequest('PUT', `/prod/@connections/${encodeURIComponent(id)}`, SIGNED, 'x')).status, 403);
  await ws.close();
});

test('non-UTF-8 data arrives as a binary frame, UTF-8 as text', async () => {
  const { ws, id } = await open();
  await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from([0xff, 0x00, 0xfe]) }));
  await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'héllo' }));
  assert.equal(await ws.message(0), `binary:${Buffer.from([0xff, 0x00, 0xfe]).toString('base64')}`);
  assert.equal(await ws.message(1), 'héllo');
  await ws.close();
});
