// The seed's flow in a real browser (Debian's Chromium through playwright-core): two tabs open the
// example page, which connects to the local gateway serving the synthesized CDK app, gets init, and
// binds through the example backend. Group and uid messages are pushed with the SDK; closing a tab
// removes its mappings, checked in DynamoDB. A screenshot is saved in test-results/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { startDevEnvironment, type DevEnvironment } from '../../example/devEnvironment.ts';
import { documentClient } from '../helpers/awsClients.ts';
import { eventually } from '../helpers/wsClient.ts';
import { CHROMIUM_ARGS } from '../helpers/chromium.ts';

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

async function openTab(uid: string): Promise<{ page: Page; clientId: string }> {
  const page = await browser.newPage();
  await page.goto(`${dev.backend.url}?uid=${uid}&group=room-1`);
  await page.locator('#status[data-state="bound"]').waitFor({ timeout: 20_000 });
  const clientId = (await page.locator('#client-id').textContent())!;
  return { page, clientId };
}

const messagesOf = (page: Page) => page.locator('#messages li').allTextContents();

async function sendFrom(page: Page, to: 'group' | 'uid', text: string, target = ''): Promise<void> {
  await page.selectOption('select[name="to"]', to);
  await page.fill('input[name="target"]', target);
  await page.fill('input[name="message"]', text);
  await page.click('button[type="submit"]');
}

test('two tabs bind, a group message reaches both, a uid message only one, and closing a tab removes its mappings', async () => {
  const alice = await openTab('alice');
  const bob = await openTab('bob');
  assert.match(alice.clientId, /^[A-Za-z0-9_-]{15}=$/);
  assert.notEqual(alice.clientId, bob.clientId);

  // Both binds reached DynamoDB.
  assert.deepEqual(await dev.sdk.getClientIdByUid('alice'), [alice.clientId]);
  assert.deepEqual(await dev.sdk.getClientIdByUid('bob'), [bob.clientId]);
  assert.deepEqual((await dev.sdk.getClientIdListByGroup('room-1')).sort(), [alice.clientId, bob.clientId].sort());

  await sendFrom(alice.page, 'group', 'hello room');
  await alice.page.locator('#messages li', { hasText: 'alice: hello room' }).waitFor();
  await bob.page.locator('#messages li', { hasText: 'alice: hello room' }).waitFor();

  await sendFrom(bob.page, 'uid', 'just for alice', 'alice');
  await alice.page.locator('#messages li', { hasText: 'bob: just for alice' }).waitFor();
  // A later group message reaches bob after anything sent to him before it.
  await sendFrom(bob.page, 'group', 'marker');
  await bob.page.locator('#messages li', { hasText: 'bob: marker' }).waitFor();
  assert.deepEqual(await messagesOf(bob.page), ['alice: hello room', 'bob: marker']);
  assert.deepEqual(await messagesOf(alice.page), ['alice: hello room', 'bob: just for alice', 'bob: marker']);

  mkdirSync('test-results', { recursive: true });
  await alice.page.screenshot({ path: 'test-results/browser-two-tabs.png', fullPage: true });

  // Closing bob's tab closes his WebSocket; $disconnect removes every mapping of his connection.
  await bob.page.close();
  const tables = JSON.parse(JSON.stringify(dev.endpoints.env)) as Record<string, string>;
  const docs = documentClient(dev.endpoints);
  await eventually(
    async () =>
      (await docs.send(new GetCommand({ TableName: tables.GATEWAY_CONNECTIONS_TABLE, Key: { connectionId: bob.clientId }, ConsistentRead: true }))).Item,
    (item) => item === undefined,
    15_000,
  );
  // The connection item goes first, its index items right after (the design brief's removal order).
  const uidItems = () =>
    docs.send(
      new QueryCommand({
        TableName: tables.GATEWAY_UIDS_TABLE,
        KeyConditionExpression: 'uid = :u',
        ExpressionAttributeValues: { ':u': 'bob' },
        ConsistentRead: true,
      }),
    );
  await eventually(
    async () => (await uidItems()).Items!.length,
    (n) => n === 0,
    15_000,
  );
  const groupItems = () =>
    docs.send(
      new QueryCommand({
        TableName: tables.GATEWAY_GROUPS_TABLE,
        KeyConditionExpression: '#g = :g',
        ExpressionAttributeNames: { '#g': 'group' },
        ExpressionAttributeValues: { ':g': 'room-1' },
        ConsistentRead: true,
      }),
    );
  const members = await eventually(
    async () => (await groupItems()).Items!.map((i) => i.connectionId),
    (ids) => ids.length === 1,
    15_000,
  );
  assert.deepEqual(members, [alice.clientId]);
  assert.equal(await dev.sdk.isUidOnline('bob'), false);
  assert.equal(await dev.sdk.isUidOnline('alice'), true);
  await alice.page.close();
});
