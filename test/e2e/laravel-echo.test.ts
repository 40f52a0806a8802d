/**
 * Laravel broadcasting and Laravel Echo on the gateway, end to end: the Laravel fixture
 * (test/fixtures/laravel-app: Debian's Laravel 8, the GatewayClient package installed by composer
 * from a path repository and auto-discovered, BROADCAST_DRIVER=gateway, a connection of just
 * ['driver' => 'gateway']) under `php -S`; its page (laravel-echo 2.x with the GatewayConnector) in
 * Chromium, one browser context per logged-in user; the synthesized app on the local gateway.
 * A public channel, toOthers, a private channel authorized and refused, a presence channel across
 * pages (here, joining, leaving, once per uid), and leave().
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startGatewayApiApp, type GatewayApiApp } from '../../testkit/gatewayApiApp.ts';
import { startLaravelApp, type LaravelApp } from '../helpers/laravelApp.ts';
import { CHROMIUM_ARGS } from '../helpers/chromium.ts';

/** Waits until `probe` answers true (a probe that throws counts as not yet). */
async function until(probe: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
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

type Received = Array<[channel: string, event: string, data: Record<string, unknown>]>;

interface Tab {
  readonly page: Page;
  readonly clientId: string;
  received(): Promise<Received>;
  /** A POST from the page (CSRF token, X-Socket-ID), as the page's own code makes it. */
  post(path: string, form?: Record<string, string>): Promise<{ status: number; body: unknown }>;
}

describe('Laravel broadcasting and Echo on the gateway', { timeout: 240_000 }, () => {
  let gateway: GatewayApiApp;
  let laravel: LaravelApp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    gateway = await startGatewayApiApp('laravel-echo');
    laravel = await startLaravelApp({ ...gateway.env, GATEWAY_WEBSOCKET_URL: gateway.endpoints.wsUrl });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    laravel?.stop();
    await gateway?.stop();
  });

  /** A user's browser (its own session cookie), logged in as user `id` (0: a guest). */
  async function userContext(id: number): Promise<BrowserContext> {
    const context = await browser.newContext();
    contexts.push(context);
    if (id > 0) {
      const page = await context.newPage();
      await page.goto(`${laravel.url}/login/${id}`);
      await page.close();
    }
    return context;
  }

  /** A tab of the app's page with Echo connected and subscribed to the public `orders` channel. */
  async function openTab(context: BrowserContext): Promise<Tab> {
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error('page error:', error));
    await page.goto(`${laravel.url}/`);
    await page.waitForFunction(() => (globalThis as unknown as { ordersSubscribed?: boolean }).ordersSubscribed === true, undefined, { timeout: 15_000 });
    const clientId = await page.evaluate(() => (globalThis as unknown as { Echo: { socketId(): string } }).Echo.socketId());
    return {
      page,
      clientId,
      received: () => page.evaluate(() => (globalThis as unknown as { received: Received }).received),
      post: (path, form = {}) =>
        page.evaluate(
          ([p, f]) => (globalThis as unknown as { post(path: string, form: Record<string, string>): Promise<{ status: number; body: unknown }> }).post(p, f),
          [path, form] as const,
        ),
    };
  }

  test('a public channel: event() reaches every subscriber, so does the Node SDK; toOthers() leaves the sender out', async () => {
    const alice = await openTab(await userContext(1));
    const bob = await openTab(await userContext(2));
    assert.match(alice.clientId, /^[A-Za-z0-9_-]{15}=$/);
    // The channel is the group of the same name.
    assert.deepEqual((await gateway.sdk.getClientIdListByGroup('orders')).sort(), [alice.clientId, bob.clientId].sort());

    assert.deepEqual(await alice.post('/orders/7/ship'), { status: 200, body: { ok: true } });
    const shipped: Received[number] = ['orders', 'OrderShipped', { orderId: 7, by: 'Alice' }];
    await until(async () => (await alice.received()).length === 1 && (await bob.received()).length === 1);
    assert.deepEqual(await alice.received(), [shipped]);
    assert.deepEqual(await bob.received(), [shipped]);

    // The wire format, sent by the Node SDK: the same subscribers get it.
    await gateway.sdk.sendToGroup('orders', { event: 'sdk.note', channel: 'orders', data: { from: 'node' } });
    await until(async () => (await alice.received()).length === 2 && (await bob.received()).length === 2);
    assert.deepEqual((await bob.received())[1], ['orders', 'sdk.note', { from: 'node' }]);

    // broadcast(...)->toOthers(): X-Socket-ID (Echo's socketId(), the client id) is excluded.
    assert.equal((await bob.post('/orders/8/ship', { others: '1' })).status, 200);
    await until(async () => (await alice.received()).length === 3);
    assert.deepEqual((await alice.received())[2], ['orders', 'OrderShipped', { orderId: 8, by: 'Bob' }]);
    // A later event reaches bob as his third: the toOthers one never came.
    assert.equal((await alice.post('/orders/9/ship')).status, 200);
    await until(async () => (await bob.received()).length === 3);
    assert.deepEqual((await bob.received())[2], ['orders', 'OrderShipped', { orderId: 9, by: 'Alice' }]);
  });

  test('a private channel: routes/channels.php authorizes the owner, refuses another user and a guest; a page cannot join by itself', async () => {
    const owner = await openTab(await userContext(1));
    const other = await openTab(await userContext(2));
    const guest = await openTab(await userContext(0));
    const subscribe = (tab: Tab) =>
      tab.page.evaluate(
        () =>
          new Promise<{ ok: true } | { ok: false; status: number }>((resolve) => {
            const w = globalThis as unknown as { Echo: any; updates: unknown[] };
            w.updates = [];
            w.Echo.private('orders.1')
              .listen('.order.updated', (e: unknown) => w.updates.push(e))
              .subscribed(() => resolve({ ok: true }))
              .error((error: { status: number }) => resolve({ ok: false, status: error.status }));
          }),
      );
    assert.deepEqual(await subscribe(owner), { ok: true });
    assert.deepEqual(await subscribe(other), { ok: false, status: 403 });
    assert.deepEqual(await subscribe(guest), { ok: false, status: 403 });
    assert.deepEqual(await gateway.sdk.getClientIdListByGroup('private-orders.1'), [owner.clientId]);

    // The gateway has no join a page can make: a message over the socket asking for one does nothing.
    await other.page.evaluate(() => {
      const w = globalThis as unknown as { Echo: { connector: { client: { send(data: unknown): boolean } } } };
      w.Echo.connector.client.send({ action: 'joinGroup', group: 'private-orders.1' });
      w.Echo.connector.client.send({ event: 'pusher:subscribe', data: { channel: 'private-orders.1' } });
    });
    // A queued ShouldBroadcast (sync queue) to the private channel reaches the owner only.
    assert.equal((await owner.post('/orders/1/update', { status: 'packed' })).status, 200);
    await until(() => owner.page.evaluate(() => (globalThis as unknown as { updates: unknown[] }).updates.length === 1));
    assert.deepEqual(await owner.page.evaluate(() => (globalThis as unknown as { updates: unknown[] }).updates), [{ orderId: 1, status: 'packed' }]);
    assert.deepEqual(await gateway.sdk.getClientIdListByGroup('private-orders.1'), [owner.clientId]);
    assert.deepEqual(await other.page.evaluate(() => (globalThis as unknown as { updates: unknown[] }).updates), []);

    // leave(): the app leaves the group for the page.
    await owner.page.evaluate(() => (globalThis as unknown as { Echo: { leave(name: string): void } }).Echo.leave('orders.1'));
    await until(async () => (await gateway.sdk.getClientIdListByGroup('private-orders.1')).length === 0);
  });

  test('a presence channel across pages: here, joining and leaving once per user, however many tabs', async () => {
    const join = (tab: Tab) =>
      tab.page.evaluate(
        () =>
          new Promise<unknown[]>((resolve) => {
            const w = globalThis as unknown as { Echo: any; presence: { joining: unknown[]; leaving: unknown[] } };
            w.presence = { joining: [], leaving: [] };
            w.Echo.join('room.1')
              .here((members: unknown[]) => resolve(members))
              .joining((member: unknown) => w.presence.joining.push(member))
              .leaving((member: unknown) => w.presence.leaving.push(member));
          }),
      );
    const presenceOf = (tab: Tab) => tab.page.evaluate(() => (globalThis as unknown as { presence: { joining: unknown[]; leaving: unknown[] } }).presence);
    const alice = await openTab(await userContext(1));
    assert.deepEqual(await join(alice), [{ id: 1, name: 'Alice' }]);
    const bobContext = await userContext(2);
    const bob1 = await openTab(bobContext);
    assert.deepEqual(await join(bob1), [
      { id: 1, name: 'Alice' },
      { id: 2, name: 'Bob' },
    ]);
    await until(async () => (await presenceOf(alice)).joining.length === 1);
    assert.deepEqual(await presenceOf(alice), { joining: [{ id: 2, name: 'Bob' }], leaving: [] });

    // Bob's second tab: the same member, so nobody hears of it.
    const bob2 = await openTab(bobContext);
    assert.equal((await join(bob2)).length, 2);
    assert.deepEqual(await gateway.sdk.getPresenceMembers('presence-room.1'), [
      { id: '1', info: { id: 1, name: 'Alice' } },
      { id: '2', info: { id: 2, name: 'Bob' } },
    ]);
    // Bob's first tab leaves the channel, his second closes: one leaving, after the last.
    await bob1.page.evaluate(() => (globalThis as unknown as { Echo: { leave(name: string): void } }).Echo.leave('room.1'));
    await until(async () => (await gateway.sdk.getClientIdListByGroup('presence-room.1')).length === 2);
    await bob2.page.close();
    await until(async () => (await presenceOf(alice)).leaving.length === 1);
    assert.deepEqual(await presenceOf(alice), { joining: [{ id: 2, name: 'Bob' }], leaving: [{ id: 2, name: 'Bob' }] });
    assert.deepEqual(await gateway.sdk.getPresenceMembers('presence-room.1'), [{ id: '1', info: { id: 1, name: 'Alice' } }]);
    // A guest cannot join a presence channel.
    const guest = await openTab(await userContext(0));
    const refused = await guest.page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          (globalThis as unknown as { Echo: any }).Echo.join('room.1').error((error: { status: number }) => resolve(error.status));
        }),
    );
    assert.equal(refused, 403);
    assert.deepEqual(
      (await gateway.sdk.getPresenceMembers('presence-room.1')).map((m) => m.id),
      ['1'],
    );
  });
});
