// Model-based fault tests of the whole backend: the synthesized app from cdk.out (its bundled
// $connect, $disconnect and init-sender Lambdas) on the local gateway, and the SDK as the application's
// backend uses it. fast-check draws random interleavings of connects, binds, joins, leaves, unbinds,
// sends and closes, with @connections answering 429 and 500 at moderate rates, $disconnect events
// dropped, network drops, crashes between the two writes of bindUid / joinGroup (and before the last
// delete of a rebind / unbind / leave), and time passing (past the SDK's 30 s $connect grace).
//
// A model predicts, after every command, exactly what the five tables hold: which connection items
// exist (with their uid and group count), which session items, which membership items (connection ->
// group) and which uid / group index items. After every send:
// - every LIVE recipient the model predicts is in report.sent and receives the message, every dead
//   one is in report.gone; report.failed is empty when the retries suffice (maxRetries 12), and with
//   maxRetries 1 a recipient is in failed only with a ThrottledError / ServiceError from the injected
//   429 / 500, received nothing and kept its items;
// - a gone recipient's items are pruned iff its connection item is past the grace or already gone.
// At the end of each run: a round of sends to every uid and group prunes every stale item a send can
// reach, leaving the tables equal to the live connections plus the crash leftovers that point at live
// connections (extra recipients, as documented); then "three hours pass": every connection is closed
// (some $disconnects dropped) and a TTL sweep (gw.sweepExpiredItems(now + 3 h)) empties all five
// tables. Every client received exactly the messages the model expected, in order.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { LocalGateway, type GatewayEndpoints } from '../../local/index.ts';
import { ConnectionGoneError, Gateway, ServiceError, ThrottledError, type GatewayTableNames, type SendReport } from '../../sdk/index.ts';
import { connect, eventually, type TestClient } from '../helpers/wsClient.ts';
import { copySynthesizedApp, tableNamesOf } from '../../testkit/synthesizedApp.ts';
import { withTestHooks, type GatewayTestHooks } from '../../sdk/internal.ts';

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const RUNS = { patient: 25, impatient: 15 } as const;
const MAX_COMMANDS = 40;
const FAULTS = { patient: { throttleRate: 0.2, serverErrorRate: 0.1 }, impatient: { throttleRate: 0.3, serverErrorRate: 0.2 } } as const;
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const HOUR_MS = 3600_000;

// ---------------------------------------------------------------------------------------------
// The real system: the synthesized app from a private copy of cdk.out, on the local gateway.
// ---------------------------------------------------------------------------------------------

class CrashError extends Error {
  override readonly name = 'CrashError';
}

interface World {
  readonly gw: LocalGateway;
  readonly endpoints: GatewayEndpoints;
  readonly tables: GatewayTableNames;
  readonly doc: DynamoDBDocumentClient;
  /** The backend's SDK, per retry policy; the crash variants stop between two writes. */
  sdk: Gateway;
  /** maxRetries 12, whatever the policy under test: for the end-of-run sends. */
  patientSdk: Gateway;
  crashAfterIndexWrite: Gateway;
  crashBeforeIndexDelete: Gateway;
  readonly sdks: Gateway[];
  readonly clients: Map<string, TestClient>;
  faults: { throttleRate: number; serverErrorRate: number };
  random: () => number;
}

let world: World;
let disposeAssembly: () => void;

before(async () => {
  const synthesized = copySynthesizedApp('faults-model');
  disposeAssembly = synthesized.dispose;
  const { app } = synthesized;
  const tables = tableNamesOf(app);
  const gw = new LocalGateway({ ...app.gatewayOptions, ttlSweepIntervalMs: 0 });
  const endpoints = await gw.start();
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  world = {
    gw,
    endpoints,
    tables,
    doc,
    sdks: [],
    clients: new Map(),
    faults: { throttleRate: 0, serverErrorRate: 0 },
    random: Math.random,
  } as unknown as World;
  configureSdks(12);
});

after(async () => {
  for (const client of world.clients.values()) client.socket.terminate();
  for (const sdk of world.sdks) sdk.destroy();
  await world.gw.stop();
  world.doc.destroy();
  disposeAssembly();
});

/** The backend's SDK instances for a retry policy (fast backoff: the faults are injected, not real). */
function configureSdks(maxRetries: number): void {
  const make = (hooks?: GatewayTestHooks, retries = maxRetries) => {
    const built = new Gateway({
      callbackUrl: world.endpoints.callbackUrl,
      tables: world.tables,
      region: world.endpoints.region,
      credentials,
      dynamoDb: world.doc,
      maxRetries: retries,
      retryBaseDelayMs: 1,
      retryMaxDelayMs: 4,
      logger: { warn: () => {} },
    });
    world.sdks.push(built);
    return hooks ? withTestHooks(built, hooks) : built;
  };
  world.sdk = make();
  world.patientSdk = maxRetries >= 12 ? world.sdk : make(undefined, 12);
  world.crashAfterIndexWrite = make({
    afterIndexWrite: () => {
      throw new CrashError('crashed after the index write');
    },
  });
  world.crashBeforeIndexDelete = make({
    beforeIndexDelete: () => {
      throw new CrashError('crashed before the index delete');
    },
  });
}

/** Applies the @connections fault rates, with $disconnect dropped or not. */
function setFaults(dropDisconnect: boolean): void {
  world.gw.setFaults({ ...world.faults, dropDisconnectRate: dropDisconnect ? 1 : 0, random: world.random });
}

/** Resolves once `probe` holds; polls, with no deadline of its own (the test's timeout bounds it). */
async function until(probe: () => boolean): Promise<void> {
  while (!probe()) await new Promise((resolve) => setTimeout(resolve, 2));
}

interface Stored {
  readonly connections: Map<string, { uid: string | undefined; groupCount: number }>;
  readonly sessions: Set<string>;
  readonly memberships: Set<string>;
  readonly uids: Set<string>;
  readonly groups: Set<string>;
}

async function scanAll(table: string): Promise<Array<Record<string, unknown>>> {
  const items: Array<Record<string, unknown>> = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await world.doc.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

const pair = (key: string, id: string) => `${key}\n${id}`;

async function readStored(): Promise<Stored> {
  const [connections, sessions, memberships, uids, groups] = await Promise.all(
    [world.tables.connections, world.tables.sessions, world.tables.memberships, world.tables.uids, world.tables.groups].map(scanAll),
  );
  return {
    connections: new Map(
      connections!.map((item) => [
        item.connectionId as string,
        { uid: item.uid as string | undefined, groupCount: (item.groupCount as number | undefined) ?? 0 },
      ]),
    ),
    sessions: new Set(sessions!.map((item) => item.connectionId as string)),
    memberships: new Set(memberships!.map((item) => pair(item.group as string, item.connectionId as string))),
    uids: new Set(uids!.map((item) => pair(item.uid as string, item.connectionId as string))),
    groups: new Set(groups!.map((item) => pair(item.group as string, item.connectionId as string))),
  };
}

/** Makes every stored connection look `ms` older (time passing for what is stored; sockets are unaffected). */
async function ageConnections(ms: number): Promise<void> {
  for (const item of await scanAll(world.tables.connections)) {
    try {
      await world.doc.send(
        new UpdateCommand({
          TableName: world.tables.connections,
          Key: { connectionId: item.connectionId },
          UpdateExpression: 'SET connectedAt = connectedAt - :d',
          ConditionExpression: 'attribute_exists(connectionId)',
          ExpressionAttributeValues: { ':d': ms },
        }),
      );
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

interface ModelConnection {
  readonly id: string;
  /** The socket is open. */
  live: boolean;
  /** The connection item exists, and with it the session item and one membership item per group in `groups`. */
  item: boolean;
  /** connectedAt is past the SDK's $connect grace (a 410 then prunes the item). */
  aged: boolean;
  uid: string | undefined;
  groups: Set<string>;
  /** The markers this client must have received, in order. */
  readonly expected: string[];
}

interface Model {
  readonly run: number;
  readonly connections: ModelConnection[];
  readonly uids: Set<string>;
  readonly groups: Set<string>;
  /** Whether report.failed must stay empty (the retries suffice). */
  readonly patient: boolean;
  markers: number;
}

const uidName = (m: Model, n: number) => `r${m.run}-u${n}`;
const groupName = (m: Model, n: number) => `r${m.run}-g${n}`;
const pick = (m: Model, n: number) => m.connections[n % m.connections.length]!;

function indexKeysOf(c: ModelConnection): Array<['uids' | 'groups', string]> {
  return [...(c.uid !== undefined ? [['uids', c.uid] as ['uids', string]] : []), ...[...c.groups].map((g) => ['groups', g] as ['groups', string])];
}

function removeItem(m: Model, c: ModelConnection): void {
  for (const [role, key] of indexKeysOf(c)) m[role].delete(pair(key, c.id));
  c.item = false;
  c.uid = undefined;
  c.groups = new Set();
}

/** What pruneGone does for a recipient that answered 410, found through `sources`. */
function prune(m: Model, c: ModelConnection, sources: Array<['uids' | 'groups', string]>): void {
  if (c.item && !c.aged) return void count('410 from a young connection: kept');
  count(c.item ? '410: stale connection item pruned' : '410: stale index item pruned');
  if (c.item) removeItem(m, c);
  for (const [role, key] of sources) m[role].delete(pair(key, c.id));
}

async function assertTablesMatch(m: Model, after: string): Promise<void> {
  const stored = await readStored();
  const withItem = m.connections.filter((c) => c.item);
  const expectedConnections = new Map(withItem.map((c) => [c.id, { uid: c.uid, groupCount: c.groups.size }]));
  assert.deepEqual(stored.connections, expectedConnections, `connection items after ${after}`);
  assert.deepEqual([...stored.sessions].sort(), withItem.map((c) => c.id).sort(), `session items after ${after}`);
  assert.deepEqual([...stored.memberships].sort(), withItem.flatMap((c) => [...c.groups].map((g) => pair(g, c.id))).sort(), `membership items after ${after}`);
  assert.deepEqual([...stored.uids].sort(), [...m.uids].sort(), `uid index after ${after}`);
  assert.deepEqual([...stored.groups].sort(), [...m.groups].sort(), `group index after ${after}`);
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

type Cmd = fc.AsyncCommand<Model, World>;

class Connect implements Cmd {
  check = () => true;
  async run(m: Model): Promise<void> {
    setFaults(false);
    const before = new Set(world.gw.openConnectionIds());
    const client = await connect(world.endpoints.wsUrl);
    const id = world.gw.openConnectionIds().find((x) => !before.has(x));
    assert.ok(id, 'the new connection is open at the gateway');
    world.clients.set(id, client);
    // $connect stored the item before the handshake completed.
    m.connections.push({ id, live: true, item: true, aged: false, uid: undefined, groups: new Set(), expected: [] });
    await assertTablesMatch(m, this.toString());
  }
  toString = () => 'connect';
}

type Crash = 'none' | 'afterIndexWrite' | 'beforeIndexDelete';

/** Runs a binding change; a crash rejects with the hook's CrashError, a client without an item with ConnectionGoneError. */
async function expectOutcome(run: Promise<void>, outcome: 'ok' | 'gone' | 'crash', label: string): Promise<void> {
  count(`binding change: ${outcome}`);
  if (outcome === 'ok') return run;
  await assert.rejects(run, outcome === 'gone' ? ConnectionGoneError : CrashError, label);
}

class Bind implements Cmd {
  constructor(
    readonly who: number,
    readonly uid: number,
    readonly crash: Crash,
  ) {}
  check = (m: Readonly<Model>) => m.connections.length > 0;
  async run(m: Model): Promise<void> {
    const c = pick(m, this.who);
    const uid = uidName(m, this.uid);
    const sdk = this.crash === 'afterIndexWrite' ? world.crashAfterIndexWrite : this.crash === 'beforeIndexDelete' ? world.crashBeforeIndexDelete : world.sdk;
    m.uids.add(pair(uid, c.id)); // the index item first
    let outcome: 'ok' | 'gone' | 'crash' = 'ok';
    if (this.crash === 'afterIndexWrite') outcome = 'crash';
    else if (!c.item) {
      m.uids.delete(pair(uid, c.id));
      outcome = 'gone';
    } else {
      const previous = c.uid;
      c.uid = uid;
      if (previous !== undefined && previous !== uid) {
        if (this.crash === 'beforeIndexDelete') outcome = 'crash';
        else m.uids.delete(pair(previous, c.id));
      }
    }
    await expectOutcome(sdk.bindUid(c.id, uid), outcome, this.toString());
    await assertTablesMatch(m, this.toString());
  }
  toString = () => `bindUid(#${this.who}, u${this.uid}, crash: ${this.crash})`;
}

class Unbind implements Cmd {
  constructor(
    readonly who: number,
    readonly crash: boolean,
  ) {}
  check = (m: Readonly<Model>) => m.connections.length > 0;
  async run(m: Model): Promise<void> {
    const c = pick(m, this.who);
    let outcome: 'ok' | 'gone' | 'crash' = 'ok';
    if (!c.item) outcome = 'gone';
    else if (c.uid !== undefined) {
      const old = c.uid;
      c.uid = undefined;
      if (this.crash) outcome = 'crash';
      else m.uids.delete(pair(old, c.id));
    }
    await expectOutcome((this.crash ? world.crashBeforeIndexDelete : world.sdk).unbindUid(c.id), outcome, this.toString());
    await assertTablesMatch(m, this.toString());
  }
  toString = () => `unbindUid(#${this.who}, crash: ${this.crash})`;
}

class Join implements Cmd {
  constructor(
    readonly who: number,
    readonly group: number,
    readonly crash: boolean,
  ) {}
  check = (m: Readonly<Model>) => m.connections.length > 0;
  async run(m: Model): Promise<void> {
    const c = pick(m, this.who);
    const group = groupName(m, this.group);
    m.groups.add(pair(group, c.id));
    let outcome: 'ok' | 'gone' | 'crash' = 'ok';
    if (this.crash) outcome = 'crash';
    else if (!c.item) {
      m.groups.delete(pair(group, c.id));
      outcome = 'gone';
    } else c.groups.add(group);
    await expectOutcome((this.crash ? world.crashAfterIndexWrite : world.sdk).joinGroup(c.id, group), outcome, this.toString());
    await assertTablesMatch(m, this.toString());
  }
  toString = () => `joinGroup(#${this.who}, g${this.group}, crash: ${this.crash})`;
}

class Leave implements Cmd {
  constructor(
    readonly who: number,
    readonly group: number,
    readonly crash: boolean,
  ) {}
  check = (m: Readonly<Model>) => m.connections.length > 0;
  async run(m: Model): Promise<void> {
    const c = pick(m, this.who);
    const group = groupName(m, this.group);
    let outcome: 'ok' | 'gone' | 'crash' = 'ok';
    if (!c.item) {
      m.groups.delete(pair(group, c.id));
      outcome = 'gone';
    } else {
      c.groups.delete(group);
      if (this.crash) outcome = 'crash';
      else m.groups.delete(pair(group, c.id));
    }
    await expectOutcome((this.crash ? world.crashBeforeIndexDelete : world.sdk).leaveGroup(c.id, group), outcome, this.toString());
    await assertTablesMatch(m, this.toString());
  }
  toString = () => `leaveGroup(#${this.who}, g${this.group}, crash: ${this.crash})`;
}

class Close implements Cmd {
  constructor(
    readonly who: number,
    readonly dropDisconnect: boolean,
    readonly networkDrop: boolean,
  ) {}
  check = (m: Readonly<Model>) => m.connections.some((c) => c.live);
  async run(m: Model): Promise<void> {
    const live = m.connections.filter((c) => c.live);
    const c = live[this.who % live.length]!;
    await closeConnection(c, this.dropDisconnect, this.networkDrop);
    c.live = false;
    if (!this.dropDisconnect) removeItem(m, c); // $disconnect removes the item and the index items it names; crash leftovers stay
    await assertTablesMatch(m, this.toString());
  }
  toString = () =>
    `close(live #${this.who}, ${this.networkDrop ? 'network drop' : 'client close'}, $disconnect ${this.dropDisconnect ? 'dropped' : 'delivered'})`;
}

/**
 * Closes one connection and waits until its $disconnect has run (or was dropped): until the item and
 * the index items it names are gone, or, should they never go, until every invocation has ended
 * (the table check that follows then shows what is left).
 */
async function closeConnection(c: ModelConnection, dropDisconnect: boolean, networkDrop: boolean): Promise<void> {
  setFaults(dropDisconnect);
  count(dropDisconnect ? 'closes with $disconnect dropped' : 'closes');
  const stats = world.gw.stats();
  const client = world.clients.get(c.id)!;
  const named: Array<readonly ['uids' | 'groups' | 'memberships', string]> = c.item
    ? [...indexKeysOf(c).map(([role, key]) => [role, pair(key, c.id)] as const), ...[...c.groups].map((g) => ['memberships', pair(g, c.id)] as const)]
    : [];
  if (networkDrop) assert.equal(world.gw.dropConnection(c.id), true);
  else client.socket.close();
  await client.closed;
  await until(() => world.gw.stats().disconnects > stats.disconnects);
  assert.equal(world.gw.stats().droppedDisconnects - stats.droppedDisconnects, dropDisconnect ? 1 : 0);
  if (!dropDisconnect) {
    let settled = false;
    const cleaned = (async () => {
      for (;;) {
        const stored = await readStored();
        if (settled || (!stored.connections.has(c.id) && !stored.sessions.has(c.id) && named.every(([role, entry]) => !stored[role].has(entry)))) return;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    await Promise.race([cleaned, world.gw.functions.drain()]);
    settled = true;
    await cleaned;
  }
  setFaults(false);
}

class TimePasses implements Cmd {
  check = (m: Readonly<Model>) => m.connections.some((c) => c.item && !c.aged);
  async run(m: Model): Promise<void> {
    await ageConnections(60_000);
    for (const c of m.connections) if (c.item) c.aged = true;
    await assertTablesMatch(m, this.toString());
  }
  toString = () => 'a minute passes';
}

type SendKind = 'uid' | 'uids' | 'group' | 'groups' | 'all' | 'client';

class Send implements Cmd {
  constructor(
    readonly kind: SendKind,
    readonly a: number,
    readonly b: number,
    readonly exclude: number | undefined,
  ) {}
  check = (m: Readonly<Model>) => this.kind !== 'client' || m.connections.length > 0;
  async run(m: Model): Promise<void> {
    await send(m, this.kind, this.a, this.b, this.exclude, this.toString());
  }
  toString = () => `send to ${this.kind} ${this.a}/${this.b}${this.exclude === undefined ? '' : `, excluding #${this.exclude}`}`;
}

/** One send through the SDK, checked against the model; updates the model with what it pruned. */
async function send(m: Model, kind: SendKind, a: number, b: number, excludeIndex: number | undefined, label: string, final = false): Promise<SendReport> {
  const sdk = final ? world.patientSdk : world.sdk;
  const patient = final || m.patient;
  const marker = `m:${m.run}:${m.markers++}`;
  const exclude = excludeIndex !== undefined && m.connections.length > 0 ? pick(m, excludeIndex).id : undefined;
  // Recipients, and the index keys each was found through.
  const recipients = new Map<string, Array<['uids' | 'groups', string]>>();
  const through = (role: 'uids' | 'groups', keys: string[]) => {
    for (const key of keys) {
      for (const entry of m[role]) {
        const [k, id] = entry.split('\n') as [string, string];
        if (k === key && id !== exclude) recipients.set(id, [...(recipients.get(id) ?? []), [role, key]]);
      }
    }
  };
  let report: SendReport;
  const options = exclude === undefined ? undefined : { exclude };
  switch (kind) {
    case 'uid':
      through('uids', [uidName(m, a)]);
      report = await sdk.sendToUid(uidName(m, a), marker, options);
      break;
    case 'uids':
      through('uids', [uidName(m, a), uidName(m, b)]);
      report = await sdk.sendToUid([uidName(m, a), uidName(m, b)], marker, options);
      break;
    case 'group':
      through('groups', [groupName(m, a)]);
      report = await sdk.sendToGroup(groupName(m, a), marker, options);
      break;
    case 'groups':
      through('groups', [groupName(m, a), groupName(m, b)]);
      report = await sdk.sendToGroup([groupName(m, a), groupName(m, b)], marker, options);
      break;
    case 'all':
      for (const c of m.connections) if (c.item && c.id !== exclude) recipients.set(c.id, []);
      report = await sdk.sendToAll(marker, options);
      break;
    case 'client': {
      const c = pick(m, a);
      recipients.set(c.id, []);
      report = await sdk.sendToClient(c.id, marker);
      break;
    }
  }
  const byId = new Map(m.connections.map((c) => [c.id, c]));
  const ids = [...recipients.keys()];
  count('sends');
  count('recipients', ids.length);
  count('sent', report.sent.length);
  count('gone', report.gone.length);
  count('failed after the retries', report.failed.length);
  assert.equal(report.recipients, ids.length, `${label}: recipients`);
  assert.deepEqual(
    [...report.sent, ...report.gone, ...report.failed.map((f) => f.connectionId)].sort(),
    [...ids].sort(),
    `${label}: each recipient in exactly one list`,
  );
  if (patient) assert.deepEqual(report.failed, [], `${label}: with retries that suffice, nothing fails`);
  for (const { connectionId, error } of report.failed) {
    // Only the injected faults, after the retries ran out.
    assert.ok(
      (error instanceof ThrottledError && error.statusCode === 429) || (error instanceof ServiceError && error.statusCode === 500),
      `${label}: ${connectionId} failed with ${error.name} ${error.message}`,
    );
  }
  for (const id of report.sent) assert.equal(byId.get(id)?.live, true, `${label}: ${id} reported sent is live`);
  for (const id of report.gone) assert.notEqual(byId.get(id)?.live, true, `${label}: ${id} reported gone is not live`);
  // Every live recipient that is not reported failed received it.
  const failed = new Set(report.failed.map((f) => f.connectionId));
  for (const id of ids) {
    const c = byId.get(id)!;
    if (c.live && !failed.has(id)) {
      assert.ok(report.sent.includes(id), `${label}: live ${id} was not sent the message`);
      c.expected.push(marker);
      const client = world.clients.get(id)!;
      await until(() => client.messages.includes(marker));
    }
  }
  for (const id of report.gone) prune(m, byId.get(id)!, recipients.get(id)!);
  await assertTablesMatch(m, label);
  return report;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries and the end of a run
// ---------------------------------------------------------------------------------------------

const who = fc.nat({ max: 20 });
const key = fc.nat({ max: 2 });
const crash = fc.constantFrom<Crash>('none', 'none', 'none', 'none', 'afterIndexWrite', 'beforeIndexDelete');
const connectCmd = fc.constant(new Connect());
const bindCmd = fc.tuple(who, key, crash).map(([w, k, c]) => new Bind(w, k, c));
const joinCmd = fc.tuple(who, key, fc.boolean()).map(([w, k, c]) => new Join(w, k, c));
const sendCmd = fc
  .tuple(fc.constantFrom<SendKind>('uid', 'uid', 'uids', 'group', 'group', 'groups', 'all', 'client'), key, key, fc.option(who, { nil: undefined, freq: 4 }))
  .map(([k, a, b, e]) => new Send(k, a, b, e));
const commands = fc.commands(
  [
    // Weights by repetition: connections and bindings first make the sends reach someone.
    connectCmd,
    connectCmd,
    connectCmd,
    bindCmd,
    bindCmd,
    fc.tuple(who, fc.boolean()).map(([w, c]) => new Unbind(w, c)),
    joinCmd,
    joinCmd,
    joinCmd,
    fc.tuple(who, key, fc.boolean()).map(([w, k, c]) => new Leave(w, k, c)),
    fc.tuple(who, fc.boolean(), fc.boolean()).map(([w, d, n]) => new Close(w, d, n)),
    fc.tuple(who, fc.boolean(), fc.boolean()).map(([w, d, n]) => new Close(w, d, n)),
    fc.constant(new TimePasses()),
    sendCmd,
    sendCmd,
    sendCmd,
    sendCmd,
  ],
  { maxCommands: MAX_COMMANDS, size: 'max' },
);

/**
 * The end of a run: stale items a send can reach are pruned by the next send (once past the grace);
 * then three hours pass (API Gateway has closed every connection by two) and TTL removes the rest.
 */
async function finish(m: Model): Promise<void> {
  await ageConnections(60_000);
  for (const c of m.connections) if (c.item) c.aged = true;
  for (let n = 0; n <= 2; n++) {
    await send(m, 'uid', n, n, undefined, `final send to u${n}`, true);
    await send(m, 'group', n, n, undefined, `final send to g${n}`, true);
  }
  await send(m, 'all', 0, 0, undefined, 'final sendToAll', true);
  const live = new Set(m.connections.filter((c) => c.live).map((c) => c.id));
  const stored = await readStored();
  // Nothing stale is left that a send could reach: every item belongs to a live connection ...
  assert.deepEqual([...stored.connections.keys()].sort(), [...live].sort(), 'connection items are exactly the live connections');
  assert.deepEqual([...stored.sessions].sort(), [...live].sort(), 'session items are exactly the live connections');
  for (const entry of [...stored.uids, ...stored.groups, ...stored.memberships])
    assert.ok(live.has(entry.split('\n')[1]!), `index item ${JSON.stringify(entry)} points at a live connection`);
  // ... and no live connection is hidden: each has the index items of its uid and groups.
  for (const c of m.connections.filter((x) => x.live)) {
    for (const [role, k] of indexKeysOf(c)) assert.ok(stored[role].has(pair(k, c.id)), `${c.id} is findable through ${role} ${k}`);
  }

  // Three hours later: every connection was closed by API Gateway, some $disconnects lost.
  let n = 0;
  for (const c of m.connections.filter((x) => x.live)) {
    await closeConnection(c, n++ % 2 === 0, false);
    c.live = false;
  }
  await world.gw.sweepExpiredItems(Date.now() + 3 * HOUR_MS);
  const swept = await readStored();
  assert.deepEqual(
    [swept.connections.size, swept.sessions.size, swept.memberships.size, swept.uids.size, swept.groups.size],
    [0, 0, 0, 0, 0],
    'the TTL sweep leaves nothing behind',
  );

  // Every client received exactly what the model expected, in order (closed sockets have delivered everything).
  for (const c of m.connections) {
    const received = world.clients.get(c.id)!.messages.filter((x) => x.startsWith('m:'));
    assert.deepEqual(received, c.expected, `messages received by ${c.id}`);
    world.clients.delete(c.id);
  }
}

let runs = 0;

/** What the runs exercised, printed as test diagnostics (so that a run that tests nothing shows). */
const tally: Record<string, number> = {};
const count = (what: string, n = 1) => void (tally[what] = (tally[what] ?? 0) + n);

async function runModel(cmds: Iterable<Cmd>, patient: boolean, randomSeed: number): Promise<void> {
  const model: Model = { run: runs++, connections: [], uids: new Set(), groups: new Set(), patient, markers: 0 };
  world.random = mulberry32(randomSeed);
  count('runs');
  count('commands', [...cmds].length);
  try {
    await fc.asyncModelRun(() => ({ model, real: world }), cmds);
    await finish(model);
  } finally {
    for (const c of model.connections) {
      world.clients.get(c.id)?.socket.terminate();
      world.clients.delete(c.id);
    }
    world.gw.setFaults({});
    await until(() => world.gw.stats().disconnects === world.gw.stats().connects); // every $disconnect started
    await world.gw.functions.drain();
    await world.gw.sweepExpiredItems(Date.now() + 3 * HOUR_MS);
  }
}

/** A small seeded random source, so that a failing run's faults can be replayed with its seed. */
function mulberry32(seedValue: number): () => number {
  let a = seedValue >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('faults with the synthesized app', { timeout: 300_000 }, () => {
  after(() => {
    for (const [what, n] of Object.entries(tally)) console.log(`# ${what}: ${n}`);
  });

  test(`random interleavings, 429 ${FAULTS.patient.throttleRate} / 500 ${FAULTS.patient.serverErrorRate}, maxRetries 12 (${RUNS.patient} runs of up to ${MAX_COMMANDS} commands): every live recipient gets every message, nothing fails, stale items are pruned or swept`, async () => {
    world.faults = { ...FAULTS.patient };
    for (const sdk of world.sdks.splice(0)) sdk.destroy();
    configureSdks(12);
    await fc.assert(
      fc.asyncProperty(commands, fc.integer(), async (cmds, faultSeed) => runModel(cmds, true, faultSeed)),
      { numRuns: RUNS.patient, ...(seed === undefined ? {} : { seed }) },
    );
  });

  test(`random interleavings, 429 ${FAULTS.impatient.throttleRate} / 500 ${FAULTS.impatient.serverErrorRate}, maxRetries 1 (${RUNS.impatient} runs): a recipient is failed only with the injected error after the retries, and then received nothing and kept its items`, async () => {
    world.faults = { ...FAULTS.impatient };
    for (const sdk of world.sdks.splice(0)) sdk.destroy();
    configureSdks(1);
    await fc.assert(
      fc.asyncProperty(commands, fc.integer(), async (cmds, faultSeed) => runModel(cmds, false, faultSeed)),
      { numRuns: RUNS.impatient, ...(seed === undefined ? {} : { seed }) },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Reconnects with recovery (docs/guides/recovery.md): one browser-client session (`?gw=1`) bound to a
// uid and a group, whose connection is lost (a network drop: $disconnect says 1006) and resumed, or
// renewed while still open (make before break), between sends to its uid, its group and all. The
// model knows which connection is the session's and whether it is up or held; after every send:
// no live connection is missed (the session's live connection is in report.sent), and a held one is
// in report.gone (its push buffered). At the end of each run, no push is lost within the window:
// the pushes the session's sockets received (live and replayed), taken once by push id, are every
// push sent, and each socket got its pushes in the order they were sent.
// ---------------------------------------------------------------------------------------------

type RecoveryCommand = { kind: 'send'; to: 'uid' | 'group' | 'all' } | { kind: 'drop' } | { kind: 'resume' } | { kind: 'renew' };

const recoveryCommands = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('send' as const), to: fc.constantFrom('uid' as const, 'group' as const, 'all' as const) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'drop' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'resume' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'renew' as const }) },
  ),
  { minLength: 5, maxLength: 25 },
);

interface SessionSocket {
  readonly client: TestClient;
  readonly id: string;
  readonly resumeToken: string;
}

let recoveryRun = 0;

/** Opens a `?gw=1` connection and reads its init message. */
async function openBrowserConnection(): Promise<SessionSocket> {
  const client = await connect(`${world.endpoints.wsUrl}?gw=1`);
  const init = await client.json(0, 10_000);
  assert.equal(typeof init.resume_token, 'string', 'a browser-client connection gets a resume token');
  assert.ok(init.cut_in > 0);
  return { client, id: init.client_id, resumeToken: init.resume_token };
}

/** Sends the resume request on `next` and returns the outcome (the control message). */
async function resumeOn(next: SessionSocket, from: SessionSocket): Promise<{ type: string; replayed?: number }> {
  next.client.send(JSON.stringify({ action: 'resume', from: from.id, token: from.resumeToken }));
  for (let i = 1; ; i++) {
    const text = await next.client.message(i, 10_000);
    if (text.startsWith('\x1e\x1e')) return JSON.parse(text.slice(2));
  }
}

async function runRecoveryModel(cmds: RecoveryCommand[]): Promise<void> {
  const run = recoveryRun++;
  const uid = `rec-u${run}`;
  const group = `rec-g${run}`;
  const sockets: SessionSocket[] = [];
  let current = await openBrowserConnection();
  sockets.push(current);
  await world.sdk.bindUid(current.id, uid);
  await world.sdk.joinGroup(current.id, group);
  let held = false; // the model: the session's connection was lost and not yet resumed
  let buffered = 0;
  const sent: string[] = [];
  try {
    for (const cmd of cmds) {
      if (cmd.kind === 'send') {
        const message = `r${run}-${sent.length}`;
        sent.push(message);
        const report: SendReport =
          cmd.to === 'uid'
            ? await world.sdk.sendToUid(uid, message)
            : cmd.to === 'group'
              ? await world.sdk.sendToGroup(group, message)
              : await world.sdk.sendToAll(message);
        if (held) {
          assert.ok(report.gone.includes(current.id), `the held connection is met (410) and the push buffered: ${JSON.stringify(report)}`);
          buffered++;
        } else {
          assert.ok(report.sent.includes(current.id), `no live connection is missed by a send: ${JSON.stringify(report)}`);
        }
      } else if (cmd.kind === 'drop' && !held) {
        assert.equal(world.gw.dropConnection(current.id), true);
        const id = current.id;
        // $disconnect (1006) holds it: its item gets heldUntil.
        await eventually(
          async () =>
            (await world.doc.send(new ScanCommand({ TableName: world.tables.connections, ConsistentRead: true }))).Items?.find((i) => i.connectionId === id),
          (item) => typeof item?.heldUntil === 'number',
          10_000,
        );
        held = true;
        buffered = 0;
      } else if (cmd.kind === 'resume' && held) {
        const next = await openBrowserConnection();
        sockets.push(next);
        assert.deepEqual(await resumeOn(next, current), { type: 'resumed', from: current.id, replayed: buffered });
        current = next;
        held = false;
      } else if (cmd.kind === 'renew' && !held) {
        const next = await openBrowserConnection();
        sockets.push(next);
        assert.deepEqual(await resumeOn(next, current), { type: 'resumed', from: current.id, replayed: 0 });
        await current.client.close(1000);
        current = next;
      }
    }
    if (held) {
      const next = await openBrowserConnection();
      sockets.push(next);
      assert.equal((await resumeOn(next, current)).type, 'resumed');
      current = next;
    }
    // A marker through the uid: when it arrives, everything sent before it has (one sender, in order).
    await world.sdk.sendToUid(uid, 'end');
    await eventually(() => current.client.messages.some((m) => m.endsWith('\x1eend')), Boolean, 10_000);
    const seen = new Set<string>();
    const received: string[] = [];
    for (const socket of sockets) {
      const bodies: string[] = [];
      for (const text of socket.client.messages) {
        if (text[0] !== '\x1e' && text[0] !== '\x1f') continue;
        const cut = text.indexOf('\x1e', 1);
        const id = text.slice(1, cut);
        const body = text.slice(cut + 1);
        if (!id || body === 'end') continue;
        bodies.push(body);
        if (seen.has(id)) continue;
        seen.add(id);
        received.push(body);
      }
      const order = bodies.map((b) => sent.indexOf(b));
      assert.deepEqual(
        order,
        [...order].sort((a, b) => a - b),
        `each socket gets its pushes in the order sent: ${JSON.stringify(bodies)}`,
      );
    }
    assert.deepEqual([...received].sort(), [...sent].sort(), 'no push lost within the window, none twice once taken by id');
    assert.deepEqual(await world.sdk.getClientIdByUid(uid), [current.id], 'the uid lists the session once');
  } finally {
    for (const socket of sockets) socket.client.socket.terminate();
  }
}

describe('reconnects with recovery, the synthesized app', { timeout: 300_000 }, () => {
  test('drops, resumes and renewals between sends to the uid, the group and all (15 runs): no live connection is missed by a send, no push is lost within the window, and each socket gets its pushes in order', async () => {
    world.faults = { throttleRate: 0, serverErrorRate: 0 };
    setFaults(false);
    await fc.assert(
      fc.asyncProperty(recoveryCommands, async (cmds) => runRecoveryModel(cmds)),
      { numRuns: 15, ...(seed === undefined ? {} : { seed }) },
    );
  });
});
