/**
 * The GatewayWorker seed's flow as scenarios that only need a WebSocket URL and the SDK: connect and
 * receive init unasked, bind and push by uid, group and push by group with an exclusion, disconnect
 * and find every mapping gone. Registered by test/integration/scenarios-local.test.ts (the local gateway) and
 * test/scenarios/deployed.ts (a deployed stack).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, eventually, type TestClient } from '../helpers/wsClient.ts';
import type { ScenarioTarget } from './targets.ts';

const CLIENT_ID = /^[A-Za-z0-9_-]{15}=$/;

export function registerSeedScenarios(makeTarget: () => Promise<ScenarioTarget> | ScenarioTarget): void {
  let target: ScenarioTarget;
  const open: TestClient[] = [];
  const suffix = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

  before(async () => {
    target = await makeTarget();
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await target?.stop();
  });

  /** Connects and waits for the init message; returns the client and its id. */
  async function joined(): Promise<{ client: TestClient; clientId: string; bind: { bindToken: string } }> {
    const client = await connect(target.wsUrl);
    open.push(client);
    const init = await client.json(0, 15_000);
    assert.equal(init.type, 'init');
    assert.match(init.client_id, CLIENT_ID);
    // The page posts the token with the id, and the backend passes it to the binding methods.
    assert.equal(typeof init.bind_token, 'string');
    return { client, clientId: init.client_id, bind: { bindToken: init.bind_token } };
  }

  test('a new connection receives {"type":"init","client_id","bind_token"} without sending anything, and is online', async () => {
    const { clientId, bind } = await joined();
    assert.equal(await target.sdk.isOnline(clientId), true);
    assert.equal(await target.sdk.verifyBindToken(clientId, bind.bindToken), true);
  });

  test('bindUid then sendToUid reaches every client of that uid and no other', async () => {
    const uid = `user-${suffix}`;
    const a = await joined();
    const b = await joined();
    const other = await joined();
    await target.sdk.bindUid(a.clientId, uid, a.bind);
    await target.sdk.bindUid(b.clientId, uid, b.bind);
    const report = await target.sdk.sendToUid(uid, { type: 'say', text: 'for the uid' });
    assert.deepEqual(report.sent.sort(), [a.clientId, b.clientId].sort());
    for (const c of [a, b]) assert.deepEqual(await c.client.json(1, 15_000), { type: 'say', text: 'for the uid' });
    await target.sdk.sendToClient(other.clientId, 'marker');
    assert.equal(await other.client.message(1, 15_000), 'marker', 'the unbound client got only what was sent to it');
  });

  test('joinGroup then sendToGroup reaches the members, minus the excluded one', async () => {
    const group = `room-${suffix}`;
    const members = [await joined(), await joined(), await joined()];
    for (const m of members) await target.sdk.joinGroup(m.clientId, group, m.bind);
    assert.equal(await target.sdk.getClientCountByGroup(group), 3);
    const report = await target.sdk.sendToGroup(group, 'hello group', { exclude: members[2]!.clientId });
    assert.equal(report.recipients, 2);
    assert.equal(await members[0]!.client.message(1, 15_000), 'hello group');
    assert.equal(await members[1]!.client.message(1, 15_000), 'hello group');
    await target.sdk.sendToClient(members[2]!.clientId, 'marker');
    assert.equal(await members[2]!.client.message(1, 15_000), 'marker');
  });

  test('disconnecting removes the connection, its uid binding and its group memberships', async () => {
    const uid = `leaver-${suffix}`;
    const group = `leavers-${suffix}`;
    const { client, clientId, bind } = await joined();
    await target.sdk.bindUid(clientId, uid, bind);
    await target.sdk.joinGroup(clientId, group, bind);
    await client.close();
    open.splice(open.indexOf(client), 1);
    await eventually(
      () => target.sdk.getConnection(clientId),
      (c) => c === undefined,
      15_000,
    );
    await eventually(
      () => target.sdk.getClientIdByUid(uid),
      (ids) => ids.length === 0,
      15_000,
    );
    await eventually(
      () => target.sdk.getClientIdListByGroup(group),
      (ids) => ids.length === 0,
      15_000,
    );
    assert.equal(await target.sdk.isOnline(clientId), false);
  });
}
