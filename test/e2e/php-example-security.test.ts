/**
 * example/php is code people copy (PHP's built-in server, no Chromium needed here): its session
 * cannot be fixed by an attacker (strict mode, a new id at login), logging in is a POST, every POST
 * needs the session's CSRF token, the cookie is HttpOnly and SameSite (and Secure behind https), and
 * router.php answers only loopback host names (DNS rebinding).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { rawRequest, type RawAnswer } from '../helpers/rawHttp.ts';

const FORM = 'application/x-www-form-urlencoded';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The PHPSESSID a Set-Cookie gives, if any. */
function sessionCookie(answer: RawAnswer): string | undefined {
  const cookies = answer.headers['set-cookie'] ?? [];
  return cookies.map((c) => /^PHPSESSID=([^;]*)/.exec(c)?.[1]).find((id) => id !== undefined);
}

function csrfTokenIn(html: string): string {
  const token = /name="csrf_token" value="([0-9a-f]{64})"/.exec(html)?.[1];
  assert.ok(token, 'the login form carries a CSRF token');
  return token;
}

describe('example/php: sessions, CSRF tokens and the Host check', { timeout: 60_000 }, () => {
  let php: ChildProcess;
  let url: string;
  let host: string;

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    host = `127.0.0.1:${port}`;
    php = spawn('php', ['-S', host, '-t', 'example/php', 'example/php/router.php'], { env: { PATH: '/usr/bin:/bin' }, stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ready = await rawRequest(url, 'GET', '/login.php', { host }).then(
        () => true,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error('php -S did not start');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  after(() => {
    php?.kill();
  });

  const get = (path: string, sid?: string, headers: Record<string, string> = {}) =>
    rawRequest(url, 'GET', path, { host, ...(sid ? { cookie: `PHPSESSID=${sid}` } : {}), ...headers });
  const post = (path: string, sid: string | undefined, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    rawRequest(
      url,
      'POST',
      path,
      { host, 'content-type': FORM, ...(sid ? { cookie: `PHPSESSID=${sid}` } : {}), ...headers },
      new URLSearchParams(fields).toString(),
    );

  /** The victim's browser: fetches the login form with whatever cookie it holds and submits it. Returns the session id it ends up with. */
  async function logIn(plantedSid: string | undefined, uid: string): Promise<string> {
    const form = await get('/login.php', plantedSid);
    assert.equal(form.status, 200);
    const sid = sessionCookie(form) ?? plantedSid;
    assert.ok(sid, 'the browser has a session cookie');
    const answer = await post('/login.php', sid, { uid, group: 'room-1', page: 'app.php', csrf_token: csrfTokenIn(form.body) });
    assert.equal(answer.status, 303, answer.body);
    assert.equal(answer.headers.location, './app.php');
    return sessionCookie(answer) ?? sid;
  }

  /** 401 NOT_LOGGED_IN from bind.php: the session holds no user. */
  async function isLoggedOut(sid: string): Promise<boolean> {
    const answer = await post('/bind.php', sid, { client_id: 'AAAAAAAAAAAAAAA=' });
    return answer.status === 401 && JSON.parse(answer.body).error === 'NOT_LOGGED_IN';
  }

  test('session fixation: an id the attacker chose is replaced before the login, and an id the server gave the attacker is replaced at the login', async () => {
    const chosen = 'attackerchosen0123456789abcdef';
    const victim = await logIn(chosen, 'alice');
    assert.notEqual(victim, chosen);
    assert.ok(await isLoggedOut(chosen), 'the chosen id is not logged in');
    assert.ok(!(await isLoggedOut(victim)), 'the victim is logged in under the new id');

    const issued = sessionCookie(await get('/login.php'));
    assert.ok(issued, 'the attacker got a real id');
    const victim2 = await logIn(issued, 'bob');
    assert.notEqual(victim2, issued, 'the login gave a new id');
    assert.ok(await isLoggedOut(issued), 'the id the attacker knows is not logged in');
  });

  test('the session cookie is HttpOnly and SameSite=Lax, and Secure behind https', async () => {
    const plain = (await get('/login.php')).headers['set-cookie']!.find((c) => c.startsWith('PHPSESSID='))!;
    assert.match(plain, /; HttpOnly/);
    assert.match(plain, /; SameSite=Lax/);
    assert.doesNotMatch(plain, /; secure/i);
    const secure = (await get('/login.php', undefined, { 'x-forwarded-proto': 'https' })).headers['set-cookie']!.find((c) => c.startsWith('PHPSESSID='))!;
    assert.match(secure, /; secure/i);
  });

  test('logging in takes a POST with the CSRF token: a link (GET) or a POST without the token logs no one in', async () => {
    const linked = sessionCookie(await get('/login.php?uid=mallory&group=room-1'))!;
    assert.ok(await isLoggedOut(linked));
    const form = await get('/login.php');
    const sid = sessionCookie(form)!;
    for (const token of [undefined, 'f'.repeat(64), '']) {
      const answer = await post('/login.php', sid, { uid: 'mallory', group: 'room-1', ...(token === undefined ? {} : { csrf_token: token }) });
      assert.equal(answer.status, 403, String(token));
      assert.equal(JSON.parse(answer.body).error, 'CSRF');
    }
    assert.ok(await isLoggedOut(sid));
  });

  test('bind.php and send_message.php refuse a POST without the CSRF token or with a wrong one, and a GET; the right token gets through to the request itself', async () => {
    const sid = await logIn(undefined, 'carol');
    const token = csrfTokenIn((await get('/login.php', sid)).body);
    for (const path of ['/bind.php', '/send_message.php']) {
      for (const headers of [{} as Record<string, string>, { 'x-csrf-token': 'f'.repeat(64) }, { 'x-csrf-token': token.slice(0, 63) }]) {
        const answer = await post(path, sid, { client_id: 'AAAAAAAAAAAAAAA=', to_group: 'room-1', message: 'forged' }, headers);
        assert.equal(answer.status, 403, `${path} ${JSON.stringify(headers)}: ${answer.body}`);
        assert.equal(JSON.parse(answer.body).error, 'CSRF');
      }
      assert.equal((await get(path, sid)).status, 405, `GET ${path}`);
    }
    // With the token (header or field), send_message.php reaches its own validation.
    const viaHeader = await post('/send_message.php', sid, { message: 'no target' }, { 'x-csrf-token': token });
    assert.equal(viaHeader.status, 400, viaHeader.body);
    const viaField = await post('/send_message.php', sid, { message: 'no target', csrf_token: token });
    assert.equal(viaField.status, 400, viaField.body);
  });

  test('router.php answers only loopback host names: another name (DNS rebinding) gets 403', async () => {
    const port = new URL(url).port;
    for (const name of [`evil.example.invalid:${port}`, 'evil.example.invalid', `localhost.evil.invalid:${port}`, `127.0.0.1.evil.invalid:${port}`]) {
      const answer = await get('/login.php', undefined, { host: name });
      assert.equal(answer.status, 403, name);
      assert.equal(answer.headers['set-cookie'], undefined, `${name}: no session started`);
    }
    for (const name of [`localhost:${port}`, `127.0.0.1:${port}`, `app.localhost:${port}`])
      assert.equal((await get('/login.php', undefined, { host: name })).status, 200, name);
  });
});
