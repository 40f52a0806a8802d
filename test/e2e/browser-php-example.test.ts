/**
 * The seed's flow in its own language: example/php served by PHP's built-in server (Debian's
 * php-cli), its page (the seed's snippet, only the WebSocket URL changed: eval, jQuery's $.post to
 * bind.php, alert) in Debian's Chromium, the synthesized app on the local gateway. Two browser
 * contexts are two PHP sessions (two users): both get init and bind through bind.php with the
 * session's uid and group, send_message.php's pushes reach the right pages (captured through alert),
 * and closing a page removes its items. app.php, the recommended page, does the same with JSON.parse
 * and shows messages as text. Logging in is a POST of login.php's form, every POST carries the
 * session's CSRF token (test/e2e/php-example-security.test.ts tests the refusals).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startGatewayApiApp, type GatewayApiApp } from '../../testkit/gatewayApiApp.ts';
import { CHROMIUM_ARGS } from '../helpers/chromium.ts';

/** Waits until `probe` answers true (a probe that throws counts as not yet). */
async function until(probe: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (
      await Promise.resolve()
        .then(probe)
        .catch(() => false)
    )
      return;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${probe.toString().slice(0, 200)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `php -S` serving example/php with the environment npm start prints, plus the WebSocket URL. */
async function startPhpServer(env: Record<string, string>): Promise<{ url: string; process: ChildProcess; log: () => string }> {
  const port = await freePort();
  let log = '';
  const child = spawn('php', ['-S', `127.0.0.1:${port}`, '-t', 'example/php', 'example/php/router.php'], {
    env: { PATH: '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  // The body is read: on Node 22 an unread body that php -S ends with the connection trips an internal
  // assertion in Node's fetch (undici's Parser.finish) after the probe has returned.
  await until(async () => {
    const response = await fetch(`${url}/jquery.min.js`);
    await response.arrayBuffer();
    return response.ok;
  }, 10_000);
  return { url, process: child, log: () => log };
}

interface User {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly alerts: string[];
  /** bind.php's answer to the page's $.post. */
  readonly bound: Promise<{ status: number; body: { ok?: boolean; error?: string; message?: string } }>;
}

/** A user of their own browser context (cookies: a PHP session), logged in, on the given page. */
async function openPage(browser: Browser, phpUrl: string, uid: string, group: string, page = 'index.php'): Promise<User> {
  const context = await browser.newContext();
  const tab = await context.newPage();
  const alerts: string[] = [];
  tab.on('dialog', (dialog) => {
    alerts.push(dialog.message());
    void dialog.dismiss();
  });
  const bound = tab
    .waitForResponse((r) => r.url().endsWith('/bind.php'), { timeout: 20_000 })
    .then(async (r) => ({ status: r.status(), body: (await r.json()) as { ok?: boolean; error?: string; message?: string } }));
  // The login form (filled in from the query) is submitted by POST with its CSRF token.
  await tab.goto(`${phpUrl}/login.php?uid=${uid}&group=${group}&page=${page}`);
  await tab.click('button[type=submit]');
  return { context, page: tab, alerts, bound };
}

async function sendFrom(phpUrl: string, from: User, to: { to_uid: string } | { to_group: string }, message: string): Promise<{ sent: number }> {
  // The session's CSRF token, from the page the user is on, as its scripts send it.
  const csrfToken = (await from.page.getAttribute('meta[name="csrf-token"]', 'content'))!;
  const response = await from.context.request.post(`${phpUrl}/send_message.php`, { form: { ...to, message }, headers: { 'X-CSRF-Token': csrfToken } });
  assert.equal(response.status(), 200, await response.text());
  return (await response.json()) as { sent: number };
}

/** The page's code without its comments. */
const codeOf = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !/^\s*\/\//.test(line));

describe("the seed's page and bind.php in PHP", { timeout: 180_000 }, () => {
  let app: GatewayApiApp;
  let php: Awaited<ReturnType<typeof startPhpServer>>;
  let browser: Browser;

  before(async () => {
    app = await startGatewayApiApp('browser-php-example');
    php = await startPhpServer({ ...app.env, GATEWAY_WEBSOCKET_URL: app.endpoints.wsUrl });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    php?.process.kill();
    await app?.stop();
  });

  const open = (uid: string, group: string, page?: string) => openPage(browser, php.url, uid, group, page);
  const send = (from: User, to: { to_uid: string } | { to_group: string }, message: string) => sendFrom(php.url, from, to, message);

  test("the page's script is the seed's snippet, with only the WebSocket URL changed", () => {
    const page = readFileSync('example/php/index.php', 'utf8');
    for (const line of [
      'var data = eval("("+e.data+")");',
      "var type = data.type || '';",
      "$.post('./bind.php', {client_id: data.client_id}, function(data){}, 'json');",
      'alert(e.data);',
      'ws = new WebSocket(<?= json_encode($websocket_url, JSON_UNESCAPED_SLASHES | JSON_HEX_TAG) ?>);',
    ]) {
      assert.ok(page.includes(line), line);
    }
  });

  test('two users get init, bind through bind.php with their sessions, get the pushes meant for them, and a closed page loses its items', async () => {
    const alice = await open('alice', 'room-1');
    const bob = await open('bob', 'room-1');
    assert.deepEqual((await alice.bound).status, 200);
    assert.deepEqual((await bob.bound).body, { ok: true, uid: 'bob', group: 'room-1' });
    // Both pages got init and posted their client id; bind.php bound each to its session's uid and group.
    await until(
      async () =>
        (await app.sdk.getClientIdListByGroup('room-1')).length === 2 &&
        (await app.sdk.getClientIdByUid('alice')).length === 1 &&
        (await app.sdk.getClientIdByUid('bob')).length === 1,
      20_000,
    );
    const [aliceId] = await app.sdk.getClientIdByUid('alice');
    const [bobId] = await app.sdk.getClientIdByUid('bob');
    assert.notEqual(aliceId, bobId);
    assert.deepEqual((await app.sdk.getClientIdListByGroup('room-1')).sort(), [aliceId, bobId].sort());

    assert.deepEqual(await send(alice, { to_uid: 'bob' }, 'hi bob'), { sent: 1, gone: 0, failed: 0 });
    await until(() => bob.alerts.length === 1, 10_000);
    assert.deepEqual(JSON.parse(bob.alerts[0]!), { type: 'say', from: 'alice', text: 'hi bob' });

    assert.deepEqual(await send(bob, { to_group: 'room-1' }, 'hi room'), { sent: 2, gone: 0, failed: 0 });
    await until(() => alice.alerts.length === 1 && bob.alerts.length === 2, 10_000);
    assert.deepEqual(JSON.parse(alice.alerts[0]!), { type: 'say', from: 'bob', text: 'hi room' });
    assert.deepEqual(JSON.parse(bob.alerts[1]!), { type: 'say', from: 'bob', text: 'hi room' });

    // Closing bob's page closes its socket; $disconnect removes its connection, uid and group items.
    await bob.context.close();
    await until(async () => (await app.sdk.getClientIdByUid('bob')).length === 0 && (await app.sdk.getConnection(bobId!)) === undefined, 20_000);
    assert.deepEqual(await app.sdk.getClientIdListByGroup('room-1'), [aliceId]);
    assert.deepEqual(await send(alice, { to_group: 'room-1' }, 'still here?'), { sent: 1, gone: 0, failed: 0 });
    await until(() => alice.alerts.length === 2, 10_000);
    assert.deepEqual(alice.alerts.length, 2);
    await alice.context.close();
  });

  test('bind.php trusts only the session: without a login it binds nothing', async () => {
    const response = await fetch(`${php.url}/bind.php`, { method: 'POST', body: new URLSearchParams({ client_id: 'AAAAAAAAAAAAAAA=' }) });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: string }).error, 'NOT_LOGGED_IN');
  });
});

describe('bind-token.php: the one-line change that turns bind-token protection on', { timeout: 180_000 }, () => {
  let app: GatewayApiApp;
  let php: Awaited<ReturnType<typeof startPhpServer>>;
  let browser: Browser;

  before(async () => {
    app = await startGatewayApiApp('browser-php-bind-token', { requireBindToken: true });
    php = await startPhpServer({ ...app.env, GATEWAY_WEBSOCKET_URL: app.endpoints.wsUrl });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    php?.process.kill();
    await app?.stop();
  });

  test('its code differs from the seed page by the $.post line only, which adds bind_token', () => {
    const seed = codeOf('example/php/index.php');
    const protectedPage = codeOf('example/php/bind-token.php');
    assert.equal(seed.length, protectedPage.length);
    const changed = seed.map((line, i) => [line, protectedPage[i]!] as const).filter(([a, b]) => a !== b);
    assert.deepEqual(changed, [
      [
        "            $.post('./bind.php', {client_id: data.client_id}, function(data){}, 'json');",
        "            $.post('./bind.php', {client_id: data.client_id, bind_token: data.bind_token}, function(data){}, 'json');",
      ],
    ]);
  });

  test('app.php, the recommended page: JSON.parse instead of eval, messages shown as text, bound with its bind token where tokens are required', async () => {
    const source = readFileSync('example/php/app.php', 'utf8');
    assert.ok(source.includes('JSON.parse(event.data)') && !source.includes('eval('));
    const dave = await openPage(browser, php.url, 'dave', 'room-3', 'app.php');
    assert.deepEqual((await dave.bound).body, { ok: true, uid: 'dave', group: 'room-3' });
    assert.equal(await dave.page.textContent('#status'), 'bound as dave');
    const markup = '<img src=x onerror="document.title=1">';
    assert.deepEqual(await sendFrom(php.url, dave, { to_group: 'room-3' }, markup), { sent: 1, gone: 0, failed: 0 });
    const messages = dave.page.locator('#messages li');
    await until(async () => (await messages.count()) === 1, 10_000);
    assert.deepEqual(await messages.allTextContents(), [`dave: ${markup}`]);
    assert.equal(await dave.page.locator('#messages img').count(), 0, 'shown as text, not as HTML');
    assert.deepEqual(dave.alerts, []);
    await dave.context.close();
  });

  test('with tokens required, the seed page cannot bind (bind.php answers 403 BIND_TOKEN) and bind-token.php binds and gets its pushes', async () => {
    const seed = await openPage(browser, php.url, 'mallory', 'room-2');
    const refused = await seed.bound;
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, 'BIND_TOKEN');
    assert.match(String(refused.body.message), /no bind token was given/);
    const carol = await openPage(browser, php.url, 'carol', 'room-2', 'bind-token.php');
    assert.equal((await carol.bound).status, 200);
    assert.deepEqual(await app.sdk.getClientIdByUid('mallory'), [], 'the page without the token bound nothing');
    assert.equal((await app.sdk.getClientIdListByGroup('room-2')).length, 1);
    assert.deepEqual(await sendFrom(php.url, carol, { to_group: 'room-2' }, 'protected'), { sent: 1, gone: 0, failed: 0 });
    await until(() => carol.alerts.length === 1, 10_000);
    assert.deepEqual(JSON.parse(carol.alerts[0]!), { type: 'say', from: 'carol', text: 'protected' });
    assert.deepEqual(seed.alerts, []);
    await seed.context.close();
    await carol.context.close();
  });
});
