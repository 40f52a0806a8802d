// The load scenario of issue 6 at a small scale, on the synthesized app (cdk.out): the same code and
// processes as `npm run load` (testkit/load/loadRun.ts): a connect storm, binds and joins through the SDK,
// a series of group sends, a disconnect storm, then every table scanned. Correctness only, no timing:
// every client got its init, every member got every group message exactly once (and nobody else
// did), and nothing is left in any table or in the gateway afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG, runLoad } from '../../testkit/load/loadRun.ts';

const CONNECTIONS = Number(process.env.LOAD_TEST_CONNECTIONS ?? 300);

test(`${CONNECTIONS} connections: connect storm, binds and joins, group sends, disconnect storm, nothing left behind`, { timeout: 300_000 }, async () => {
  const result = await runLoad({
    ...DEFAULT_CONFIG,
    connections: CONNECTIONS,
    // Everyone at once: the storm itself is bounded only by the number of clients.
    connectConcurrency: CONNECTIONS,
    groupSizes: [7, 50, Number.POSITIVE_INFINITY],
    sendSizes: [7, 50, Number.POSITIVE_INFINITY],
    sendRounds: 3,
    sendWarmup: 1,
    opsConcurrency: 32,
    initTimeoutMs: 60_000,
    deliveryTimeoutMs: 60_000,
    disconnectTimeoutMs: 120_000,
  });
  const { connect, delivery, tablesAfterConnect, tablesAfterJoins, tablesAfter, statsAfter } = result;

  assert.equal(connect.connected, CONNECTIONS, `every client gets its init message: ${connect.firstErrors.join('; ')}`);
  assert.equal(connect.failures, 0);
  assert.equal(tablesAfterConnect.connections, CONNECTIONS, 'one connection item per client');
  assert.equal(tablesAfterConnect.sessions, CONNECTIONS, 'one session item per client');
  assert.equal(result.binds.errors + result.joins.errors, 0);
  assert.equal(tablesAfterJoins.uids, CONNECTIONS, 'one uid item per client');
  assert.equal(tablesAfterJoins.groups, CONNECTIONS * 3, 'one group item per client and group size');
  assert.equal(tablesAfterJoins.memberships, CONNECTIONS * 3, 'one membership item per client and group size');

  assert.equal(delivery.sends, 4 * 3);
  assert.equal(delivery.lostSends, 0, 'every send reached every member');
  assert.equal(delivery.received, delivery.expectedDeliveries);
  assert.equal(delivery.missing, 0, 'every member got every message');
  assert.equal(delivery.duplicates, 0, 'exactly once');
  assert.equal(delivery.strays, 0, 'nobody outside the group got it');
  assert.equal(delivery.unexpectedMessages, 0);
  assert.equal(delivery.reportMismatches, 0, 'each SendReport lists every member as sent');

  assert.equal(result.disconnect.abnormalCloses, 0);
  assert.deepEqual(
    tablesAfter,
    { connections: 0, sessions: 0, memberships: 0, uids: 0, groups: 0 },
    'no leaked connection, session, membership, uid or group item',
  );
  assert.equal(statsAfter.openConnections, 0);
  assert.equal(statsAfter.connects, CONNECTIONS);
  assert.equal(statsAfter.disconnects, CONNECTIONS);
  assert.equal(statsAfter.rejectedConnects, 0);
  assert.equal(statsAfter.droppedDisconnects, 0);
  assert.equal(statsAfter.asyncFailures, 0);
  assert.deepEqual(statsAfter.firstFailures, []);

  assert.deepEqual(result.problems, []);
});
