// The local gateway checks SigV4 signing times as AWS does (local/signingTime.ts): more than 5 minutes
// from its clock is 403 InvalidSignatureException in AWS's words, and its answers' Date header carries
// its clock, which the unmodified AWS SDK corrects its skew from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { LocalGateway } from '../../local/index.ts';
import { basicIso, checkSigningTime, parseBasicIso } from '../../local/signingTime.ts';
import { withGateway } from '../helpers/withGateway.ts';
import { connect } from '../helpers/wsClient.ts';
import { managementClient } from '../helpers/awsClients.ts';
import { Gateway } from '../../sdk/index.ts';

const AUTHORIZATION = 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=00';
const MINUTE = 60_000;

function post(gw: LocalGateway, id: string, headers: Record<string, string>): Promise<{ status: number; errorType?: string; message?: string; date?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${gw.endpoints.callbackUrl}/@connections/${encodeURIComponent(id)}`,
      { method: 'POST', headers: { Authorization: AUTHORIZATION, ...headers } },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            errorType: res.headers['x-amzn-errortype'] as string | undefined,
            message: body ? (JSON.parse(body) as { message?: string }).message : undefined,
            date: res.headers.date,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end('hi');
  });
}

test('basic ISO dates round-trip; impossible dates are refused', () => {
  assert.equal(parseBasicIso('20240425T100521Z'), Date.UTC(2024, 3, 25, 10, 5, 21));
  assert.equal(basicIso(Date.UTC(2024, 3, 25, 10, 5, 21, 999)), '20240425T100521Z');
  for (const bad of ['20240231T000000Z', '2024-04-25T10:05:21Z', '20240425T100521', '20240425T250000Z']) assert.ok(Number.isNaN(parseBasicIso(bad)), bad);
});

test('a signing time more than 5 minutes off is 403 InvalidSignatureException with AWS message; within the window is served', async () => {
  await withGateway({ routes: { $default: async () => undefined } }, async (gw) => {
    const ws = await connect(gw.endpoints.wsUrl);
    const id = gw.openConnectionIds()[0]!;
    const now = Date.now();
    const old = await post(gw, id, { 'X-Amz-Date': basicIso(now - 6 * MINUTE) });
    assert.equal(old.status, 403);
    assert.equal(old.errorType, 'InvalidSignatureException');
    const expired = /^Signature expired: (\d{8}T\d{6}Z) is now earlier than (\d{8}T\d{6}Z) \((\d{8}T\d{6}Z) - 5 min\.\)$/.exec(old.message!);
    assert.ok(expired, old.message);
    assert.equal(expired[1], basicIso(now - 6 * MINUTE));
    assert.equal(parseBasicIso(expired[3]!) - parseBasicIso(expired[2]!), 5 * MINUTE);
    assert.ok(Math.abs(parseBasicIso(expired[3]!) - now) < 5000, 'the last time is the gateway clock');

    const future = await post(gw, id, { 'X-Amz-Date': basicIso(now + 6 * MINUTE) });
    assert.equal(future.status, 403);
    assert.match(future.message!, /^Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 5 min\.\)$/);

    assert.equal((await post(gw, id, { 'X-Amz-Date': basicIso(now - 4 * MINUTE) })).status, 200);
    assert.equal((await post(gw, id, { 'X-Amz-Date': basicIso(now + 4 * MINUTE) })).status, 200);
    assert.equal((await post(gw, id, { Date: new Date(now).toUTCString() })).status, 200, 'a Date header stands in for X-Amz-Date');
    assert.deepEqual(ws.messages, ['hi', 'hi', 'hi'], 'refused posts delivered nothing');

    const none = await post(gw, id, {});
    assert.deepEqual(
      [none.status, none.errorType, none.message],
      [403, 'IncompleteSignatureException', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."],
    );
    const malformed = await post(gw, id, { 'X-Amz-Date': '2024-04-25T10:05:21Z' });
    assert.deepEqual([malformed.status, malformed.errorType], [403, 'IncompleteSignatureException']);
    assert.match(malformed.message!, /^Date must be in ISO-8601 'basic format'\. Got '2024-04-25T10:05:21Z'\./);
    await ws.close();
  });
});

test('clockOffsetMs moves the gateway clock: the check and the Date header follow it', async () => {
  await withGateway({ clockOffsetMs: 10 * MINUTE, routes: { $default: async () => undefined } }, async (gw) => {
    const ws = await connect(gw.endpoints.wsUrl);
    const id = gw.openConnectionIds()[0]!;
    const refused = await post(gw, id, { 'X-Amz-Date': basicIso(Date.now()) });
    assert.equal(refused.status, 403);
    assert.match(refused.message!, /^Signature expired:/);
    assert.ok(Math.abs(Date.parse(refused.date!) - (Date.now() + 10 * MINUTE)) < 3000, `Date ${refused.date} is the gateway's clock`);
    assert.equal((await post(gw, id, { 'X-Amz-Date': basicIso(Date.now() + 10 * MINUTE) })).status, 200);
    await ws.close();
  });
});

test("the unmodified AWS SDK client corrects its skew from the gateway's answer and retries", async () => {
  for (const offset of [10 * MINUTE, -10 * MINUTE]) {
    await withGateway({ clockOffsetMs: offset, routes: { $default: async () => undefined } }, async (gw) => {
      const ws = await connect(gw.endpoints.wsUrl);
      const client = managementClient(gw.endpoints, 2);
      await client.send(new PostToConnectionCommand({ ConnectionId: gw.openConnectionIds()[0]!, Data: Buffer.from('corrected') }));
      assert.deepEqual(ws.messages, ['corrected']);
      client.destroy();
      await ws.close();
    });
  }
});

test('checkSigningTime on its own: the window is inclusive to the second', () => {
  const nowMs = Date.UTC(2026, 0, 1, 12, 0, 0, 400);
  const at = (ms: number) => checkSigningTime({ headers: { 'x-amz-date': basicIso(ms) } } as never, nowMs);
  assert.equal(at(Date.UTC(2026, 0, 1, 11, 55, 0)), undefined);
  assert.equal(at(Date.UTC(2026, 0, 1, 12, 5, 0)), undefined);
  assert.equal(
    at(Date.UTC(2026, 0, 1, 11, 54, 59))?.message,
    'Signature expired: 20260101T115459Z is now earlier than 20260101T115500Z (20260101T120000Z - 5 min.)',
  );
  assert.equal(
    at(Date.UTC(2026, 0, 1, 12, 5, 1))?.message,
    'Signature not yet current: 20260101T120501Z is still later than 20260101T120500Z (20260101T120000Z + 5 min.)',
  );
});

test("the SDK's Gateway takes the gateway's clock from its first refusal; later sends go straight through", async () => {
  for (const offset of [10 * MINUTE, -10 * MINUTE]) {
    await withGateway({ clockOffsetMs: offset, routes: { $default: async () => undefined } }, async (gw) => {
      const refusals: string[] = [];
      const screen = gw.screenManagementRequest.bind(gw);
      gw.screenManagementRequest = (req) => {
        const refusal = screen(req);
        if (refusal) refusals.push(refusal.message);
        return refusal;
      };
      const ws = await connect(gw.endpoints.wsUrl);
      const gateway = new Gateway({
        callbackUrl: gw.endpoints.callbackUrl,
        tables: { connections: 'c-table', sessions: 'c-sessions', memberships: 'c-memberships', uids: 'u-table', groups: 'g-table' },
        region: gw.region,
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      const id = gw.openConnectionIds()[0]!;
      for (const text of ['one', 'two', 'three']) assert.deepEqual((await gateway.sendToClient(id, text)).sent, [id]);
      assert.deepEqual(ws.messages, ['one', 'two', 'three']);
      assert.equal(refusals.length, 1, `one refusal, then the corrected clock: ${refusals.join('; ')}`);
      assert.match(refusals[0]!, offset > 0 ? /^Signature expired/ : /^Signature not yet current/);
      gateway.destroy();
      await ws.close();
    });
  }
});
