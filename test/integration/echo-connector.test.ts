/**
 * The Echo connector (clients/echo/gateway-connector.js) under laravel-echo 2.x in Node 22 (its
 * global WebSocket and fetch), on the synthesized app on the local gateway, with a Node stand-in for
 * /broadcasting/auth that joins as the `gateway` broadcaster does (joinGroup / joinPresence /
 * leaveGroup) and can hold its answer back: presence events that arrive before the join's answer
 * are applied after here(), duplicates and unknown uids change nothing, a reconnect subscribes every
 * channel again with the new client id, leave() leaves the group, a refusal reaches error(), and
 * event names are formatted as Echo formats them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Echo from 'laravel-echo';
import { GatewayConnector } from '../../clients/echo/gateway-connector.js';
import { startGatewayApiApp, type GatewayApiApp } from '../../testkit/gatewayApiApp.ts';

async function until(probe: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${probe.toString().slice(0, 200)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

type AnyEcho = InstanceType<typeof Echo> & { connector: GatewayConnector; socketId(): string | undefined };

describe('the Echo connector', { timeout: 120_000 }, () => {
  let app: GatewayApiApp;
  let auth: Server;
  let authUrl: string;
  /** uid -> a promise the presence answer for that uid waits for. */
  const holds = new Map<string, Promise<void>>();
  const echos: AnyEcho[] = [];

  before(async () => {
    app = await startGatewayApiApp('echo-connector');
    auth = createServer(async (req, res) => {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const form = Object.fromEntries(new URLSearchParams(raw));
      const uid = String(req.headers['x-user']);
      const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      try {
        const { socket_id: id, channel_name: channel } = form as Record<string, string>;
        if (channel.startsWith('private-')) return reply(403, { message: 'This action is unauthorized.' });
        if (form.leave) {
          await app.sdk.leaveGroup(id!, channel!);
          return reply(200, { channel, left: true });
        }
        if (!channel!.startsWith('presence-')) {
          await app.sdk.joinGroup(id!, channel!);
          return reply(200, { channel });
        }
        const joined = await app.sdk.joinPresence(id!, channel!, { id: uid, info: { name: uid } });
        await holds.get(uid);
        reply(200, { channel, members: joined.members });
      } catch (error) {
        reply(500, { message: String(error) });
      }
    });
    await new Promise<void>((resolve) => auth.listen(0, '127.0.0.1', resolve));
    authUrl = `http://127.0.0.1:${(auth.address() as AddressInfo).port}/broadcasting/auth`;
  });
  after(async () => {
    for (const echo of echos) echo.disconnect();
    auth?.close();
    await app?.stop();
  });

  function newEcho(user: string): AnyEcho {
    const echo = new Echo({
      broadcaster: GatewayConnector,
      url: app.endpoints.wsUrl,
      authEndpoint: authUrl,
      auth: { headers: { 'x-user': user } },
      clientOptions: { minDelayMs: 50, maxDelayMs: 200 },
    } as never) as AnyEcho;
    echos.push(echo);
    return echo;
  }

  test('presence events before the join is answered are applied after here(); duplicates and unknown uids change nothing', async () => {
    let release!: () => void;
    holds.set('alice', new Promise<void>((resolve) => (release = resolve)));
    const alice = newEcho('alice');
    const seen: unknown[] = [];
    alice
      .join('lobby')
      .here((members: unknown[]) => seen.push(['here', members]))
      .joining((member: unknown) => seen.push(['joining', member]))
      .leaving((member: unknown) => seen.push(['leaving', member]));
    await until(async () => (await app.sdk.getPresenceMembers('presence-lobby')).length === 1);
    const bob = newEcho('bob');
    bob.join('lobby');
    await until(async () => (await app.sdk.getPresenceMembers('presence-lobby')).length === 2);
    const aliceId = alice.socketId()!;
    // Alice's connection has bob's member_added already; her here() has not come.
    await app.sdk.sendToClient(aliceId, { event: 'gateway:member_added', channel: 'presence-lobby', data: { id: 'bob', info: { name: 'bob' } } });
    await app.sdk.sendToClient(aliceId, { event: 'gateway:member_removed', channel: 'presence-lobby', data: { id: 'nobody' } });
    assert.deepEqual(seen, []);
    release();
    await until(() => seen.length === 2);
    assert.deepEqual(seen, [
      ['here', [{ name: 'alice' }]],
      ['joining', { name: 'bob' }],
    ]);
    // Bob leaves: one leaving, with the info alice had for him.
    bob.leave('lobby');
    await until(() => seen.length === 3);
    assert.deepEqual(seen[2], ['leaving', { name: 'bob' }]);
    assert.deepEqual(
      (await app.sdk.getPresenceMembers('presence-lobby')).map((m) => m.id),
      ['alice'],
    );
  });

  test('a reconnect subscribes every channel again, with the new client id', async () => {
    const carol = newEcho('carol');
    const got: unknown[] = [];
    const heres: unknown[] = [];
    carol.channel('news').listen('.flash', (e: unknown) => got.push(e));
    carol.join('hall').here((members: unknown[]) => heres.push(members));
    await until(() => heres.length === 1);
    const first = carol.socketId()!;
    assert.deepEqual(await app.sdk.getClientIdListByGroup('news'), [first]);
    await app.sdk.destroyClient(first);
    await until(
      async () =>
        carol.socketId() !== undefined && carol.socketId() !== first && (await app.sdk.getClientIdListByGroup('news')).length === 1 && heres.length === 2,
    );
    const second = carol.socketId()!;
    assert.deepEqual(await app.sdk.getClientIdListByGroup('news'), [second]);
    assert.deepEqual(heres[1], [{ name: 'carol' }]);
    await app.sdk.sendToGroup('news', { event: 'flash', channel: 'news', data: { n: 1 } });
    await until(() => got.length === 1);
    assert.deepEqual(got, [{ n: 1 }]);
    assert.equal(carol.connectionStatus(), 'connected');
  });

  test('a refused subscription reaches error() and joins nothing', async () => {
    const dave = newEcho('dave');
    const status = await new Promise<number>((resolve) => dave.private('secret').error((e: { status: number }) => resolve(e.status)));
    assert.equal(status, 403);
    assert.deepEqual(await app.sdk.getClientIdListByGroup('private-secret'), []);
    assert.throws(() => (dave.private('secret') as unknown as { whisper(e: string, d: unknown): void }).whisper('typing', {}), /not supported/);
  });

  test("event names as Echo formats them: the namespace, '.' for a name as is, listenToAll, stopListening", async () => {
    const erin = newEcho('erin');
    const got: unknown[] = [];
    const subscribed = new Promise<void>((resolve) => {
      const channel = erin.channel('shop');
      const onShipped = (e: unknown) => got.push(['shipped', e]);
      channel
        .listen('OrderShipped', onShipped)
        .listen('.price.changed', (e: unknown) => got.push(['price', e]))
        .listenToAll((event: string, e: unknown) => got.push(['all', event, e]))
        .subscribed(() => resolve());
    });
    await subscribed;
    const send = (event: string, data: unknown) => app.sdk.sendToGroup('shop', { event, channel: 'shop', data });
    await send('App\\Events\\OrderShipped', { id: 1 });
    await send('price.changed', { p: 2 });
    await send('App\\Events\\OrderShipped', { id: 3 });
    await until(() => got.length === 6);
    assert.deepEqual(got, [
      ['shipped', { id: 1 }],
      ['all', 'OrderShipped', { id: 1 }],
      ['price', { p: 2 }],
      ['all', '.price.changed', { p: 2 }],
      ['shipped', { id: 3 }],
      ['all', 'OrderShipped', { id: 3 }],
    ]);
    erin.channel('shop').stopListening('OrderShipped').stopListeningToAll();
    await send('App\\Events\\OrderShipped', { id: 4 });
    await send('price.changed', { p: 5 });
    await until(() => got.length === 7);
    assert.deepEqual(got[6], ['price', { p: 5 }]);
  });
});
