/**
 * `node --import tsx bench/presence.ts`: what presence adds, in DynamoDB calls and capacity units
 * (dynalite's accounting, which follows AWS's rules) and posts, for a group of PRESENCE_MEMBERS (100)
 * connections on the local gateway: joinGroup against joinPresence (the 101st member, announcing),
 * leaveGroup of each, getPresenceMembers, sendToGroup to the plain and the presence group, and
 * $disconnect (unregisterConnection) of a plain and of a presence member. Not a test.
 */
import { GatewayHarness } from '../testkit/gatewayHarness.ts';
import type { ConsumedCapacityEvent } from '../sdk/index.ts';

const MEMBERS = Number(process.env.PRESENCE_MEMBERS ?? 100);
const events: ConsumedCapacityEvent[] = [];
const h = await GatewayHarness.start({ gateway: { onConsumedCapacity: (e) => events.push(e) } });
const info = (i: number) => ({ id: i, name: `User ${i}` });

async function measure(label: string, run: () => Promise<unknown>): Promise<void> {
  events.length = 0;
  const started = performance.now();
  await run();
  const ms = performance.now() - started;
  const calls = new Set(events.map((e) => e.call)).size;
  const units = events.reduce((sum, e) => sum + e.capacityUnits, 0);
  const byCommand = new Map<string, number>();
  for (const e of events) byCommand.set(e.command, (byCommand.get(e.command) ?? 0) + e.capacityUnits);
  console.log(
    `${label.padEnd(58)} ${String(calls).padStart(3)} DynamoDB calls  ${units.toFixed(1).padStart(6)} capacity units  (${[...byCommand].map(([c, u]) => `${c} ${u.toFixed(1)}`).join(', ')})  ${ms.toFixed(0)} ms`,
  );
}

try {
  const clients = await h.connectMany(MEMBERS + 2, 25);
  const members = clients.slice(0, MEMBERS);
  for (const [i, c] of members.entries()) {
    await h.gateway.joinGroup(c.id, 'plain');
    await h.gateway.joinPresence(c.id, 'presence', { id: String(i), info: info(i) });
  }
  const [extra, leaver] = clients.slice(MEMBERS) as [(typeof clients)[0], (typeof clients)[0]];
  console.log(`${MEMBERS} members in a plain group and in a presence group; info like ${JSON.stringify(info(1))}`);
  await measure('joinGroup (plain group)', () => h.gateway.joinGroup(extra.id, 'plain'));
  await measure(`joinPresence (a new uid: reads ${MEMBERS + 1} items, announces)`, () =>
    h.gateway.joinPresence(extra.id, 'presence', { id: 'new', info: info(999) }),
  );
  await measure('leaveGroup (plain group)', () => h.gateway.leaveGroup(extra.id, 'plain'));
  await measure('leaveGroup (presence group: reads, announces)', () => h.gateway.leaveGroup(extra.id, 'presence'));
  await measure(`getPresenceMembers (${MEMBERS} members)`, () => h.gateway.getPresenceMembers('presence'));
  await measure(`sendToGroup (plain group, ${MEMBERS} recipients)`, () => h.gateway.sendToGroup('plain', 'x'));
  await measure(`sendToGroup (presence group, ${MEMBERS} recipients)`, () => h.gateway.sendToGroup('presence', 'x'));
  await h.gateway.joinGroup(leaver.id, 'plain-only');
  await measure('unregisterConnection (one plain membership)', () => h.gateway.unregisterConnection(leaver.id));
  await h.gateway.joinPresence(extra.id, 'presence', { id: 'new', info: info(999) });
  await measure('unregisterConnection (one presence membership: announces)', () => h.gateway.unregisterConnection(extra.id));
} finally {
  await h.stop();
}
