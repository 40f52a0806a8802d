// The Node example backend (example/backend.ts) is code people copy, so it does what a server on the
// internet must: it answers only its own host names (DNS rebinding), takes a POST only from a page of
// its own origin (CSRF), marks the session cookie Secure behind https, and never shows the browser
// the text of a 5xx (AWS's errors name roles and accounts): the server's log gets it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { rawRequest } from '../helpers/rawHttp.ts';
import { withGateway } from '../helpers/withGateway.ts';
import { startExampleBackend, type RunningBackend } from '../../example/backend.ts';
import { Gateway } from '../../sdk/index.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const FORM = 'application/x-www-form-urlencoded';

/** A backend on a Gateway whose tables do not exist in the local DynamoDB: every write is a 500 from AWS's side. */
async function withBackend(body: (backend: RunningBackend, logged: string[]) => Promise<void>): Promise<void> {
  await withGateway({ routes: { $default: async () => undefined } }, async (gw) => {
    const { callbackUrl, dynamoEndpoint, region, wsUrl } = gw.endpoints;
    const dynamoDb = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamoEndpoint, region, credentials }));
    const gateway = new Gateway({
      callbackUrl,
      region,
      credentials,
      dynamoDb,
      tables: {
        connections: 'no-such-connections',
        sessions: 'no-such-sessions',
        memberships: 'no-such-memberships',
        uids: 'no-such-uids',
        groups: 'no-such-groups',
      },
    });
    const logged: string[] = [];
    const backend = await startExampleBackend({ gateway, wsUrl, log: (line) => logged.push(line) });
    try {
      await body(backend, logged);
    } finally {
      await backend.stop();
      gateway.destroy();
      dynamoDb.destroy();
    }
  });
}

test("a Host that is not the backend's own gets 403 and no page; loopback names get the page", async () => {
  await withBackend(async (backend) => {
    const port = new URL(backend.url).port;
    for (const host of ['evil.example.invalid', `evil.example.invalid:${port}`, 'localhost.evil.invalid']) {
      const answer = await rawRequest(backend.url, 'GET', '/', { host });
      assert.equal(answer.status, 403, host);
      assert.doesNotMatch(answer.body, /<html/i);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) assert.equal((await rawRequest(backend.url, 'GET', '/', { host })).status, 200, host);
  });
});

test('a POST without an Origin, or from another origin, is refused before it does anything; the same origin logs in', async () => {
  await withBackend(async (backend) => {
    const host = new URL(backend.url).host;
    const login = (headers: Record<string, string>) =>
      rawRequest(backend.url, 'POST', '/login', { host, 'content-type': FORM, ...headers }, 'uid=mallory&group=room-1');
    for (const origin of [undefined, 'http://evil.invalid', `https://${host}`, `http://${host}.evil.invalid`, 'null']) {
      const answer = await login(origin === undefined ? {} : { origin });
      assert.equal(answer.status, 403, String(origin));
      assert.equal(answer.headers['set-cookie'], undefined, 'no session was made');
    }
    const ok = await login({ origin: `http://${host}` });
    assert.equal(ok.status, 200, ok.body);
    assert.match(String(ok.headers['set-cookie']), /^sid=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
  });
});

test("the session cookie is Secure when the page is served over https (a proxy's X-Forwarded-Proto), and the POST must come from the https origin", async () => {
  await withBackend(async (backend) => {
    const host = new URL(backend.url).host;
    const headers = { host, 'content-type': FORM, 'x-forwarded-proto': 'https' };
    assert.equal((await rawRequest(backend.url, 'POST', '/login', { ...headers, origin: `http://${host}` }, 'uid=a&group=g')).status, 403);
    const answer = await rawRequest(backend.url, 'POST', '/login', { ...headers, origin: `https://${host}` }, 'uid=a&group=g');
    assert.equal(answer.status, 200, answer.body);
    assert.match(String(answer.headers['set-cookie']), /; HttpOnly; SameSite=Lax; Secure$/);
  });
});

test("a 5xx shows the browser a generic message; AWS's text goes to the server log", async () => {
  await withBackend(async (backend, logged) => {
    const host = new URL(backend.url).host;
    const origin = `http://${host}`;
    const login = await rawRequest(backend.url, 'POST', '/login', { host, origin, 'content-type': FORM }, 'uid=alice&group=room-1');
    const sid = String(login.headers['set-cookie']).split(';')[0]!;
    const bind = await rawRequest(backend.url, 'POST', '/bind', { host, origin, cookie: sid, 'content-type': FORM }, 'client_id=AbCdEfGhIjKlMnO%3D');
    assert.equal(bind.status, 500);
    assert.deepEqual(JSON.parse(bind.body), { error: 'internal error (see the server log)' });
    assert.doesNotMatch(bind.body, /resource|no-such|arn:|Exception/i);
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /^POST \/bind failed: .*(Requested resource not found|ResourceNotFound)/s);
  });
});
