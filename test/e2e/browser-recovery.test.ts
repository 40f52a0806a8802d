// No push lost across reconnects (docs/guides/recovery.md), in Debian's Chromium with the browser
// client, against the synthesized app on the local gateway: pushes at 20/s, in turn to the page's
// uid, its group and all, for 30 s, while the gateway cuts the connection every few seconds (make
// before break) and, in a second run, while the socket is cut without a close frame every 4 s
// (resume within the window): every push reaches the page once and in order. A resume with another
// client's old id, or after the window, is refused and carries nothing over; after closeClient the
// client reconnects without resuming.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { startDevEnvironment, type DevEnvironment } from '../../example/devEnvironment.ts';
import { eventually } from '../helpers/wsClient.ts';
import { CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { mintResumeToken } from '../../sdk/resumeToken.ts';

declare const window: any;

/** How long each push run lasts (the issue asks for at least 30 s). */
const RUN_MS = Number(process.env.RECOVERY_TEST_RUN_MS ?? 30_000);
const PUSH_INTERVAL_MS = 50;

let browser: Browser;

before(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
});

/** A page of the backend's origin running the browser client, bound (on every onInit) to `uid` and `group` through the example backend. */
async function clientPage(dev: DevEnvironment, uid: string, group: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${dev.backend.url}config.json`);
  // A string, not a function: the test runner's transform would add helpers the page does not have.
  await page.evaluate(`(async () => {
    const { connect } = await import('/gateway-client.js');
    const post = (path, body) => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
    await post('/login', { uid: ${JSON.stringify(uid)}, group: ${JSON.stringify(group)} });
    const { wsUrl } = await (await fetch('/config.json')).json();
    window.got = [];
    window.inits = [];
    window.states = [];
    window.client = connect(wsUrl, {
      minDelayMs: 100,
      maxDelayMs: 1000,
      onInit: async (init) => {
        window.inits.push({ ...init, at: Date.now() });
        await post('/bind', { client_id: init.clientId, bind_token: init.bindToken });
        window.bound = init.clientId;
      },
      onMessage: (data) => window.got.push({ data, at: Date.now() }),
      onStateChange: (state, info) => window.states.push({ state, info, at: Date.now() }),
    });
  })()`);
  await eventually(
    () => page.evaluate(() => window.bound),
    (id) => typeof id === 'string',
    20_000,
  );
  return page;
}

/** Pushes `{seq}` at 20/s in turn to the uid, the group and all, for RUN_MS; `during(seq)` runs between pushes. Returns how many were sent. */
async function pushRun(dev: DevEnvironment, uid: string, group: string, during?: (seq: number) => Promise<void>): Promise<number> {
  const started = Date.now();
  let seq = 0;
  while (Date.now() - started < RUN_MS) {
    const message = { seq };
    const kind = seq % 3;
    if (kind === 0) await dev.sdk.sendToUid(uid, message);
    else if (kind === 1) await dev.sdk.sendToGroup(group, message);
    else await dev.sdk.sendToAll(message);
    await during?.(seq);
    seq++;
    const wait = started + seq * PUSH_INTERVAL_MS - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return seq;
}

async function assertEveryPushOnceInOrder(page: Page, sent: number): Promise<void> {
  await eventually(
    () => page.evaluate(() => window.got.length),
    (n) => n >= sent,
    20_000,
  ).catch(() => undefined);
  const seqs: number[] = await page.evaluate(() => window.got.map((m: { data: { seq: number } }) => m.data.seq));
  const missing = Array.from({ length: sent }, (_, i) => i).filter((i) => !seqs.includes(i));
  const duplicated = seqs.filter((s, i) => seqs.indexOf(s) !== i);
  assert.deepEqual({ received: seqs.length, missing, duplicated }, { received: sent, missing: [], duplicated: [] }, `pushed ${sent}`);
  assert.deepEqual(
    seqs,
    Array.from({ length: sent }, (_, i) => i),
    'in the order sent',
  );
}

test('the gateway cuts the connection every 5 s (age limit; 2 hours on AWS): the client opens the next one before the cut and takes the old one over; 30 s of pushes at 20/s to the uid, the group and all arrive once each, in order', {
  timeout: RUN_MS + 90_000,
}, async () => {
  const dev = await startDevEnvironment({ assemblyDirectory: 'cdk.out', limits: { maxConnectionDurationMs: 5_000 } });
  const page = await clientPage(dev, 'ada', 'room-mbb');
  try {
    const sent = await pushRun(dev, 'ada', 'room-mbb');
    await assertEveryPushOnceInOrder(page, sent);
    const inits: Array<{ resumed: boolean }> = await page.evaluate(() => window.inits);
    const states: Array<{ state: string }> = await page.evaluate(() => window.states);
    assert.ok(inits.filter((i) => i.resumed).length >= Math.floor(RUN_MS / 5_000) - 1, `renewed by take-over: ${JSON.stringify(inits)}`);
    assert.equal(states.filter((s) => s.state === 'reconnecting').length, 0, 'the page never saw a reconnect');
    // Listed once (a take-over in progress lists both for the milliseconds between its writes and its deletes).
    await eventually(
      () => dev.sdk.getClientIdByUid('ada'),
      (ids) => ids.length === 1,
      5_000,
    );
  } finally {
    await page.close();
    await dev.stop();
  }
});

test('the socket cut without a close frame (a network drop: $disconnect says 1006) every 4 s: the client resumes within the window; 30 s of pushes at 20/s arrive once each, in order', {
  timeout: RUN_MS + 90_000,
}, async () => {
  const dev = await startDevEnvironment({ assemblyDirectory: 'cdk.out' });
  const page = await clientPage(dev, 'bob', 'room-drop');
  try {
    let nextDrop = Date.now() + 4_000;
    let drops = 0;
    const sent = await pushRun(dev, 'bob', 'room-drop', async () => {
      if (Date.now() < nextDrop) return;
      nextDrop = Date.now() + 4_000;
      const id: string | undefined = await page.evaluate(() => window.client.clientId);
      if (id && dev.gateway.dropConnection(id)) drops++;
    });
    await assertEveryPushOnceInOrder(page, sent);
    assert.ok(drops >= Math.floor(RUN_MS / 4_000) - 1, `dropped ${drops} times`);
    const inits: Array<{ resumed: boolean }> = await page.evaluate(() => window.inits);
    assert.equal(inits.filter((i) => i.resumed).length, drops, `every drop resumed: ${JSON.stringify(inits)}`);
    await eventually(
      () => dev.sdk.getClientIdByUid('bob'),
      (ids) => ids.length === 1,
      5_000,
    );
  } finally {
    await page.close();
    await dev.stop();
  }
});

test("a resume with another client's old id, or after the window, is refused and carries nothing over; after closeClient the client reconnects without resuming", {
  timeout: 90_000,
}, async () => {
  const dev = await startDevEnvironment({ assemblyDirectory: 'cdk.out' });
  const doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: dev.endpoints.dynamoEndpoint,
      region: dev.endpoints.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  );
  const victim = await clientPage(dev, 'victim', 'room-victim');
  const attacker = await browser.newPage();
  try {
    const victimId: string = await victim.evaluate(() => window.client.clientId);
    // The victim's network drops: its connection is held for the window.
    assert.equal(dev.gateway.dropConnection(victimId), true);
    await victim.evaluate(() => window.client.close()); // and it never comes back
    await eventually(
      () => dev.sdk.getClientIdByUid('victim'),
      (ids) => ids.length === 1 && ids[0] === victimId,
      10_000,
    );
    await dev.sdk.sendToUid('victim', { secret: 1 });

    // The attacker knows the old id (ids leak) and has a valid resume token: its own.
    await attacker.goto(`${dev.backend.url}config.json`);
    const attempt = (from: string, token?: string) =>
      attacker.evaluate(`(async () => {
        const { wsUrl } = await (await fetch('/config.json')).json();
        const socket = new WebSocket(wsUrl + '?gw=1');
        const frames = [];
        return await new Promise((resolve) => {
          socket.onmessage = (event) => {
            frames.push(event.data);
            if (event.data[0] === '{') {
              const init = JSON.parse(event.data);
              socket.send(JSON.stringify({ action: 'resume', from: ${JSON.stringify(from)}, token: ${JSON.stringify(token ?? null)} ?? init.resume_token }));
            } else if (event.data.startsWith('\\x1e\\x1e')) {
              socket.close(1000);
              resolve({ id: JSON.parse(frames[0]).client_id, frames });
            }
          };
        });
      })()`) as Promise<{ id: string; frames: string[] }>;
    for (const token of [undefined, `v2.9999999999.${'A'.repeat(43)}`]) {
      const { id, frames } = await attempt(victimId, token);
      assert.equal(frames.length, 2, JSON.stringify(frames));
      assert.deepEqual(JSON.parse(frames[1]!.slice(2)), { type: 'resume_refused', from: victimId, reason: 'proof' });
      assert.equal(await dev.sdk.getUidByClientId(id).catch(() => undefined), undefined);
    }
    assert.deepEqual(await dev.sdk.getClientIdByUid('victim'), [victimId], 'nothing carried over');

    // After the window (its end moved into the past): refused even with the victim's own token.
    await doc.send(
      new UpdateCommand({
        TableName: dev.sdk.tables.connections,
        Key: { connectionId: victimId },
        UpdateExpression: 'SET heldUntil = :past',
        ExpressionAttributeValues: { ':past': Date.now() - 1 },
      }),
    );
    const key = Buffer.from(Object.values(dev.gateway.secrets.values())[0]!, 'utf8');
    const late = await attempt(victimId, mintResumeToken(key, victimId, Date.now() + 60_000));
    assert.deepEqual(JSON.parse(late.frames[1]!.slice(2)), { type: 'resume_refused', from: victimId, reason: 'not-resumable' });
    assert.equal(await dev.sdk.getUidByClientId(late.id).catch(() => undefined), undefined);

    // closeClient, then the client's reconnect: a fresh connection, not resumed.
    const carol = await clientPage(dev, 'carol', 'room-carol');
    const first: string = await carol.evaluate(() => window.client.clientId);
    assert.equal(await dev.sdk.closeClient(first), true);
    await eventually(
      () => carol.evaluate(() => window.inits.length),
      (n) => n === 2,
      20_000,
    );
    const inits: Array<{ clientId: string; resumed: boolean }> = await carol.evaluate(() => window.inits);
    assert.equal(inits[1]!.resumed, false);
    assert.notEqual(inits[1]!.clientId, first);
    const states: Array<{ state: string; info: { code?: number } }> = await carol.evaluate(() => window.states);
    assert.ok(
      states.some((s) => s.state === 'reconnecting' && s.info.code === 1000),
      JSON.stringify(states),
    );
    await eventually(
      () => dev.sdk.getClientIdByUid('carol'),
      (ids) => ids.length === 1 && ids[0] === inits[1]!.clientId,
      10_000,
    );
    await carol.close();
  } finally {
    doc.destroy();
    await victim.close();
    await attacker.close();
    await dev.stop();
  }
});
