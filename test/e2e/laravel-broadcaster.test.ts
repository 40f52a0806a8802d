/**
 * The `gateway` broadcaster's edges, over HTTP against the Laravel fixture (no browser): with bind
 * tokens required, /broadcasting/auth joins and leaves only with the connection's own token; a GET
 * or a POST without the session's CSRF token (what another site can make) joins nothing; bad
 * requests and gone clients get their HTTP answers and join nothing; the provider adds the `gateway`
 * connection when config/broadcasting.php has none; connection keys override the environment; a
 * broadcast the gateway refuses is a BroadcastException (HTTP 500); an X-Socket-ID that is no
 * client id excludes nobody. Package discovery lists the provider in Laravel's manifest, and the
 * migration lines docs/guides/php.md gives for Laravel (a GatewayClient static bind with the page's
 * bind_token) bind, and fail closed without the token.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request, type APIRequestContext } from 'playwright-core';
import { startGatewayApiApp, type AppClient, type GatewayApiApp } from '../../testkit/gatewayApiApp.ts';
import { startLaravelApp, type LaravelApp } from '../helpers/laravelApp.ts';

/** A logged-in session (user `id`) with the CSRF token of its page. */
async function session(
  baseURL: string,
  id: number,
): Promise<{
  api: APIRequestContext;
  post(path: string, form: Record<string, string>, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
}> {
  const api = await request.newContext({ baseURL });
  const page = await (await api.get(`/login/${id}`)).text();
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(page)?.[1];
  assert.ok(csrf, 'the page has a CSRF token');
  return {
    api,
    async post(path, form, headers = {}) {
      const response = await api.post(path, { form, headers: { Accept: 'application/json', 'X-CSRF-TOKEN': csrf, ...headers } });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      return { status: response.status(), body };
    },
  };
}

describe('the gateway broadcaster, with bind tokens required', { timeout: 120_000 }, () => {
  let gateway: GatewayApiApp;
  let laravel: LaravelApp;
  let misconfigured: LaravelApp;
  before(async () => {
    gateway = await startGatewayApiApp('laravel-broadcaster', { requireBindToken: true });
    laravel = await startLaravelApp(gateway.env);
    // No `gateway` connection in config/broadcasting.php, and an environment naming a function that
    // does not exist; the `gateway-explicit` connection names the real one.
    misconfigured = await startLaravelApp({
      ...gateway.env,
      GATEWAY_API_FUNCTION: 'NoSuchGatewayApiFunction',
      FIXTURE_EXPLICIT_FUNCTION: gateway.functionName,
      FIXTURE_OMIT_GATEWAY_CONNECTION: '1',
      // Unset in the app: a leave without a bind token is refused all the same.
      GATEWAY_REQUIRE_BIND_TOKEN: '',
      APP_DEBUG: 'true',
    });
  });
  after(async () => {
    laravel?.stop();
    misconfigured?.stop();
    await gateway?.stop();
  });

  const auth = (s: Awaited<ReturnType<typeof session>>, client: AppClient, channel: string, extra: Record<string, string> = {}) =>
    s.post('/broadcasting/auth', { socket_id: client.id, channel_name: channel, ...extra });

  test("package discovery: Laravel's manifest lists the provider from the installed package; config/app.php does not", async () => {
    // The first request builds bootstrap/cache/packages.php from vendor/composer/installed.json.
    const page = await session(laravel.url, 1);
    await page.api.dispose();
    const manifest = JSON.parse(
      execFileSync('php', ['-r', "echo json_encode(require 'bootstrap/cache/packages.php');"], { cwd: laravel.dir, encoding: 'utf8' }),
    ) as Record<string, { providers?: string[] }>;
    assert.deepEqual(manifest['serverless-gateway-worker/gatewayclient'], { providers: ['GatewayClient\\Laravel\\GatewayServiceProvider'] });
    assert.doesNotMatch(readFileSync(join(laravel.dir, 'config/app.php'), 'utf8'), /GatewayServiceProvider::class/);
  });

  test("the guide's migration lines for Laravel: GatewayClient's static bind with the page's bind_token", async () => {
    const guide = readFileSync(join(import.meta.dirname, '../../docs/guides/php.md'), 'utf8');
    const route = readFileSync(join(laravel.dir, 'routes/web.php'), 'utf8');
    const lines = route
      .split('\n')
      .filter((line) => /^\s+Gateway::(bindUid|joinGroup)\(\$request/.test(line))
      .map((line) => line.trim());
    assert.equal(lines.length, 2);
    for (const line of lines) assert.ok(guide.includes(`\n${line}\n`), `docs/guides/php.md has: ${line}`);

    const page = await gateway.connect();
    const alice = await session(laravel.url, 1);
    const refused = await alice.post('/bind', { client_id: page.id });
    assert.equal(refused.status, 500, 'without the bind token: GatewayException BIND_TOKEN');
    assert.match(
      laravel.log(),
      new RegExp(`local\\.ERROR: bindUid refused for client ${page.id.replace(/[-=]/g, '\\$&')}: no bind token was given .*GatewayClient\\\\+GatewayException`),
    );
    assert.equal(await gateway.sdk.getUidByClientId(page.id), undefined);
    assert.deepEqual(await alice.post('/bind', { client_id: page.id, bind_token: page.bindToken }), { status: 200, body: { ok: true } });
    assert.equal(await gateway.sdk.getUidByClientId(page.id), '1', '$request->user()->id, an integer, bound as a string');
    assert.deepEqual(await gateway.sdk.getGroupsByClientId(page.id), ['room-1']);
    await alice.api.dispose();
    await page.close();
  });

  test("joins and leaves need the connection's own bind token", async () => {
    const alice = await session(laravel.url, 1);
    const mine = await gateway.connect();
    const other = await gateway.connect();
    const noToken = await auth(alice, mine, 'private-orders.1');
    assert.equal(noToken.status, 403);
    assert.match(noToken.body.message, /bind token/);
    const wrongToken = await auth(alice, mine, 'private-orders.1', { bind_token: other.bindToken });
    assert.equal(wrongToken.status, 403);
    assert.deepEqual(await gateway.sdk.getClientIdListByGroup('private-orders.1'), []);

    assert.deepEqual(await auth(alice, mine, 'private-orders.1', { bind_token: mine.bindToken }), { status: 200, body: { channel: 'private-orders.1' } });
    assert.deepEqual(await gateway.sdk.getClientIdListByGroup('private-orders.1'), [mine.id]);

    // GATEWAY_REQUIRE_BIND_TOKEN (the gateway's switch, in the environment) makes the broadcaster refuse a leave without one.
    assert.equal((await auth(alice, mine, 'private-orders.1', { leave: '1' })).status, 403);
    assert.equal((await auth(alice, mine, 'private-orders.1', { leave: '1', bind_token: other.bindToken })).status, 403);
    assert.deepEqual(await gateway.sdk.getClientIdListByGroup('private-orders.1'), [mine.id]);
    assert.deepEqual(await auth(alice, mine, 'private-orders.1', { leave: '1', bind_token: mine.bindToken }), {
      status: 200,
      body: { channel: 'private-orders.1', left: true },
    });
    assert.deepEqual(await gateway.sdk.getClientIdListByGroup('private-orders.1'), []);

    // A presence join answers the members, with what routes/channels.php returned for each.
    assert.deepEqual(await auth(alice, mine, 'presence-room.9', { bind_token: mine.bindToken }), {
      status: 200,
      body: { channel: 'presence-room.9', members: [{ id: '1', info: { id: 1, name: 'Alice' } }] },
    });
    await mine.close();
    await other.close();
  });

  test("a request another site can make joins nothing: a GET, or a POST without the session's CSRF token", async () => {
    const alice = await session(laravel.url, 1);
    const attacker = await gateway.connect();
    const form = { socket_id: attacker.id, bind_token: attacker.bindToken, channel_name: 'private-orders.1' };
    // A link or a redirect: top-level GETs carry SameSite=Lax cookies.
    const get = await alice.api.get(`/broadcasting/auth?${new URLSearchParams(form)}`, { headers: { Accept: 'application/json' } });
    assert.equal(get.status(), 405);
    // A form posted from elsewhere: the cookies, no token (Laravel takes CSRF off this route).
    const forged = await alice.api.post('/broadcasting/auth', { form, headers: { Accept: 'application/json' } });
    assert.equal(forged.status(), 403);
    assert.match(await forged.text(), /CSRF token mismatch/);
    const wrong = await alice.post('/broadcasting/auth', form, { 'X-CSRF-TOKEN': 'not-the-token' });
    assert.equal(wrong.status, 403);
    assert.deepEqual(await gateway.sdk.getClientIdListByGroup('private-orders.1'), []);
    await attacker.close();
  });

  test('bad requests and gone clients get their HTTP answers and join nothing', async () => {
    const alice = await session(laravel.url, 1);
    const client = await gateway.connect();
    assert.equal((await alice.post('/broadcasting/auth', { socket_id: client.id })).status, 403);
    assert.equal((await alice.post('/broadcasting/auth', { socket_id: 'not-a-client-id', channel_name: 'orders' })).status, 403);
    const groups = await gateway.sdk.getGroupsByClientId(client.id);
    assert.deepEqual(groups, []);
    const token = client.bindToken;
    await client.close();
    // $disconnect has run once the connection item is gone.
    while ((await gateway.sdk.getConnection(client.id)) !== undefined) await new Promise((resolve) => setTimeout(resolve, 25));
    const gone = await auth(alice, client, 'orders', { bind_token: token });
    assert.equal(gone.status, 410);
    assert.deepEqual(await gateway.sdk.getClientIdListByGroup('orders'), []);
  });

  test('the provider adds the gateway connection; keys override the environment; a refused broadcast is a BroadcastException', async () => {
    const listener = await gateway.connect();
    await gateway.sdk.joinGroup(listener.id, 'notes', { bindToken: listener.bindToken });
    const alice = await session(misconfigured.url, 1);
    // The default connection was added by the provider (else: "Broadcast connection [gateway] is not
    // defined") and reads GATEWAY_API_FUNCTION, which names no function.
    const refused = await alice.post('/connections/gateway/notes', { text: 'lost' });
    assert.equal(refused.status, 500);
    assert.equal(refused.body.exception, 'Illuminate\\Broadcasting\\BroadcastException');
    assert.match(refused.body.message, /NoSuchGatewayApiFunction/);
    // The explicit connection's `function` wins over the environment.
    assert.deepEqual(await alice.post('/connections/gateway-explicit/notes', { text: 'delivered' }), { status: 200, body: { ok: true } });
    assert.deepEqual(JSON.parse(await listener.message(1)), { event: 'note', channel: 'notes', data: { text: 'delivered' } });
    assert.equal(listener.messages.length, 1);
    // With GATEWAY_REQUIRE_BIND_TOKEN unset the broadcaster fails closed: no leave without a token
    // (refused before any call, so the missing function does not matter here).
    const leave = await alice.post('/broadcasting/auth', { socket_id: listener.id, channel_name: 'notes', leave: '1' });
    assert.equal(leave.status, 403);
    assert.match(leave.body.message, /bind_token/);
    await listener.close();
  });

  test('toOthers() with an X-Socket-ID that is no client id excludes nobody', async () => {
    const listener = await gateway.connect();
    await gateway.sdk.joinGroup(listener.id, 'orders', { bindToken: listener.bindToken });
    const bob = await session(laravel.url, 2);
    assert.equal((await bob.post('/orders/3/ship', { others: '1' }, { 'X-Socket-ID': 'garbage' })).status, 200);
    assert.deepEqual(JSON.parse(await listener.message(1)), { event: 'App\\Events\\OrderShipped', channel: 'orders', data: { orderId: 3, by: 'Bob' } });
    // The listener's own id is excluded.
    assert.equal((await bob.post('/orders/4/ship', { others: '1' }, { 'X-Socket-ID': listener.id })).status, 200);
    assert.equal((await bob.post('/orders/5/ship', {})).status, 200);
    assert.deepEqual(JSON.parse(await listener.message(2)).data, { orderId: 5, by: 'Bob' });
    await listener.close();
  });
});
