/**
 * `npm run bench:cost`: what each SDK operation costs in DynamoDB calls and capacity units, for the
 * data model before issue 10 (the SDK of OLD_COMMIT, taken from git into .bench-old/) and for this
 * one, in the same run, against the same DynamoDB. Not a test.
 *
 * - DynamoDB is dynalite, on a worker thread of its own (its work is not counted in this thread's
 *   time); every call asks for
 *   ReturnConsumedCapacity TOTAL and the SDK reports it through onConsumedCapacity. First, a check of
 *   dynalite's accounting against AWS's rules (1 WCU per 1 KB written, 1 RCU per 4 KB read strongly
 *   consistently, half for eventually consistent reads).
 * - `@connections` is a stub on another worker thread that accepts every post (200): the sends'
 *   reads are measured, not API Gateway.
 * - Per operation at session sizes 0, 10 KiB and 100 KiB: register, setSession, bind, rebind, join,
 *   leave, getSession, updateSession, a message whose onMessage ignores the session (no read: see
 *   lambdas/sessionUse.ts) and one that changes ctx.session (read before onMessage), sendToUid, unregister.
 * - sendToAll and sendToGroup at 1,000, 10,000 and 100,000 connections (items written straight into
 *   DynamoDB: a session-less old item carries the identity and an empty session, as $connect wrote
 *   it), with the caller's heap measured over the call (node --expose-gc: peak minus the level before),
 *   inline and with chunked fan-out (a stand-in Lambda client that accepts every chunk).
 *
 * Options (environment): COST_SIZES (1000,10000,100000), COST_OLD_COMMIT.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  BatchGetItemCommand,
  type AttributeValue,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Gateway as NewGateway, type ConsumedCapacityEvent } from '../sdk/index.ts';
import { GatewayTables } from '../sdk/tables.ts';
import { createMessageHandler as newMessageHandler } from '../lambdas/messageHandler.ts';
import type { WebSocketMessageEvent } from '../lambdas/webSocketEvent.ts';
import { formatRequestTime } from '../local/events.ts';
import { watchHttpRequests } from '../testkit/gatewayHarness.ts';

/** main just before issue 10's data model: the SDK split into sdk/gateway/, with the old items. */
const OLD_COMMIT = process.env.COST_OLD_COMMIT ?? 'd9f6afc';
const SIZES = (process.env.COST_SIZES ?? '1000,10000,100000').split(',').map(Number);
const SESSION_SIZES = [0, 10 * 1024, 100 * 1024];
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const REGION = 'us-east-1';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** On-demand read request units, us-east-1, after AWS's November 2024 price cut (see docs/performance.md). */
const USD_PER_MILLION_RRU = 0.125;
const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan']);
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

type AnyGateway = NewGateway;
interface GatewayModule {
  Gateway: typeof NewGateway;
  GatewayTables: Record<string, { partitionKey: string; sortKey?: string }>;
}

// ---- infrastructure ----

async function onAnotherThread(source: string): Promise<{ port: number; stop: () => Promise<number> }> {
  const worker = new Worker(source, { eval: true });
  const [port] = (await once(worker, 'message')) as [number];
  return { port, stop: () => worker.terminate() };
}

const DYNALITE =
  "const { parentPort } = require('node:worker_threads'); const server = require('dynalite')({ createTableMs: 0, deleteTableMs: 0 }); server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));";
const CONNECTIONS_STUB =
  "const { parentPort } = require('node:worker_threads'); const http = require('node:http'); const server = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-length': '0' }); res.end(); }); }); server.keepAliveTimeout = 60000; server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => parentPort.postMessage(server.address().port));";

/** The old SDK and Lambda handlers, extracted from git under the project (so that node_modules resolves). */
async function oldCode(): Promise<{ sdk: GatewayModule; messageHandler: typeof newMessageHandler; dispose: () => void }> {
  const dir = join(ROOT, '.bench-old', OLD_COMMIT);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync('git', ['-C', ROOT, 'archive', OLD_COMMIT, 'sdk', 'lambdas'], { maxBuffer: 64 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  const sdk = (await import(pathToFileURL(join(dir, 'sdk', 'index.ts')).href)) as GatewayModule;
  const handlers = (await import(pathToFileURL(join(dir, 'lambdas', 'messageHandler.ts')).href)) as { createMessageHandler: typeof newMessageHandler };
  return { sdk, messageHandler: handlers.createMessageHandler, dispose: () => rmSync(join(ROOT, '.bench-old'), { recursive: true, force: true }) };
}

async function createTables(client: DynamoDBClient, tables: Record<string, string>, definitions: GatewayModule['GatewayTables']): Promise<void> {
  for (const [role, name] of Object.entries(tables)) {
    const keys = definitions[role]!;
    const keySchema: KeySchemaElement[] = [
      { AttributeName: keys.partitionKey, KeyType: 'HASH' },
      ...(keys.sortKey ? [{ AttributeName: keys.sortKey, KeyType: 'RANGE' as const }] : []),
    ];
    try {
      await client.send(new DeleteTableCommand({ TableName: name }));
    } catch {
      // not there yet
    }
    await client.send(
      new CreateTableCommand({
        TableName: name,
        KeySchema: keySchema,
        AttributeDefinitions: keySchema.map((k) => ({ AttributeName: k.AttributeName!, AttributeType: 'S' })),
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  }
}

async function batchWrite(client: DynamoDBClient, table: string, items: Array<Record<string, AttributeValue>>): Promise<void> {
  const chunks: Array<Array<Record<string, AttributeValue>>> = [];
  for (let i = 0; i < items.length; i += 25) chunks.push(items.slice(i, i + 25));
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < chunks.length) {
        let pending: Record<string, Array<{ PutRequest: { Item: Record<string, AttributeValue> } }>> = {
          [table]: chunks[next++]!.map((Item) => ({ PutRequest: { Item } })),
        };
        while (Object.keys(pending).length > 0) {
          const out = await client.send(new BatchWriteItemCommand({ RequestItems: pending }));
          pending = (out.UnprocessedItems ?? {}) as typeof pending;
        }
      }
    }),
  );
}

// ---- measuring ----

interface Cost {
  calls: number;
  reads: number;
  writes: number;
  commands: string;
}

class Meter {
  readonly events: ConsumedCapacityEvent[] = [];
  readonly record = (e: ConsumedCapacityEvent) => void this.events.push(e);

  async measure(run: () => Promise<unknown>): Promise<Cost> {
    this.events.length = 0;
    await run();
    return summarize(this.events);
  }
}

function summarize(events: readonly ConsumedCapacityEvent[]): Cost {
  const calls = new Map<number, string>();
  let reads = 0;
  let writes = 0;
  for (const e of events) {
    calls.set(e.call, e.command);
    if (READS.has(e.command)) reads += e.capacityUnits;
    else writes += e.capacityUnits;
  }
  const counts = new Map<string, number>();
  for (const command of calls.values()) counts.set(command, (counts.get(command) ?? 0) + 1);
  return { calls: calls.size, reads, writes, commands: [...counts].map(([c, n]) => (n > 1 ? `${n}× ${c}` : c)).join(', ') };
}

/** Called by the stand-in Lambda client when it is handed a chunk: the chunked sends' "first post". */
let markFirstOut = () => {};

/**
 * The caller's live heap over `run`: every 50 ms a full GC, then the heap in use, so that the peak is
 * what the call holds, not garbage waiting for collection; minus the level before. Also when the
 * first `@connections` request of the call started.
 */
async function heapOver<T>(run: () => Promise<T>): Promise<{ result: T; peakMiB: number; ms: number; firstPostMs: number | undefined }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:cost does)');
  gc();
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  const timer = setInterval(() => {
    gc();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 50);
  const started = performance.now();
  let firstPost: number | undefined;
  markFirstOut = () => void (firstPost ??= performance.now() - started);
  const onRequest = (request: { method: string; path: string }) => {
    if (request.path.includes('@connections')) markFirstOut();
  };
  const stopWatching = watchHttpRequests(onRequest);
  try {
    const result = await run();
    gc();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    return { result, peakMiB: (peak - base) / 1024 / 1024, ms: performance.now() - started, firstPostMs: firstPost };
  } finally {
    clearInterval(timer);
    stopWatching();
  }
}

const units = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const row = (cells: Array<string | number>) => console.log(`| ${cells.join(' | ')} |`);

function messageEvent(clientId: string): WebSocketMessageEvent {
  const now = Date.now();
  return {
    body: 'x',
    isBase64Encoded: false,
    requestContext: {
      routeKey: '$default',
      messageId: 'm',
      eventType: 'MESSAGE',
      extendedRequestId: 'r',
      requestTime: formatRequestTime(now),
      messageDirection: 'IN',
      connectionId: clientId,
      connectedAt: now,
      requestId: 'r',
      requestTimeEpoch: now,
      stage: 'cost',
      domainName: '127.0.0.1',
      apiId: 'cost',
      identity: { sourceIp: '127.0.0.1' },
    },
  };
}

/** A session of about `bytes` as JSON, 64 bytes short of it so that updateSession's patches still fit the 100 KiB limit. */
function sessionOf(bytes: number): Record<string, unknown> {
  return bytes === 0 ? {} : { blob: 'x'.repeat(bytes - '{"blob":""}'.length - 64) };
}

const idOf = (prefix: string, n: number) => `${prefix}${String(n).padStart(15 - prefix.length, '0')}=`;

// ---- the accounting check ----

/** An item's size by AWS's rules: attribute names and string values in UTF-8 bytes (only S attributes here). */
function awsSize(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value.S ?? ''), 0);
}

async function accountingCheck(client: DynamoDBClient): Promise<void> {
  const table = 'cost-accounting';
  await createTables(client, { accounting: table }, { accounting: { partitionKey: 'id' } });
  const itemOf = (id: string, bytes: number, char = 'x') => ({
    id: { S: id },
    v: { S: char.repeat(Math.max(0, bytes - Buffer.byteLength(id) - 3) / Buffer.byteLength(char)) },
  });
  console.log("\n### dynalite's accounting against AWS's rules\n");
  row(['call', 'item bytes (AWS rules)', 'AWS units', 'dynalite units']);
  row(['---', '---:', '---:', '---:']);
  const cases: Array<[string, Record<string, AttributeValue>]> = [
    ['PutItem', itemOf('a', 1024)],
    ['PutItem', itemOf('b', 1025)],
    ['PutItem', itemOf('c', 4096)],
    ['PutItem', itemOf('d', 4097)],
    ['PutItem (non-ASCII)', itemOf('e', 1200, 'é')],
  ];
  for (const [label, item] of cases) {
    const out = await client.send(new PutItemCommand({ TableName: table, Item: item, ReturnConsumedCapacity: 'TOTAL' }));
    const size = awsSize(item);
    row([label, size, Math.ceil(size / 1024), units(out.ConsumedCapacity?.CapacityUnits ?? NaN)]);
  }
  for (const [id, consistent] of [
    ['c', true],
    ['d', true],
    ['c', false],
    ['d', false],
    ['missing', true],
    ['missing', false],
  ] as const) {
    const out = await client.send(
      new GetItemCommand({ TableName: table, Key: { id: { S: id } }, ConsistentRead: consistent, ReturnConsumedCapacity: 'TOTAL' }),
    );
    const size = out.Item ? awsSize(out.Item) : 0;
    const aws = Math.max(1, Math.ceil(size / 4096)) * (consistent ? 1 : 0.5);
    row([
      `GetItem ${consistent ? 'strongly' : 'eventually'} consistent${out.Item ? '' : ', no such item'}`,
      size,
      units(aws),
      units(out.ConsumedCapacity?.CapacityUnits ?? NaN),
    ]);
  }
  const scan = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }));
  const scanned = (scan.Items ?? []).reduce((sum, item) => sum + awsSize(item), 0);
  row(['Scan strongly consistent (all 5 items, one page)', scanned, Math.ceil(scanned / 4096), units(scan.ConsumedCapacity?.CapacityUnits ?? NaN)]);
  const query = await client.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'id = :a',
      ExpressionAttributeValues: { ':a': { S: 'a' } },
      ConsistentRead: false,
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  row(['Query eventually consistent (1 item)', awsSize(query.Items![0]!), 0.5, units(query.ConsumedCapacity?.CapacityUnits ?? NaN)]);
  const batch = await client.send(
    new BatchGetItemCommand({
      RequestItems: { [table]: { Keys: ['a', 'b'].map((id) => ({ id: { S: id } })), ConsistentRead: true } },
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  row(['BatchGetItem strongly consistent (2 items, each rounded up alone)', '1024, 1025', 2, units(batch.ConsumedCapacity?.[0]?.CapacityUnits ?? NaN)]);
  const missing = await client.send(
    new BatchGetItemCommand({ RequestItems: { [table]: { Keys: [{ id: { S: 'missing' } }], ConsistentRead: true } }, ReturnConsumedCapacity: 'TOTAL' }),
  );
  row(['BatchGetItem strongly consistent, no such item', 0, '?', units(missing.ConsumedCapacity?.[0]?.CapacityUnits ?? 0)]);
  await client.send(new DeleteTableCommand({ TableName: table }));
}

// ---- per operation ----

interface Layout {
  readonly name: 'before' | 'after';
  readonly gateway: AnyGateway;
  readonly meter: Meter;
  readonly messageHandler: typeof newMessageHandler;
  readonly tables: Record<string, string>;
}

async function perOperation(layouts: readonly Layout[]): Promise<void> {
  const results = new Map<string, Map<string, Cost>>(); // operation -> "layout@size" -> cost
  const note = (operation: string, column: string, cost: Cost) => {
    if (!results.has(operation)) results.set(operation, new Map());
    results.get(operation)!.set(column, cost);
  };
  for (const size of SESSION_SIZES) {
    for (const layout of layouts) {
      const { gateway: gw, meter } = layout;
      const column = `${layout.name}@${size}`;
      const id = idOf(`op${layout.name[0]}${size}`, 1);
      const ignore = layout.messageHandler({ events: { onMessage: () => {} }, gateway: gw });
      const count = layout.messageHandler({
        events: { onMessage: (_id, _m, ctx) => void (ctx.session.count = Number(ctx.session.count ?? 0) + 1) },
        gateway: gw,
      });
      note(
        'registerConnection ($connect)',
        column,
        await meter.measure(() => gw.registerConnection({ connectionId: id, connectedAt: Date.now(), sourceIp: '203.0.113.7', userAgent: USER_AGENT })),
      );
      note('setSession (to this size)', column, await meter.measure(() => gw.setSession(id, sessionOf(size))));
      note('bindUid (first)', column, await meter.measure(() => gw.bindUid(id, 'user-1')));
      note('bindUid (rebind)', column, await meter.measure(() => gw.bindUid(id, 'user-2')));
      note('joinGroup', column, await meter.measure(() => gw.joinGroup(id, 'room-1')));
      note('leaveGroup', column, await meter.measure(() => gw.leaveGroup(id, 'room-1')));
      await gw.joinGroup(id, 'room-1');
      note('getSession', column, await meter.measure(() => gw.getSession(id)));
      note('updateSession (small patch)', column, await meter.measure(() => gw.updateSession(id, { n: 1 })));
      note('message, onMessage ignores ctx.session', column, await meter.measure(() => ignore(messageEvent(id))));
      note('message, onMessage changes ctx.session', column, await meter.measure(() => count(messageEvent(id))));
      note('sendToUid (1 connection)', column, await meter.measure(() => gw.sendToUid('user-2', 'x')));
      note('unregisterConnection ($disconnect; uid + 1 group)', column, await meter.measure(() => gw.unregisterConnection(id)));
    }
  }
  console.log('\n### Per operation: DynamoDB calls and read / write units, by session size (before → after)\n');
  row([
    'operation',
    ...SESSION_SIZES.map((s) => `session ${s / 1024} KiB: RCU`),
    ...SESSION_SIZES.map((s) => `${s / 1024} KiB: WCU`),
    'calls after (0 KiB)',
    'calls before (0 KiB)',
  ]);
  row(['---', ...SESSION_SIZES.map(() => '---:'), ...SESSION_SIZES.map(() => '---:'), '---', '---']);
  for (const [operation, byColumn] of results) {
    const pair = (size: number, pick: (c: Cost) => number) =>
      `${units(pick(byColumn.get(`before@${size}`)!))} → ${units(pick(byColumn.get(`after@${size}`)!))}`;
    row([
      operation,
      ...SESSION_SIZES.map((s) => pair(s, (c) => c.reads)),
      ...SESSION_SIZES.map((s) => pair(s, (c) => c.writes)),
      byColumn.get('after@0')!.commands || 'none',
      byColumn.get('before@0')!.commands || 'none',
    ]);
  }
}

// ---- broadcasts ----

type MakeGateway = (tables: Record<string, string>, extra: object) => AnyGateway;

interface BroadcastLayout {
  readonly name: string;
  /** Only for this many connections or fewer (a layout whose items carry sessions fills memory fast). */
  readonly upTo?: number;
  readonly definitions: GatewayModule['GatewayTables'];
  readonly roles: readonly string[];
  readonly make: MakeGateway;
  /** A connection item as this layout's $connect writes it (with an empty session, before). */
  readonly connectionItem: (id: string, now: number, expiresAt: string) => Record<string, AttributeValue>;
  /** Whether its sendToAll scan is strongly consistent (dynalite reports those at the eventually consistent rate: AWS bills twice). */
  readonly consistentScan: boolean;
}

async function broadcasts(client: DynamoDBClient, layouts: readonly BroadcastLayout[]): Promise<void> {
  const lines: Array<Array<string | number>> = [];
  const sendsPerPartition: Array<[number, number]> = [];
  const perBroadcast: Array<[string, number, number]> = [];
  for (const n of SIZES) {
    const now = Date.now();
    const expiresAt = String(Math.floor(now / 1000) + 7500);
    const ids = Array.from({ length: n }, (_, i) => idOf('b', i));
    for (const layout of layouts.filter((l) => n <= (l.upTo ?? Infinity))) {
      // Tables of their own per size, holding exactly n connections and an n-member group.
      const tables = Object.fromEntries(layout.roles.map((role) => [role, `${layout.name.replace(/[^a-z0-9]+/gi, '-')}-${n}-${role}`]));
      await createTables(client, tables, layout.definitions);
      await batchWrite(
        client,
        tables.connections!,
        ids.map((id) => layout.connectionItem(id, now, expiresAt)),
      );
      await batchWrite(
        client,
        tables.groups!,
        ids.map((id) => ({ group: { S: 'everyone' }, connectionId: { S: id }, expiresAt: { N: expiresAt } })),
      );
      const meter = new Meter();
      const measure = async (label: string, gateway: AnyGateway, send: (g: AnyGateway) => Promise<unknown>, awsFactor = 1) => {
        try {
          const heap = await heapOver(() => meter.measure(() => send(gateway)));
          const reported = heap.result.reads;
          const aws = reported * awsFactor;
          lines.push([
            label,
            layout.name,
            heap.result.commands,
            units(reported),
            units(aws),
            units((aws / n) * 1000),
            heap.peakMiB.toFixed(1),
            heap.firstPostMs === undefined ? '–' : heap.firstPostMs.toFixed(0),
            heap.ms.toFixed(0),
          ]);
          return aws;
        } finally {
          gateway.destroy();
        }
      };
      const scanFactor = layout.consistentScan ? 2 : 1;
      const count = n.toLocaleString('en-US');
      const inline = await measure(
        `sendToAll, ${count} connections, inline`,
        layout.make(tables, { onConsumedCapacity: meter.record }),
        (g) => g.sendToAll('x'),
        scanFactor,
      );
      perBroadcast.push([layout.name, n, inline]);
      const fanout = { functionName: 'cost-worker', threshold: 1000, lambda: { send: async () => (markFirstOut(), { $metadata: {}, StatusCode: 202 }) } };
      await measure(
        `sendToAll, ${count} connections, chunked (fan-out)`,
        layout.make(tables, { onConsumedCapacity: meter.record, fanout }),
        (g) => g.sendToAll('x'),
        scanFactor,
      );
      const group = await measure(`sendToGroup, ${count} members, inline`, layout.make(tables, { onConsumedCapacity: meter.record }), (g) =>
        g.sendToGroup('everyone', 'x'),
      );
      if (layout.name === 'after') sendsPerPartition.push([n, group]);
      for (const table of Object.values(tables)) await client.send(new DeleteTableCommand({ TableName: table }));
    }
  }
  console.log("\n### Broadcasts: read units and the caller's heap over the call\n");
  console.log("RCU as dynalite reports them, and by AWS's rules (dynalite ignores ConsistentRead on Scan and reports a");
  console.log("strongly consistent scan, the old sendToAll's, at the eventually consistent rate: AWS bills twice that).\n");
  row(['send', 'layout', 'calls', 'RCU (dynalite)', 'RCU (AWS)', 'RCU (AWS) per 1,000', 'caller live heap peak (MiB)', 'first post or chunk after (ms)', 'ms']);
  row(['---', '---', '---', '---:', '---:', '---:', '---:', '---:', '---:']);
  for (const line of lines) row(line);

  console.log('\n### sendToGroup on one partition (3,000 RCU/s)\n');
  row(['members', 'RCU per send (strongly consistent)', 'sends/s one partition sustains', 'posts/s that rate needs']);
  row(['---:', '---:', '---:', '---:']);
  for (const [n, rcu] of sendsPerPartition)
    row([n.toLocaleString('en-US'), units(rcu), (3000 / rcu).toFixed(1), Math.round((3000 / rcu) * n).toLocaleString('en-US')]);

  console.log(`\nsendToAll on AWS at $${USD_PER_MILLION_RRU} per million read request units (on-demand, us-east-1):`);
  for (const [layout, n, rcu] of perBroadcast)
    console.log(`  ${layout}, ${n.toLocaleString('en-US')} connections: ${units(rcu)} RRU = $${((rcu * USD_PER_MILLION_RRU) / 1e6).toFixed(6)} a broadcast`);
}

// ---- main ----

async function main(): Promise<void> {
  const dynamo = await onAnotherThread(DYNALITE);
  const stub = await onAnotherThread(CONNECTIONS_STUB);
  const old = await oldCode();
  const client = new DynamoDBClient({ endpoint: `http://127.0.0.1:${dynamo.port}`, region: REGION, credentials: CREDENTIALS, maxAttempts: 10 });
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const callbackUrl = `http://127.0.0.1:${stub.port}/cost`;
  try {
    await accountingCheck(client);
    const newTables = { connections: 'cost-connections', sessions: 'cost-sessions', memberships: 'cost-memberships', uids: 'cost-uids', groups: 'cost-groups' };
    const oldTables = { connections: 'old-connections', uids: 'old-uids', groups: 'old-groups' };
    await createTables(client, newTables, GatewayTables as GatewayModule['GatewayTables']);
    await createTables(client, oldTables, old.sdk.GatewayTables);
    const newMeter = new Meter();
    const oldMeter = new Meter();
    const base = { callbackUrl, region: REGION, credentials: CREDENTIALS, dynamoDb: doc, logger: { warn: () => {} } };
    const newGateway = (extra: object) => new NewGateway({ ...base, tables: newTables, ...extra });
    const oldGateway = (extra: object) => new old.sdk.Gateway({ ...base, tables: oldTables, ...extra } as never) as unknown as AnyGateway;
    const layouts: Layout[] = [
      { name: 'before', gateway: oldGateway({ onConsumedCapacity: oldMeter.record }), meter: oldMeter, messageHandler: old.messageHandler, tables: oldTables },
      { name: 'after', gateway: newGateway({ onConsumedCapacity: newMeter.record }), meter: newMeter, messageHandler: newMessageHandler, tables: newTables },
    ];
    console.log(`# DynamoDB cost, before (${OLD_COMMIT}) and after, same run`);
    await perOperation(layouts);
    for (const layout of layouts) layout.gateway.destroy();
    const oldIdentity = { sourceIp: { S: '203.0.113.7' }, userAgent: { S: USER_AGENT } };
    await broadcasts(client, [
      {
        name: 'before',
        definitions: old.sdk.GatewayTables,
        roles: Object.keys(oldTables),
        make: (tables, extra) => new old.sdk.Gateway({ ...base, tables, ...extra } as never) as unknown as AnyGateway,
        connectionItem: (id, now, expiresAt) => ({
          connectionId: { S: id },
          connectedAt: { N: String(now) },
          ...oldIdentity,
          session: { M: {} },
          version: { N: '0' },
          expiresAt: { N: expiresAt },
        }),
        consistentScan: true,
      },
      {
        name: 'before, 10 KiB sessions',
        upTo: 10_000,
        definitions: old.sdk.GatewayTables,
        roles: Object.keys(oldTables),
        make: (tables, extra) => new old.sdk.Gateway({ ...base, tables, ...extra } as never) as unknown as AnyGateway,
        connectionItem: (id, now, expiresAt) => ({
          connectionId: { S: id },
          connectedAt: { N: String(now) },
          ...oldIdentity,
          session: { M: { blob: { S: 'x'.repeat(10 * 1024 - 64) } } },
          version: { N: '1' },
          expiresAt: { N: expiresAt },
        }),
        consistentScan: true,
      },
      {
        name: 'after',
        definitions: GatewayTables as GatewayModule['GatewayTables'],
        roles: Object.keys(newTables),
        make: (tables, extra) => new NewGateway({ ...base, tables: tables as never, ...extra }),
        connectionItem: (id, now, expiresAt) => ({ connectionId: { S: id }, connectedAt: { N: String(now) }, expiresAt: { N: expiresAt } }),
        consistentScan: false,
      },
    ]);
  } finally {
    doc.destroy();
    old.dispose();
    await dynamo.stop();
    await stub.stop();
  }
}

await main();
