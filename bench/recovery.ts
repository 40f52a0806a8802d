/**
 * `node --import tsx bench/recovery.ts` (after `node scripts/prepare.mjs --synth`): what connection-
 * state recovery (docs/guides/recovery.md) costs and how long the gap is. Not a test.
 *
 * - Cost: DynamoDB capacity units of one recovered connection and of one buffered push, as
 *   DynamoDB reports them (ReturnConsumedCapacity, the SDK's onConsumedCapacity), against the same
 *   steps without recovery; dollars at list price (us-east-1, on-demand: $0.625 per million write
 *   request units, $0.125 per million read request units; API Gateway WebSocket messages $1.00 per
 *   million; Lambda requests $0.20 per million).
 * - Gap: the browser client (driven by `ws` in place of the browser's WebSocket) on the synthesized
 *   app, a push to its uid every PUSH_EVERY_MS; per reconnect, from the old socket's close event to
 *   the first push the page gets from the new socket: at the age limit (make before break) and at a
 *   network drop (the socket cut without a close frame; resume). Median and p99.
 *
 * Options (environment): RECOVERY_CYCLES (20), PUSH_EVERY_MS (10).
 */
import { performance } from 'node:perf_hooks';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import WebSocket from 'ws';
import { GatewayHarness, LOCAL_CREDENTIALS } from '../testkit/gatewayHarness.ts';
import { startDevEnvironment, type DevEnvironment } from '../example/devEnvironment.ts';
import { connect, type GatewayClientOptions } from '../clients/browser/gateway-client.js';
import { mintResumeToken } from '../sdk/resumeToken.ts';

const CYCLES = Number(process.env.RECOVERY_CYCLES ?? 20);
const PUSH_EVERY_MS = Number(process.env.PUSH_EVERY_MS ?? 10);
const PRICE = { wru: 0.625e-6, rru: 0.125e-6, message: 1e-6, lambdaRequest: 0.2e-6 };
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-resume-AbCdEf';

interface Units {
  rcu: number;
  wcu: number;
  calls: number;
}

// ---- cost ----

async function measureCost(): Promise<void> {
  const h = await GatewayHarness.start({ recovery: true, secrets: [{ arn: SECRET_ARN, name: 'bench-resume', generateLength: 64 }] });
  const secrets = new SecretsManagerClient({ endpoint: h.endpoints.httpUrl, region: h.endpoints.region, credentials: LOCAL_CREDENTIALS });
  let units: Units = { rcu: 0, wcu: 0, calls: 0 };
  const writes = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);
  h.gateway = h.newGateway({
    bindTokenSecret: SECRET_ARN,
    requireBindToken: false,
    secretsManager: secrets,
    onConsumedCapacity: (e) => {
      if (process.env.RECOVERY_DEBUG) console.log(`  ${e.operation} ${e.command} ${e.table} ${e.capacityUnits}`);
      units.calls++;
      if (writes.has(e.command)) units.wcu += e.capacityUnits;
      else units.rcu += e.capacityUnits;
    },
  });
  const gw = h.gateway;
  const key = Buffer.from(h.local.secrets.values()[SECRET_ARN]!, 'utf8');
  const measure = async (run: () => Promise<unknown>): Promise<Units> => {
    units = { rcu: 0, wcu: 0, calls: 0 };
    await run();
    return { ...units };
  };
  const setUp = async (client: { id: string }, n: number) => {
    await gw.bindUid(client.id, `bench-${n}`);
    await gw.joinGroup(client.id, `bench-room-${n}`);
    await gw.setSession(client.id, { name: 'x'.repeat(100) });
  };
  const rows: Array<[string, Units, Units | undefined]> = [];
  try {
    // Without recovery: a raw connection lost and a push that meets it.
    const raw = await h.connect();
    await setUp(raw, 0);
    const livePush = await measure(() => gw.sendToUid('bench-0', 'x'));
    const rawDisconnect = await measure(async () => {
      h.local.dropConnection(raw.id);
      await h.whenDisconnected(raw.id);
    });
    const rawGone = await measure(() => gw.sendToUid('bench-0', 'x'));

    // With recovery: held at $disconnect, then resumed: once with nothing buffered, once with N pushes buffered.
    const recover = async (n: number, buffer: number) => {
      const old = await h.connect('&gw=1');
      await setUp(old, n);
      const live = await measure(() => gw.sendToUid(`bench-${n}`, 'x'));
      const hold = await measure(async () => {
        h.local.dropConnection(old.id);
        await h.whenDisconnected(old.id);
      });
      let buffered: Units | undefined;
      for (let i = 0; i < buffer; i++) {
        const units = await measure(() => gw.sendToUid(`bench-${n}`, 'x'));
        buffered ??= units;
      }
      const fresh = await h.connect('&gw=1');
      const resume = await measure(async () => {
        fresh.socket.send(JSON.stringify({ action: 'resume', from: old.id, token: mintResumeToken(key, old.id, Date.now() + 60_000) }));
        for (;;) if ((await fresh.next()).startsWith('\x1e\x1e')) break;
      });
      const redirected = await measure(() => gw.sendToClient(old.id, 'x'));
      return { live, hold, buffered, resume, redirected };
    };
    const pushes = 9;
    const empty = await recover(1, 0);
    const full = await recover(2, pushes);
    const none = { rcu: 0, wcu: 0, calls: 0 };
    rows.push(
      ['a push to a live connection (sendToUid, 1 recipient)', livePush, empty.live],
      ['$disconnect of a lost connection (uid, 1 group, session)', rawDisconnect, empty.hold],
      ['a push to the uid after that (sendToUid: no recipient without recovery; buffered with)', rawGone, full.buffered],
      ['the resume, nothing buffered (takeover of uid, 1 group, session)', none, empty.resume],
      [`the resume, ${pushes} pushes buffered`, none, full.resume],
      ['a push to the old id after the takeover (sendToClient, redirected)', none, empty.redirected],
    );
    console.log('\n### DynamoDB units: without recovery (raw connection) -> with recovery (browser client)\n');
    console.log('| step | RCU before | WCU before | RCU after | WCU after | calls after |');
    console.log('|---|---|---|---|---|---|');
    for (const [name, before, after] of rows)
      console.log(`| ${name} | ${before.rcu} | ${before.wcu} | ${after?.rcu ?? '-'} | ${after?.wcu ?? '-'} | ${after?.calls ?? '-'} |`);
    const dollars = (u: { rcu: number; wcu: number }, messages: number, lambdas: number) =>
      u.wcu * PRICE.wru + u.rcu * PRICE.rru + messages * PRICE.message + lambdas * PRICE.lambdaRequest;
    // One buffered push: its send's units beyond the same send without recovery, its failed conditional
    // delete (AWS bills 1 WCU for it; dynalite reports nothing for a failed write), and its share of the replay.
    const replayShare = { rcu: (full.resume.rcu - empty.resume.rcu) / pushes, wcu: (full.resume.wcu - empty.resume.wcu) / pushes };
    const perPush = { rcu: full.buffered!.rcu - rawGone.rcu + replayShare.rcu, wcu: full.buffered!.wcu - rawGone.wcu + 1 + replayShare.wcu };
    // One recovered connection: the hold instead of the $disconnect's deletes, and the resume with nothing buffered.
    const perConnection = { rcu: empty.hold.rcu - rawDisconnect.rcu + empty.resume.rcu, wcu: empty.hold.wcu - rawDisconnect.wcu + empty.resume.wcu };
    console.log(
      `\none buffered push, beyond the same push without recovery: ${perPush.rcu.toFixed(2)} RCU, ${perPush.wcu.toFixed(2)} WCU, + 1 message (the replay): $${dollars(perPush, 1, 0).toFixed(8)}`,
    );
    console.log(
      `one recovered connection, beyond a plain $disconnect (nothing buffered): ${perConnection.rcu} RCU, ${perConnection.wcu} WCU, + 1 message in (the resume request, one Lambda invocation) + 1 out (the outcome): $${dollars(perConnection, 2, 1).toFixed(8)}`,
    );
  } finally {
    await h.stop();
    secrets.destroy();
  }
}

// ---- gap ----

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function measureGap(label: string, dev: DevEnvironment, cut?: (clientId: string) => void, cutEveryMs = 1500): Promise<void> {
  const closes: Array<{ socket: unknown; at: number }> = [];
  const delivered: Array<{ socket: unknown; at: number }> = [];
  class TrackedWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { perMessageDeflate: false });
      this.addEventListener('close', () => closes.push({ socket: this, at: performance.now() }));
    }
  }
  let bound = false;
  const options: GatewayClientOptions = {
    WebSocket: TrackedWebSocket as unknown as GatewayClientOptions['WebSocket'],
    onInit: ({ clientId, bindToken }) => {
      void dev.sdk.bindUid(clientId, `gap-${label}`, { bindToken }).then(() => (bound = true));
    },
    onMessage: (_data, event) => delivered.push({ socket: (event as unknown as { target: unknown }).target, at: performance.now() }),
  };
  const client = connect(dev.endpoints.wsUrl, options);
  while (!bound) await new Promise((resolve) => setTimeout(resolve, 20));
  let pushing = true;
  const pusher = (async () => {
    for (let n = 0; pushing; n++) {
      await dev.sdk.sendToUid(`gap-${label}`, String(n));
      await new Promise((resolve) => setTimeout(resolve, PUSH_EVERY_MS));
    }
  })();
  const cutter = cut
    ? setInterval(() => {
        if (client.clientId) cut(client.clientId);
      }, cutEveryMs)
    : undefined;
  while (closes.length < CYCLES) await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setTimeout(resolve, 500));
  clearInterval(cutter);
  pushing = false;
  await pusher;
  client.close();
  const gaps: number[] = [];
  for (const close of closes.slice(0, CYCLES)) {
    const next = delivered.find((d) => d.socket !== close.socket && d.at >= close.at - 1);
    if (next) gaps.push(next.at - close.at);
  }
  console.log(`| ${label} | ${gaps.length} | ${percentile(gaps, 50).toFixed(1)} | ${percentile(gaps, 99).toFixed(1)} | ${Math.max(...gaps).toFixed(1)} |`);
}

async function main(): Promise<void> {
  await measureCost();
  console.log(`\n### Gap: old socket's close -> first push from the new socket (ms), pushes every ${PUSH_EVERY_MS} ms\n`);
  console.log('| close | reconnects | median | p99 | max |');
  console.log('|---|---|---|---|---|');
  const aged = await startDevEnvironment({ assemblyDirectory: 'cdk.out', limits: { maxConnectionDurationMs: 2_000 } });
  try {
    await measureGap('age limit (make before break)', aged);
  } finally {
    await aged.stop();
  }
  const dropped = await startDevEnvironment({ assemblyDirectory: 'cdk.out' });
  try {
    await measureGap('network drop (1006, resume)', dropped, (id) => dropped.gateway.dropConnection(id));
  } finally {
    await dropped.stop();
  }
}

await main();
