/**
 * Rotating the bind token key with no restart (sdk/tokenSecret.ts), against the local gateway's
 * Secrets Manager, which keeps versions and staging labels as AWS does (local/secretsManager.ts),
 * driven by the unmodified SecretsManagerClient: PutSecretValue moves AWSCURRENT to the new value and
 * AWSPREVIOUS to the old one. A token signed with either version is accepted; the key is read again
 * hourly, and sooner when a token matches neither key; a failed re-read keeps the keys already read.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GatewayHarness, LOCAL_CREDENTIALS } from '../../testkit/gatewayHarness.ts';
import { BindTokenGuard, checkBindToken, mintBindToken } from '../../sdk/bindToken.ts';
import { TOKEN_KEY_MISS_REFRESH_MS, TOKEN_KEY_REFRESH_MS, TokenSecret } from '../../sdk/tokenSecret.ts';
import { ConfigurationError, ServiceError } from '../../sdk/index.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:rotation-key-Ab12Cd';
const CLIENT = 'Um90YXRpb25DbGk=';
const newValue = (c: string) => c.repeat(64);

describe('rotating the bind token key', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  let secrets: SecretsManagerClient;
  let reads = 0;

  before(async () => {
    h = await GatewayHarness.start({ secrets: [{ arn: SECRET_ARN, name: 'rotation-key', value: newValue('a') }] });
    secrets = new SecretsManagerClient({ endpoint: h.endpoints.httpUrl, region: h.endpoints.region, credentials: LOCAL_CREDENTIALS });
    secrets.middlewareStack.add((next) => async (args) => (reads++, next(args)), { step: 'initialize' });
  });
  after(async () => {
    secrets.destroy();
    await h.stop();
  });

  const rotate = (value: string) => secrets.send(new PutSecretValueCommand({ SecretId: SECRET_ARN, SecretString: value }));
  const stageValue = async (stage: string) => (await secrets.send(new GetSecretValueCommand({ SecretId: SECRET_ARN, VersionStage: stage }))).SecretString;

  test('the local Secrets Manager keeps versions and labels as AWS does', async () => {
    await assert.rejects(stageValue('AWSPREVIOUS'), { name: 'ResourceNotFoundException' });
    const first = await secrets.send(new GetSecretValueCommand({ SecretId: SECRET_ARN }));
    assert.deepEqual(first.VersionStages, ['AWSCURRENT']);
    const put = await rotate(newValue('b'));
    assert.deepEqual(put.VersionStages, ['AWSCURRENT']);
    assert.equal(await stageValue('AWSCURRENT'), newValue('b'));
    assert.equal(await stageValue('AWSPREVIOUS'), newValue('a'));
    // By version id, and both together only when they name the same version.
    assert.equal((await secrets.send(new GetSecretValueCommand({ SecretId: SECRET_ARN, VersionId: first.VersionId }))).SecretString, newValue('a'));
    await assert.rejects(secrets.send(new GetSecretValueCommand({ SecretId: SECRET_ARN, VersionId: first.VersionId, VersionStage: 'AWSCURRENT' })), {
      name: 'ResourceNotFoundException',
    });
    // An idempotent retry (same ClientRequestToken, same value) changes nothing; another value under it is refused.
    const token = 'c'.repeat(32);
    await secrets.send(new PutSecretValueCommand({ SecretId: SECRET_ARN, SecretString: newValue('c'), ClientRequestToken: token }));
    await secrets.send(new PutSecretValueCommand({ SecretId: SECRET_ARN, SecretString: newValue('c'), ClientRequestToken: token }));
    assert.equal(await stageValue('AWSPREVIOUS'), newValue('b'));
    await assert.rejects(secrets.send(new PutSecretValueCommand({ SecretId: SECRET_ARN, SecretString: newValue('d'), ClientRequestToken: token })), {
      name: 'ResourceExistsException',
    });
    // A version staged under another label leaves AWSCURRENT where it is.
    await secrets.send(new PutSecretValueCommand({ SecretId: SECRET_ARN, SecretString: newValue('p'), VersionStages: ['AWSPENDING'] }));
    assert.equal(await stageValue('AWSCURRENT'), newValue('c'));
    assert.equal(await stageValue('AWSPENDING'), newValue('p'));
    await assert.rejects(secrets.send(new PutSecretValueCommand({ SecretId: SECRET_ARN })), { name: 'InvalidParameterException' });
    await assert.rejects(secrets.send(new PutSecretValueCommand({ SecretId: SECRET_ARN, SecretString: 'x'.repeat(65_537) })), { name: 'ValidationException' });
    await assert.rejects(secrets.send(new PutSecretValueCommand({ SecretId: SECRET_ARN, SecretString: newValue('x'), ClientRequestToken: 'short' })), {
      name: 'ValidationException',
    });
    await assert.rejects(secrets.send(new PutSecretValueCommand({ SecretId: SECRET_ARN, SecretString: newValue('x'), VersionStages: [] })), {
      name: 'ValidationException',
    });
    await assert.rejects(secrets.send(new PutSecretValueCommand({ SecretId: SECRET_ARN, SecretBinary: Buffer.from('x') })), {
      name: 'InvalidRequestException',
    });
    await assert.rejects(stageValue('NO-SUCH-LABEL'), { name: 'ResourceNotFoundException' });
    await assert.rejects(secrets.send(new PutSecretValueCommand({ SecretId: 'no-such-secret', SecretString: newValue('x') })), {
      name: 'ResourceNotFoundException',
    });
    assert.equal(h.local.secrets.values()[SECRET_ARN], newValue('c'));
  });

  test('a rotation refuses no token, and reaches a running process without a restart', async () => {
    let now = 1_000_000;
    const secret = new TokenSecret({ secretId: SECRET_ARN, client: secrets, now: () => now });
    const guard = new BindTokenGuard(secret, true);
    const before = await secret.keys();
    assert.equal(before.current.toString(), newValue('c'));
    assert.equal(before.previous?.toString(), newValue('b'));
    const oldToken = await guard.create(CLIENT);
    assert.equal(await guard.verify(CLIENT, oldToken), true);

    await rotate(newValue('e'));
    // Another process that has read the new version mints with it (the init sender, say).
    const elsewhere = new BindTokenGuard(new TokenSecret({ secretId: SECRET_ARN, client: secrets }), true);
    const newToken = await elsewhere.create(CLIENT);
    assert.equal(await elsewhere.verify(CLIENT, oldToken), true, 'the new process accepts the old version (AWSPREVIOUS)');
    assert.equal(await elsewhere.verify(CLIENT, newToken), true);

    // This process still has the old keys: within a minute of its read it does not read again...
    reads = 0;
    now += TOKEN_KEY_MISS_REFRESH_MS - 1;
    assert.equal(await guard.verify(CLIENT, newToken), false);
    assert.equal(reads, 0);
    // ...after that, a token none of its keys signed makes it read both versions again, once.
    now += 1;
    assert.equal(await guard.verify(CLIENT, newToken), true);
    assert.equal(reads, 2, 'AWSCURRENT and AWSPREVIOUS');
    assert.equal(await guard.verify(CLIENT, oldToken), true, 'still good: it is AWSPREVIOUS now');
    assert.equal(checkBindToken(Buffer.from(newValue('e')), CLIENT, await guard.create(CLIENT)), undefined, 'it mints with the new version');

    // A forged token costs at most one re-read a minute.
    reads = 0;
    for (let i = 0; i < 5; i++) assert.equal(await guard.verify(CLIENT, mintBindToken(Buffer.from(newValue('z')), CLIENT)), false);
    assert.equal(reads, 0);

    // Two rotations on, the first value is neither AWSCURRENT nor AWSPREVIOUS: its tokens are refused once the hour is up.
    await rotate(newValue('f'));
    now += TOKEN_KEY_REFRESH_MS;
    assert.equal(await guard.verify(CLIENT, oldToken), false);
    assert.equal((await secret.key()).toString(), newValue('f'), 'read again after an hour, without any token asking');
    assert.equal(await guard.verify(CLIENT, newToken), true);
    secret.destroy();
    elsewhere.destroy();
  });

  test('a previous version too short to be a key is left out; a current one is a ConfigurationError', async () => {
    const other = await GatewayHarness.start({ secrets: [{ arn: SECRET_ARN, name: 'rotation-key', value: 'short' }] });
    const client = new SecretsManagerClient({ endpoint: other.endpoints.httpUrl, region: other.endpoints.region, credentials: LOCAL_CREDENTIALS });
    try {
      await assert.rejects(
        new TokenSecret({ secretId: SECRET_ARN, client }).keys(),
        (error: unknown) => error instanceof ConfigurationError && /at least 32 bytes/.test(error.message),
      );
      await client.send(new PutSecretValueCommand({ SecretId: SECRET_ARN, SecretString: newValue('h') }));
      const keys = await new TokenSecret({ secretId: SECRET_ARN, client }).keys();
      assert.equal(keys.current.toString(), newValue('h'));
      assert.equal(keys.previous, undefined);
      assert.deepEqual(keys.all, [keys.current]);
    } finally {
      client.destroy();
      await other.stop();
    }
  });

  test('a failed re-read keeps the keys already read (and tries again a minute later); a failed first read is an error', async () => {
    const other = await GatewayHarness.start({ secrets: [{ arn: SECRET_ARN, name: 'rotation-key', value: newValue('g') }] });
    const client = new SecretsManagerClient({
      endpoint: other.endpoints.httpUrl,
      region: other.endpoints.region,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    let attempts = 0;
    client.middlewareStack.add((next) => async (args) => (attempts++, next(args)), { step: 'initialize' });
    let now = 0;
    const secret = new TokenSecret({ secretId: SECRET_ARN, client, now: () => now });
    try {
      const token = mintBindToken(Buffer.from(newValue('g')), CLIENT);
      const guard = new BindTokenGuard(secret, true);
      assert.equal(await guard.verify(CLIENT, token), true);
      await other.stop();
      now += TOKEN_KEY_REFRESH_MS;
      attempts = 0;
      assert.equal(await guard.verify(CLIENT, token), true, 'Secrets Manager unreachable: the keys read an hour ago still check tokens');
      assert.equal(attempts, 2, 'one failed re-read (both versions)');
      now += TOKEN_KEY_MISS_REFRESH_MS - 1;
      assert.equal(await guard.verify(CLIENT, token), true);
      assert.equal(attempts, 2, 'not tried again within the minute');
      now += 1;
      assert.equal(await guard.verify(CLIENT, token), true);
      assert.equal(attempts, 4, 'tried again a minute later');
      const unreadable = new TokenSecret({ secretId: SECRET_ARN, client });
      await assert.rejects(unreadable.keys(), ServiceError);
    } finally {
      client.destroy();
      await other.stop().catch(() => undefined);
    }
  });
});
