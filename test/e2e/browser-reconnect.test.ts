// The browser client in Debian's Chromium (playwright-core), on the example page served by the
// example backend over the synthesized app on the local gateway: the page connects, binds with its
// bind token and receives a push; the gateway is stopped and started again on the same port (and,
// separately, the connection is deleted through @connections, or reaches a lowered age limit) and the page reconnects, binds again
// with its new id and receives the next push, with no reload; another session cannot bind the page's
// id; an init that never comes makes the client reconnect; close() stops it for good; the browser's
// `online` event ends a long backoff wait at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDevEnvironment, type DevEnvironment } from '../../example/devEnvironment.ts';
import { LocalGateway } from '../../local/index.ts';
import { builtinApp } from '../../local/builtinApp.ts';
import { eventually } from '../helpers/wsClient.ts';
import { CHROMIUM_ARGS } from '../helpers/chromium.ts';

// The callbacks of page.evaluate run in the page; this project type-checks without the DOM library.
declare const window: any, document: any, MutationObserver: any;

let dev: DevEnvironment;
let browser: Browser;

before(async () => {
  dev = await startDevEnvironment({ assemblyDirectory: 'cdk.out' });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await dev?.stop();
});

async function openPage(uid: string, group = 'room-r'): Promise<{ page: Page; clientId: string }> {
  const page = await browser.newPage();
  await page.goto(`${dev.backend.url}?uid=${uid}&group=${group}`);
  await page.locator('#status[data-state="bound"]').waitFor({ timeout: 20_000 });
  // Set once: still there after a reconnect only if the page was not reloaded.
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
  return { page, clientId: (await page.locator('#client-id').textContent())! };
}

/** Waits until the page has bound a connection other than `previous`; returns its id. */
async function reboundAfter(page: Page, previous: string): Promise<string> {
  await page.waitForFunction(
    (old) => document.querySelector('#client-id')!.textContent !== old && document.querySelector('#status')!.getAttribute('data-state') === 'bound',
    previous,
    { timeout: 30_000 },
  );
  return (await page.locator('#client-id').textContent())!;
}

const notReloaded = (page: Page) => page.evaluate(() => (window as unknown as { marker?: number }).marker === 42);

test('across a gateway restart on the same port and a DELETE, the page reconnects, binds its new id and receives the next push, with no reload', async () => {
  const { page, clientId: first } = await openPage('carol');
  assert.deepEqual(await dev.sdk.getClientIdByUid('carol'), [first]);
  await dev.sdk.sendToUid('carol', { type: 'say', from: 'server', text: 'before the restart' });
  await page.locator('#messages li', { hasText: 'server: before the restart' }).waitFor();

  const states: string[] = [];
  page.on('console', (m) => states.push(m.text()));
  await page.evaluate(() =>
    new MutationObserver(() => console.log(document.querySelector('#status')!.getAttribute('data-state'))).observe(document.querySelector('#status')!, {
      attributes: true,
    }),
  );
  await dev.restartGateway();
  const second = await reboundAfter(page, first);
  assert.ok(states.includes('reconnecting'), `the page showed the reconnect: ${states.join(' ')}`);
  assert.notEqual(second, first);
  assert.deepEqual(await dev.sdk.getClientIdByUid('carol'), [second]);
  assert.deepEqual(await dev.sdk.getClientIdListByGroup('room-r'), [second]);
  const report = await dev.sdk.sendToUid('carol', { type: 'say', from: 'server', text: 'after the restart' });
  assert.deepEqual(report.sent, [second]);
  await page.locator('#messages li', { hasText: 'server: after the restart' }).waitFor();
  assert.equal(await notReloaded(page), true);

  // A DELETE through @connections (as closeClient does): the same again.
  assert.equal(dev.gateway.deleteConnection(second), 'deleted');
  const third = await reboundAfter(page, second);
  await dev.sdk.sendToGroup('room-r', { type: 'say', from: 'server', text: 'after the delete' });
  await page.locator('#messages li', { hasText: 'server: after the delete' }).waitFor();
  assert.deepEqual(await dev.sdk.getClientIdByUid('carol'), [third]);
  assert.equal(await page.locator('#connections').textContent(), '3');
  assert.equal(await notReloaded(page), true);

  // The page says what a send did.
  await page.fill('input[name="message"]', 'to my group');
  await page.click('button[type="submit"]');
  await page.locator('#send-result', { hasText: 'reached 1 of 1 recipient' }).waitFor();
  await page.selectOption('select[name="to"]', 'uid');
  await page.fill('input[name="target"]', 'nobody-here');
  await page.fill('input[name="message"]', 'to nobody');
  await page.click('button[type="submit"]');
  await page.locator('#send-result', { hasText: 'reached 0 of 0 recipients' }).waitFor();
  await page.close();
});

test('at the connection age limit (lowered to 6 s here; 2 hours on AWS) API Gateway closes with 1001: the page reconnects, binds its new id and receives the next push, with no reload', async () => {
  const aged = await startDevEnvironment({ assemblyDirectory: 'cdk.out', limits: { maxConnectionDurationMs: 6_000 } });
  const page = await browser.newPage();
  try {
    await page.goto(`${aged.backend.url}?uid=frank&group=room-a`);
    await page.locator('#status[data-state="bound"]').waitFor({ timeout: 20_000 });
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const first = (await page.locator('#client-id').textContent())!;
    const second = await reboundAfter(page, first);
    assert.notEqual(second, first);
    // At once, before the new connection ages out too (the old one is gone: 410, pruned, or already removed by its $disconnect).
    const report = await aged.sdk.sendToUid('frank', { type: 'say', from: 'server', text: 'after the age limit' });
    assert.deepEqual(report.sent, [second]);
    await page.locator('#messages li', { hasText: 'server: after the age limit' }).waitFor();
    assert.equal(await notReloaded(page), true);
    // The old connection's $disconnect (asynchronous) removes its binding; the page's later ones stay bound.
    await eventually(
      () => aged.sdk.getClientIdByUid('frank'),
      (ids) => !ids.includes(first) && ids.length > 0,
      10_000,
    );
  } finally {
    await page.close();
    await aged.stop();
  }
});

test("another session cannot bind the page's connection: without its token, or with its own token, the bind is refused and nothing changes", async () => {
  const victim = await openPage('dave', 'room-v');
  const attacker = await openPage('eve', 'room-e');
  const attempt = (fields: Record<string, string>) =>
    attacker.page.evaluate(async (body) => {
      const response = await fetch('/bind', { method: 'POST', body: new URLSearchParams(body) });
      return { status: response.status, body: (await response.json()) as { code?: string } };
    }, fields);
  const ownToken = await attacker.page.evaluate(() => (window as unknown as { gatewayClient: { bindToken: string } }).gatewayClient.bindToken);
  assert.match(ownToken, /^v2\.\d+\.[A-Za-z0-9_-]{43}$/);
  const attempts: Array<Record<string, string>> = [
    { client_id: victim.clientId },
    { client_id: victim.clientId, bind_token: ownToken },
    { client_id: victim.clientId, bind_token: 'forged' },
  ];
  for (const fields of attempts) {
    const { status, body } = await attempt(fields);
    assert.equal(status, 403, JSON.stringify(body));
    assert.equal(body.code, 'BIND_TOKEN');
  }
  assert.deepEqual(await dev.sdk.getClientIdByUid('eve'), [attacker.clientId]);
  assert.equal(await dev.sdk.getUidByClientId(victim.clientId), 'dave');
  assert.deepEqual(await dev.sdk.getGroupsByClientId(victim.clientId), ['room-v']);
  await victim.page.close();
  await attacker.page.close();
});

test('an init that never comes makes the client close and reconnect; once init comes it opens; close() stops it for good', async () => {
  let sendInit = false;
  const app = builtinApp();
  const silent = new LocalGateway({
    ...app,
    ttlSweepIntervalMs: 0,
    routes: { ...app.routes, $connect: async (event: any, context: any) => (sendInit ? (app.routes.$connect as any)(event, context) : { statusCode: 200 }) },
  });
  const { wsUrl } = await silent.start();
  const page = await browser.newPage();
  try {
    await page.goto(`${dev.backend.url}config.json`); // any document of the backend's origin
    // A string, not a function: the test runner's transform would add helpers the page does not have.
    await page.evaluate(`(async () => {
      const { connect } = await import('/gateway-client.js');
      window.states = [];
      window.inits = [];
      window.client = connect(${JSON.stringify(wsUrl)}, {
        initTimeoutMs: 400,
        minDelayMs: 50,
        maxDelayMs: 200,
        onInit: (init) => window.inits.push(init),
        onStateChange: (state, info) => window.states.push({ state, info }),
      });
    })()`);
    const states = () => page.evaluate(() => (window as unknown as { states: Array<{ state: string; info: { reason?: string } }> }).states);
    await eventually(states, (s) => s.filter((x) => x.state === 'reconnecting').length >= 2, 10_000);
    assert.ok((await states()).filter((x) => x.state === 'reconnecting').every((x) => x.info.reason === 'no init'));
    assert.ok(silent.stats().disconnects >= 2, 'the client closed each connection that brought no init');

    sendInit = true;
    await eventually(
      () => page.evaluate(() => (window as unknown as { inits: unknown[] }).inits.length),
      (n) => n === 1,
      10_000,
    );
    assert.equal(await page.evaluate(() => (window as unknown as { client: { state: string } }).client.state), 'open');

    await page.evaluate(() => (window as unknown as { client: { close(): void } }).client.close());
    await eventually(
      () => silent.stats().openConnections,
      (n) => n === 0,
      5000,
    );
    const connects = silent.stats().connects;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(silent.stats().connects, connects, 'no connection after close()');
    assert.equal((await states()).at(-1)!.state, 'closed');
  } finally {
    await page.close();
    await silent.stop();
  }
});

test('coming back online reconnects at once instead of waiting out the backoff', async () => {
  const app = builtinApp();
  let gateway = new LocalGateway({ ...app, ttlSweepIntervalMs: 0 });
  const { wsUrl } = await gateway.start();
  const port = Number(new URL(wsUrl).port);
  await gateway.stop();
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${dev.backend.url}config.json`);
    // Nothing listens yet: the first retry waits 30-60 s.
    await page.evaluate(`(async () => {
      const { connect } = await import('/gateway-client.js');
      window.inits = [];
      window.states = [];
      window.client = connect(${JSON.stringify(wsUrl)}, { minDelayMs: 60000, maxDelayMs: 60000, onInit: (init) => window.inits.push(init), onStateChange: (state, info) => window.states.push({ state, info }) });
    })()`);
    await eventually(
      () => page.evaluate(() => window.states.filter((s: { state: string }) => s.state === 'reconnecting').length),
      (n) => n === 1,
      10_000,
    );
    const wait = await page.evaluate(() => window.states.at(-1).info.delayMs);
    assert.ok(wait >= 30_000, `waiting ${wait} ms`);
    gateway = new LocalGateway({ ...builtinApp(), ttlSweepIntervalMs: 0, port });
    await gateway.start();
    const started = Date.now();
    await context.setOffline(true);
    await context.setOffline(false); // fires `online`
    await eventually(
      () => page.evaluate(() => window.inits.length),
      (n) => n === 1,
      10_000,
    );
    assert.ok(Date.now() - started < 10_000);
    assert.equal(await page.evaluate(() => window.client.state), 'open');
    await page.evaluate(() => window.client.close());
  } finally {
    await context.close();
    await gateway.stop();
  }
});
