/**
 * `npm run load`: 5,000 concurrent connections on the local gateway serving the synthesized app
 * (issue 6). Not a test: it prints a markdown report, and exits 1 when a correctness check failed.
 * The scenario, its three processes and its checks are in testkit/load/loadRun.ts.
 *
 * Sizes (environment): LOAD_CONNECTIONS (5000), LOAD_CONNECT_CONCURRENCY (250 connects in flight),
 * LOAD_CONNECT_RATE (0: no limit, else connects started per second), LOAD_INIT_TIMEOUT_MS (30000),
 * LOAD_GROUP_SIZES (10,100,1000,all), LOAD_SEND_SIZES (the group sizes), LOAD_SEND_ROUNDS (20),
 * LOAD_SEND_WARMUP (2), LOAD_MESSAGE_BYTES (100), LOAD_OPS_CONCURRENCY (64 SDK calls in flight for
 * binds and joins), LOAD_SDK_CONCURRENCY (the SDK's default), LOAD_ASSEMBLY (cdk.out),
 * LOAD_DELIVERY_TIMEOUT_MS (60000), LOAD_DISCONNECT_TIMEOUT_MS (120000), LOAD_JSON (a file to write
 * the full result to). Diagnostics: LOAD_MAX_CONCURRENT_INVOCATIONS (the gateway's per-function bound,
 * default 64), LOAD_GATEWAY_NODE_ARGS / LOAD_CLIENTS_NODE_ARGS (extra Node arguments for a child,
 * e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 *
 * The cores are shared: the report's phase table shows how much CPU other processes used meanwhile.
 * Run it directly (`node --import tsx bench/load.ts`) to skip the synth step of `npm run load`.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { configFromEnv, runLoad, type LoadResult, type Percentiles } from '../testkit/load/loadRun.ts';

const ms = (value: number) => (Number.isFinite(value) ? (value >= 100 ? value.toFixed(0) : value.toFixed(1)) : '-');
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const rate = (value: number) => value.toFixed(0);
const pq = (p: Percentiles) => `${ms(p.p50)} / ${ms(p.p99)} ms`;

function markdown(result: LoadResult): string {
  const { config, connect, binds, joins, sends, delivery, disconnect, memory, tablesAfter, statsAfter } = result;
  const lines: string[] = [];
  const sizeName = (size: number) => (size >= connect.connected ? `${size} (everyone)` : String(size));
  lines.push(`# Load: ${config.connections.toLocaleString('en')} connections on the local gateway`);
  lines.push('');
  lines.push(
    `App ${result.app.stackName} from ${config.assemblyDirectory} (routes ${result.app.routes.join(', ')}; ${result.app.functions.length} functions in worker threads; ` +
      `chunked fan-out ${result.app.chunkedFanout ? 'configured' : 'not configured'}). Node ${process.version}, ${availableParallelism()} cores, ${mb(totalmem())} RAM. ` +
      `Connects: ${config.connectConcurrency} in flight${config.connectRate > 0 ? `, ${config.connectRate}/s at most` : ''}; binds/joins: ${config.opsConcurrency} SDK calls in flight; ` +
      `sends: ${config.sendRounds} rounds per size after ${config.sendWarmup} warm-up, ${config.messageBytes}-byte messages.`,
  );
  lines.push('');
  lines.push('| measure | value |');
  lines.push('|---|---:|');
  lines.push(`| clients connected (init received) | ${connect.connected} / ${connect.attempted} |`);
  lines.push(`| connect storm | ${ms(connect.durationMs)} ms, **${rate(connect.perSecond)} connects/s** |`);
  lines.push(`| time to init, p50 / p99 (max) | **${pq(connect.timeToInit)}** (${ms(connect.timeToInit.max)} ms) |`);
  lines.push(`| time to open (101), p50 / p99 | ${pq(connect.timeToOpen)} |`);
  lines.push(`| init sender posts during the storm: delivered / answered 410 (not open yet) | ${connect.initPosts.sent} / ${connect.initPosts.gone} |`);
  lines.push(`| bindUid | ${binds.count} in ${ms(binds.ms)} ms, **${rate(binds.perSecond)} ops/s** |`);
  lines.push(`| joinGroup | ${joins.count} in ${ms(joins.ms)} ms, **${rate(joins.perSecond)} ops/s** |`);
  for (const s of sends) {
    lines.push(`| sendToGroup to ${sizeName(s.size)}, end to end p50 / p99 | **${pq(s.endToEnd)}** |`);
  }
  lines.push(`| disconnect storm: every client closed | ${ms(disconnect.clientsClosedMs)} ms |`);
  lines.push(`| disconnect storm: every \`$disconnect\` finished | **${ms(disconnect.disconnectsDoneMs)} ms** |`);
  lines.push(`| peak RSS / heap, gateway process | **${mb(memory.gateway.peak.rssBytes)} / ${mb(memory.gateway.peak.heapUsedBytes)}** |`);
  lines.push(`| peak RSS / heap, clients process | **${mb(memory.clients.peak.rssBytes)} / ${mb(memory.clients.peak.heapUsedBytes)}** |`);
  lines.push(`| peak RSS / heap, backend (SDK) process | ${mb(memory.backend.peak.rssBytes)} / ${mb(memory.backend.peak.heapUsedBytes)} |`);
  lines.push(
    `| items left: connections / sessions / memberships / uids / groups | **${tablesAfter.connections} / ${tablesAfter.sessions} / ${tablesAfter.memberships} / ${tablesAfter.uids} / ${tablesAfter.groups}** |`,
  );
  lines.push(
    `| gateway stats() after | ${statsAfter.openConnections} open, ${statsAfter.connects} connects, ${statsAfter.disconnects} disconnects, ${statsAfter.rejectedConnects} rejected, ${statsAfter.droppedDisconnects} dropped, ${statsAfter.posts} posts, ${statsAfter.asyncFailures} async failures |`,
  );
  lines.push('');
  lines.push('## Group sends (end to end = from the sendToGroup call until the last member socket has the message)');
  lines.push('');
  lines.push(
    '| group size | groups of that size | sends | end to end p50 | p99 | max | first member p50 | call p50 | DynamoDB query p50 | posting p50 | deliveries/s (p50) |',
  );
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of sends) {
    const perSecond = s.endToEnd.p50 > 0 ? (s.size / s.endToEnd.p50) * 1000 : Number.NaN;
    lines.push(
      `| ${sizeName(s.size)} | ${s.groups} | ${s.endToEnd.count}${s.queued ? ` (${s.queued} chunked)` : ''} | ${ms(s.endToEnd.p50)} ms | ${ms(s.endToEnd.p99)} ms | ${ms(s.endToEnd.max)} ms | ${ms(s.first.p50)} ms | ${ms(s.call.p50)} ms | ${ms(s.resolveMsP50)} ms | ${ms(s.deliverMsP50)} ms | ${rate(perSecond)} |`,
    );
  }
  lines.push('');
  lines.push(`## CPU by phase (the ${availableParallelism()} cores are shared; "other processes" is CPU the rest of the machine used during the phase)`);
  lines.push('');
  lines.push(`Gateway at start, before any connection: RSS ${mb(memory.gatewayIdle.rssBytes)}, heap ${mb(memory.gatewayIdle.heapUsedBytes)}.`);
  lines.push('');
  lines.push(
    '| phase | wall | gateway CPU (all threads) | gateway main-thread busy | clients CPU | backend (SDK) CPU | other processes on the machine | gateway RSS / heap after | clients RSS after |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of result.phases) {
    lines.push(
      `| ${p.phase} | ${ms(p.wallMs)} ms | ${ms(p.gatewayCpuMs)} ms | ${(p.gatewayEventLoop * 100).toFixed(0)} % | ${ms(p.clientsCpuMs)} ms | ${ms(p.backendCpuMs)} ms | ${ms(p.otherCpuMs)} ms | ${mb(p.gatewayRssBytes)} / ${mb(p.gatewayHeapUsedBytes)} | ${mb(p.clientsRssBytes)} |`,
    );
  }
  lines.push('');
  lines.push('## Correctness');
  lines.push('');
  lines.push('| check | result |');
  lines.push('|---|---|');
  lines.push(`| every client got its init message | ${connect.failures === 0 ? 'yes' : `no: ${connect.failures} failed`} |`);
  lines.push(`| items after the connect storm (connections) | ${result.tablesAfterConnect.connections} |`);
  lines.push(
    `| items after binds and joins (uids / groups / memberships) | ${result.tablesAfterJoins.uids} / ${result.tablesAfterJoins.groups} / ${result.tablesAfterJoins.memberships} |`,
  );
  lines.push(
    `| every member got every message exactly once, nobody else got any | ${delivery.missing + delivery.duplicates + delivery.strays + delivery.unexpectedMessages === 0 ? 'yes' : 'no'}: ${delivery.sends} sends, ${delivery.received}/${delivery.expectedDeliveries} deliveries, ${delivery.missing} missing, ${delivery.duplicates} duplicates, ${delivery.strays} to non-members, ${delivery.unexpectedMessages} unexpected |`,
  );
  lines.push(
    `| send reports match (sent = members, nothing gone or failed) | ${delivery.reportMismatches === 0 ? 'yes' : `no: ${delivery.reportMismatches}`} |`,
  );
  lines.push(`| clients closed cleanly (1000) | ${disconnect.abnormalCloses === 0 ? 'yes' : `no: ${disconnect.abnormalCloses}`} |`);
  lines.push(`| every table empty afterwards (scan of all five) | ${Object.values(tablesAfter).every((n) => n === 0) ? 'yes' : 'no'} |`);
  lines.push(
    `| gateway: 0 open, connects = disconnects, nothing rejected, dropped or failed | ${statsAfter.openConnections === 0 && statsAfter.connects === statsAfter.disconnects && statsAfter.rejectedConnects === 0 && statsAfter.droppedDisconnects === 0 && statsAfter.asyncFailures === 0 && statsAfter.failureLines === 0 ? 'yes' : 'no'} |`,
  );
  if (result.problems.length > 0) {
    lines.push('');
    lines.push('## Problems');
    lines.push('');
    for (const p of result.problems) lines.push(`- ${p}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const config = configFromEnv(process.env);
  const started = Date.now();
  const result = await runLoad({ ...config, progress: (line) => process.stderr.write(`[load ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`) });
  console.log(markdown(result));
  if (process.env.LOAD_JSON)
    writeFileSync(
      process.env.LOAD_JSON,
      JSON.stringify(result, (_k, v) => (v === Number.POSITIVE_INFINITY ? 'all' : v), 2),
    );
  process.exitCode = result.problems.length > 0 ? 1 : 0;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
