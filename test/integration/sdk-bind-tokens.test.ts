/**
 * Bind tokens (sdk/bindToken.ts): the format and its checks, and the Gateway's use of them against
 * the local gateway, whose Secrets Manager (GetSecretValue) serves the key exactly as AWS would:
 * with `requireBindToken`, a bind or join with another connection's id and no token, a malformed
 * token, a forged one, one for another id and an expired one are each refused with a BindTokenError
 * and nothing written; the right token binds. The key is read once (its current and previous
 * versions); neither it nor the token is in any error.
 */
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { GatewayHarness, LOCAL_CREDENTIALS, TEST_TABLES } from '../../testkit/gatewayHarness.ts';
import { BindTokenError, ConfigurationError, Gateway, GatewayEnvVar, ServiceError, ValidationError, gatewayEnvironment } from '../../sdk/index.ts';
import { BIND_TOKEN_TTL_SECONDS } from '../../sdk/bindToken.ts';
import { checkBindToken, mintBindToken } from '../../sdk/bindToken.ts';
import { checkToken, mintToken, type TokenPurpose } from '../../sdk/tokens.ts';
import { gatewayForCurrentClient } from '../../lambdas/currentClient.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bind-token-key-Ab12Cd';
const SHORT_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:short-key-Zz99Yy';
const ID_A = 'Y2xpZW50LWEtMDEy=';
const KEY = Buffer.from('k'.repeat(40));

/** A v1 token, as releases before purposes minted it (kept here: nothing in the package mints v1 any more). */
function mintV1(key: Uint8Array, connectionId: string, nowMs: number): string {
  const expiry = String(Math.floor(nowMs / 1000) + BIND_TOKEN_TTL_SECONDS);
  return `v1.${expiry}.${createHmac('sha256', key).update(`v1.${connectionId}.${expiry}`).digest('base64url')}`;
}

describe('the token format', () => {
  test('v2.<expiry>.<43-character MAC>, valid for its id until its expiry, 2 hours by default', () => {
    const now = 1_760_000_000_000;
    const token = mintBindToken(KEY, ID_A, now);
    assert.match(token, /^v2\.\d+\.[A-Za-z0-9_-]{43}$/);
    assert.equal(Number(token.split('.')[1]), now / 1000 + BIND_TOKEN_TTL_SECONDS);
    assert.equal(BIND_TOKEN_TTL_SECONDS, 7200);
    assert.equal(checkBindToken(KEY, ID_A, token, now), undefined);
    assert.equal(checkBindToken(KEY, ID_A, token, now + 7_199_999), undefined);
    assert.equal(checkBindToken(KEY, ID_A, token, now + 7_200_000), 'expired');
    assert.equal(checkBindToken(KEY, 'b3RoZXItY29ubi0x=', token, now), 'mismatch');
    assert.equal(checkBindToken(Buffer.from('j'.repeat(40)), ID_A, token, now), 'mismatch');
  });

  test('the purpose is signed: a bind token is no resume token and a resume token no bind token', () => {
    const now = 1_760_000_000_000;
    const bind = mintToken(KEY, 'bind', ID_A, now, 60);
    const resume = mintToken(KEY, 'resume', ID_A, now, 60);
    assert.equal(bind, mintBindToken(KEY, ID_A, now, 60));
    assert.notEqual(bind, resume);
    assert.equal(checkToken(KEY, 'bind', ID_A, bind, now), undefined);
    assert.equal(checkToken(KEY, 'resume', ID_A, resume, now), undefined);
    assert.equal(checkToken(KEY, 'resume', ID_A, bind, now), 'mismatch');
    assert.equal(checkToken(KEY, 'bind', ID_A, resume, now), 'mismatch');
    assert.equal(checkBindToken(KEY, ID_A, resume, now), 'mismatch');
    // The signed string is v2.<purpose>.<id>.<expiry>: the documented format, so another implementation can mint it.
    const expiry = String(now / 1000 + 60);
    assert.equal(bind, `v2.${expiry}.${createHmac('sha256', KEY).update(`v2.bind.${ID_A}.${expiry}`).digest('base64url')}`);
    // An unknown purpose or a bad ttl is a programming error, not a refusal.
    assert.throws(() => mintToken(KEY, 'admin' as TokenPurpose, ID_A, now, 60), TypeError);
    assert.throws(() => checkToken(KEY, 'admin' as TokenPurpose, ID_A, bind, now), TypeError);
    for (const ttl of [0, -1, 1.5, Number.NaN]) assert.throws(() => mintToken(KEY, 'bind', ID_A, now, ttl), TypeError);
  });

  test('a v1 token (minted before purposes) still binds until it expires, and is never a resume token', () => {
    const now = 1_760_000_000_000;
    const v1 = mintV1(KEY, ID_A, now);
    assert.equal(checkBindToken(KEY, ID_A, v1, now), undefined);
    assert.equal(checkBindToken(KEY, ID_A, v1, now + 7_200_000), 'expired');
    assert.equal(checkBindToken(KEY, 'b3RoZXItY29ubi0x=', v1, now), 'mismatch');
    assert.equal(checkToken(KEY, 'resume', ID_A, v1, now), 'mismatch');
    // A v1 MAC relabelled v2 (or the reverse) is a mismatch: the version is signed too.
    assert.equal(checkBindToken(KEY, ID_A, v1.replace(/^v1/, 'v2'), now), 'mismatch');
    assert.equal(checkBindToken(KEY, ID_A, mintBindToken(KEY, ID_A, now).replace(/^v2/, 'v1'), now), 'mismatch');
  });

  test('checking takes a list of keys: a token signed by any of them is valid', () => {
    const now = 1_760_000_000_000;
    const previous = Buffer.from('p'.repeat(40));
    const old = mintBindToken(previous, ID_A, now);
    assert.equal(checkBindToken([KEY, previous], ID_A, old, now), undefined);
    assert.equal(checkBindToken([KEY], ID_A, old, now), 'mismatch');
    assert.equal(checkBindToken([], ID_A, old, now), 'mismatch');
  });

  test('anything else is missing, malformed or a mismatch; a later expiry written into a token breaks its MAC', () => {
    const now = Date.now();
    const token = mintBindToken(KEY, ID_A, now);
    const [, expiry, mac] = token.split('.') as [string, string, string];
    for (const missing of [undefined, null, '']) assert.equal(checkBindToken(KEY, ID_A, missing, now), 'missing');
    for (const malformed of [
      'x',
      `v3.${expiry}.${mac}`,
      `v2.${expiry}.${mac}=`,
      `v2.${expiry}.${mac.slice(1)}`,
      `v2.-1.${mac}`,
      `v2.bind.${expiry}.${mac}`,
      ` ${token}`,
      42,
      {},
    ]) {
      assert.equal(checkBindToken(KEY, ID_A, malformed, now), 'malformed', String(malformed));
    }
    assert.equal(checkBindToken(KEY, ID_A, `v2.${Number(expiry) + 86_400}.${mac}`, now), 'mismatch');
    const flipped = mac.slice(0, 10) + (mac[10] === 'A' ? 'B' : 'A') + mac.slice(11);
    assert.equal(checkBindToken(KEY, ID_A, `v2.${expiry}.${flipped}`, now), 'mismatch');
    // The last character's 2 unused bits set: the same bytes, but not the token's one spelling.
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const loose = mac.slice(0, -1) + last[last.indexOf(mac.at(-1)!) + 1];
    assert.equal(checkBindToken(KEY, ID_A, `v2.${expiry}.${loose}`, now), 'malformed');
  });
});

describe('the Gateway with requireBindToken', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  let gw: Gateway;
  let key: Buffer;
  let secretReads = 0;
  let secrets: SecretsManagerClient;

  before(async () => {
    h = await GatewayHarness.start({
      secrets: [
        { arn: SECRET_ARN, name: 'bind-token-key', generateLength: 64 },
        { arn: SHORT_ARN, name: 'short-key', value: 'too-short-for-a-key' },
      ],
    });
    secrets = new SecretsManagerClient({ endpoint: h.endpoints.httpUrl, region: h.endpoints.region, credentials: LOCAL_CREDENTIALS });
    secrets.middlewareStack.add((next) => async (args) => (secretReads++, next(args)), { step: 'initialize' });
    gw = h.newGateway({ bindTokenSecret: SECRET_ARN, requireBindToken: true, secretsManager: secrets });
    key = Buffer.from(h.local.secrets.values()[SECRET_ARN]!, 'utf8');
  });
  after(async () => {
    secrets.destroy();
    await h.stop();
  });

  const tablesNow = async () => {
    const all: Record<string, unknown[]> = {};
    for (const name of Object.values(TEST_TABLES))
      all[name] = ((await h.doc.send(new ScanCommand({ TableName: name, ConsistentRead: true }))).Items ?? []).map((i) => JSON.stringify(i)).sort();
    return all;
  };

  async function refused(call: () => Promise<unknown>, reason: string): Promise<void> {
    const before = await tablesNow();
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof BindTokenError, String(error));
      assert.equal(error.code, 'BIND_TOKEN');
      assert.equal(error.reason, reason);
      assert.doesNotMatch(error.message, new RegExp(key.toString('utf8')));
      assert.doesNotMatch(error.message, /v[12]\.\d+\./, 'the token is not echoed');
      return true;
    });
    assert.deepEqual(await tablesNow(), before, 'nothing written');
  }

  test('the local gateway serves the generated secret through GetSecretValue, by ARN and by name', async () => {
    assert.match(key.toString('utf8'), /^[A-Za-z0-9]{64}$/);
    const byName = await secrets.send(new GetSecretValueCommand({ SecretId: 'bind-token-key' }));
    assert.equal(byName.ARN, SECRET_ARN);
    assert.equal(byName.SecretString, key.toString('utf8'));
    await assert.rejects(secrets.send(new GetSecretValueCommand({ SecretId: 'nope' })), { name: 'ResourceNotFoundException' });
    secretReads = 0;
  });

  test('binding another connection: no token, a malformed one, a forged one, one for another id, an expired one: each refused, nothing written', async () => {
    const victim = await h.connect();
    const attacker = await h.connect();
    await gw.bindUid(victim.id, 'victim', { bindToken: await gw.createBindToken(victim.id) });
    const victimToken = await gw.createBindToken(victim.id);
    const attackerToken = await gw.createBindToken(attacker.id);
    for (const [name, call] of [
      ['bindUid', (options?: { bindToken?: string }) => gw.bindUid(victim.id, 'attacker', options)],
      ['joinGroup', (options?: { bindToken?: string }) => gw.joinGroup(victim.id, 'attackers', options)],
    ] as const) {
      await refused(() => call(), 'missing');
      await refused(() => call({}), 'missing');
      await refused(() => call({ bindToken: 'not-a-token' }), 'malformed');
      await refused(() => call({ bindToken: `${victimToken.slice(0, -5)}${victimToken.at(-5) === 'A' ? 'B' : 'A'}${victimToken.slice(-4)}` }), 'mismatch');
      await refused(() => call({ bindToken: attackerToken }), 'mismatch');
      await refused(() => call({ bindToken: mintBindToken(key, victim.id, Date.now() - (BIND_TOKEN_TTL_SECONDS + 1) * 1000) }), 'expired');
      assert.ok(name);
    }
    assert.deepEqual(await gw.getClientIdByUid('victim'), [victim.id]);
    assert.deepEqual(await gw.getClientIdByUid('attacker'), []);
    assert.deepEqual(await gw.getClientIdListByGroup('attackers'), []);
    // A non-string token or options that are not an object are bad input, refused the same way.
    await assert.rejects(gw.bindUid(victim.id, 'x', { bindToken: 42 as unknown as string }), ValidationError);
    await assert.rejects(gw.joinGroup(victim.id, 'x', 'token' as unknown as { bindToken: string }), ValidationError);
  });

  test('the right token binds and joins; the key was read once (both versions) for all of these calls', async () => {
    const client = await h.connect();
    const token = mintBindToken(key, client.id); // what the init sender puts in the init message
    assert.equal(await gw.verifyBindToken(client.id, token), true);
    await gw.bindUid(client.id, 'owner', { bindToken: token });
    await gw.joinGroup(client.id, 'owners', { bindToken: token });
    assert.deepEqual(await gw.getClientIdByUid('owner'), [client.id]);
    assert.deepEqual(await gw.getClientIdListByGroup('owners'), [client.id]);
    assert.equal(await gw.verifyBindToken(client.id, 'v1.1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), false);
    assert.equal(await gw.verifyBindToken(client.id, undefined as unknown as string), false);
    assert.equal(
      secretReads,
      2,
      'one read of the key (AWSCURRENT and AWSPREVIOUS, one GetSecretValue each) for every verification since the Gateway was built',
    );
    await assert.rejects(gw.verifyBindToken('not an id', token), ValidationError);
  });

  test('fail closed: a Gateway given a secret and no requireBindToken requires tokens; only requireBindToken: false turns that off', async () => {
    const client = await h.connect();
    const secretOnly = h.newGateway({ bindTokenSecret: SECRET_ARN, secretsManager: secrets });
    await refused(() => secretOnly.bindUid(client.id, 'no-token'), 'missing');
    await refused(() => secretOnly.joinGroup(client.id, 'no-token'), 'missing');
    await secretOnly.bindUid(client.id, 'with-token', { bindToken: mintBindToken(key, client.id) });
    const open = h.newGateway({ bindTokenSecret: SECRET_ARN, requireBindToken: false, secretsManager: secrets });
    await open.bindUid(client.id, 'no-token-needed');
    assert.deepEqual(await open.getClientIdByUid('no-token-needed'), [client.id]);
    assert.equal(await open.verifyBindToken(client.id, mintBindToken(key, client.id)), true, 'verifyBindToken still answers');
    // Without a secret there is nothing to check tokens with: binds need none (the Gateway of a local test, say).
    await h.newGateway({}).bindUid(client.id, 'no-secret');
  });

  test('fail closed from the environment: GATEWAY_BIND_TOKEN_SECRET alone requires tokens; GATEWAY_REQUIRE_BIND_TOKEN=false turns that off', async () => {
    const base = gatewayEnvironment(h.endpoints.callbackUrl, TEST_TABLES);
    const overrides = { region: h.endpoints.region, credentials: LOCAL_CREDENTIALS, dynamoDb: h.doc, secretsManager: secrets };
    const client = await h.connect();
    for (const unset of [undefined, '', '  ']) {
      const env = { ...base, [GatewayEnvVar.bindTokenSecret]: SECRET_ARN, ...(unset === undefined ? {} : { [GatewayEnvVar.requireBindToken]: unset }) };
      const gateway = Gateway.fromEnv(overrides, env);
      await refused(() => gateway.bindUid(client.id, 'env-no-token'), 'missing');
      gateway.destroy();
    }
    const lax = Gateway.fromEnv(overrides, { ...base, [GatewayEnvVar.bindTokenSecret]: SECRET_ARN, [GatewayEnvVar.requireBindToken]: 'false' });
    await lax.bindUid(client.id, 'env-explicitly-open');
    lax.destroy();
  });

  test('in an Events callback, the connection of the event binds itself without a token; any other id still needs its own', async () => {
    const [self, other] = [await h.connect(), await h.connect()];
    const ctxGateway = gatewayForCurrentClient(gw, self.id);
    await ctxGateway.bindUid(self.id, 'self');
    await ctxGateway.joinGroup(self.id, 'selves');
    assert.deepEqual(await gw.getClientIdByUid('self'), [self.id]);
    await refused(() => ctxGateway.bindUid(other.id, 'self'), 'missing');
    await refused(() => ctxGateway.joinGroup(other.id, 'selves'), 'missing');
    // A token given for the own id is still checked.
    await refused(() => ctxGateway.bindUid(self.id, 'self', { bindToken: 'bad' }), 'malformed');
    assert.equal(typeof ctxGateway.sendToUid, 'function');
    assert.equal((await ctxGateway.sendToUid('self', 'hi')).recipients, 1);
  });

  test('configuration: requireBindToken needs a secret; a short, unreadable or missing secret is an error that does not show its value', async () => {
    assert.throws(() => h.newGateway({ requireBindToken: true }), ConfigurationError);
    assert.throws(() => h.newGateway({ bindTokenSecret: '' }), ConfigurationError);
    assert.throws(() => h.newGateway({ requireBindToken: 'yes' as unknown as boolean, bindTokenSecret: SECRET_ARN }), ConfigurationError);
    const client = await h.connect();
    const short = h.newGateway({ bindTokenSecret: SHORT_ARN, requireBindToken: true, secretsManager: secrets });
    await assert.rejects(short.bindUid(client.id, 'u', { bindToken: 'v1.1.x' }), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.doesNotMatch(error.message, /too-short-for-a-key/);
      return true;
    });
    const missing = h.newGateway({ bindTokenSecret: 'no-such-secret', requireBindToken: true, secretsManager: secrets });
    await assert.rejects(missing.verifyBindToken(client.id, mintBindToken(key, client.id)), (error: unknown) => {
      assert.ok(error instanceof ServiceError);
      assert.equal(error.errorType, 'ResourceNotFoundException');
      return true;
    });
    await assert.rejects(h.newGateway({}).verifyBindToken(client.id, 'x'), ConfigurationError);
    await assert.rejects(h.newGateway({}).createBindToken(client.id), ConfigurationError);
  });

  test('fromEnv reads GATEWAY_BIND_TOKEN_SECRET and GATEWAY_REQUIRE_BIND_TOKEN', async () => {
    const base = gatewayEnvironment(h.endpoints.callbackUrl, TEST_TABLES);
    const overrides = { region: h.endpoints.region, credentials: LOCAL_CREDENTIALS, dynamoDb: h.doc, secretsManager: secrets };
    const client = await h.connect();
    const strict = Gateway.fromEnv(overrides, { ...base, [GatewayEnvVar.bindTokenSecret]: SECRET_ARN, [GatewayEnvVar.requireBindToken]: 'true' });
    await assert.rejects(strict.bindUid(client.id, 'env'), BindTokenError);
    await strict.bindUid(client.id, 'env', { bindToken: mintBindToken(key, client.id) });
    const lax = Gateway.fromEnv(overrides, { ...base, [GatewayEnvVar.bindTokenSecret]: SECRET_ARN, [GatewayEnvVar.requireBindToken]: 'False' });
    await lax.bindUid(client.id, 'env-2');
    assert.throws(() => Gateway.fromEnv(overrides, { ...base, [GatewayEnvVar.requireBindToken]: 'true' }), ConfigurationError);
    assert.throws(
      () => Gateway.fromEnv(overrides, { ...base, [GatewayEnvVar.bindTokenSecret]: SECRET_ARN, [GatewayEnvVar.requireBindToken]: 'yes' }),
      /must be true or false/,
    );
    // An explicit override wins over the environment.
    await Gateway.fromEnv(
      { ...overrides, requireBindToken: false },
      { ...base, [GatewayEnvVar.bindTokenSecret]: SECRET_ARN, [GatewayEnvVar.requireBindToken]: 'true' },
    ).bindUid(client.id, 'env-3');
    for (const g of [strict, lax]) g.destroy();
  });
});
