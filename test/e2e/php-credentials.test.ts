/**
 * PHP's GatewayClient finds AWS credentials as PHP apps on AWS have them (clients/php/Credentials):
 * each source of the default chain against a loopback stand-in written here (never the real
 * 169.254.x addresses): the environment, the shared config and credentials files (profiles,
 * AWS_PROFILE, a role assumed with a source_profile's keys at STS), web identity
 * (AssumeRoleWithWebIdentity at AWS_ENDPOINT_URL_STS), ECS container credentials (a full URI and an
 * authorization token file), EC2 instance metadata (IMDSv2: a token PUT, then GETs carrying it);
 * credentials kept until 5 minutes before they expire; and the clock-skew correction (a 403
 * "Signature expired" answered once more, signed with the offset from the answer's Date).
 * One stand-in server plays Lambda, STS, the container endpoint and instance metadata.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const DRIVER = fileURLToPath(new URL('../helpers/php/gateway-calls.php', import.meta.url));
const execFileAsync = promisify(execFile);

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

type Outcome = { ok: true; value: unknown } | { ok: false; errorCode?: string; message: string };

/** The stand-in's behaviour, changed by each test. */
interface Script {
  /** Lambda: answers 403 "Signature expired" with this Date (ms) while `skewedAnswers` > 0. */
  serverClockMs?: number;
  skewedAnswers?: number;
  /** The container endpoint's and instance metadata's Expiration. */
  expiresAt?: Date;
  /** STS answers AssumeRole with 403 AccessDenied. */
  stsDenies?: boolean;
}

const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

function stsCredentials(action: string, keyId: string): string {
  return `<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><${action}Result><Credentials>
  <AccessKeyId>${keyId}</AccessKeyId><SecretAccessKey>secret-${keyId}</SecretAccessKey><SessionToken>token-${keyId}</SessionToken>
  <Expiration>${iso(new Date(Date.now() + 3_600_000))}</Expiration></Credentials></${action}Result></${action}Response>`;
}

describe("PHP's GatewayClient: the AWS credential chain, each source on a loopback stand-in", { timeout: 120_000 }, () => {
  let server: Server;
  let base: string;
  let seen: Seen[] = [];
  let script: Script = {};
  const home = mkdtempSync(join(tmpdir(), 'php-credentials-'));
  const emptyHome = mkdtempSync(join(tmpdir(), 'php-credentials-empty-'));

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        const url = req.url!;
        const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(value));
        };
        if (url.startsWith('/lambda/')) {
          if ((script.skewedAnswers ?? 0) > 0) {
            script.skewedAnswers!--;
            const date = new Date(script.serverClockMs!);
            json(
              403,
              {
                message: `Signature expired: 20200101T000000Z is now earlier than ${iso(date).replace(/[-:]/g, '')} (${iso(date).replace(/[-:]/g, '')} - 5 min.)`,
              },
              { 'x-amzn-ErrorType': 'InvalidSignatureException', date: date.toUTCString() },
            );
            return;
          }
          json(200, { ok: true, result: 7 });
        } else if (url === '/sts') {
          const form = new URLSearchParams(body);
          if (form.get('Action') === 'AssumeRole' && script.stsDenies) {
            res.writeHead(403, { 'content-type': 'text/xml' });
            res.end(
              '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole</Message></Error></ErrorResponse>',
            );
            return;
          }
          res.writeHead(200, { 'content-type': 'text/xml' });
          res.end(stsCredentials(form.get('Action')!, form.get('Action') === 'AssumeRole' ? 'ASIAROLE' : 'ASIAWEBIDENTITY'));
        } else if (url === '/ecs/credentials') {
          if (req.headers.authorization !== 'container-token') return json(401, { message: 'no token' });
          json(200, {
            AccessKeyId: 'ASIAECS',
            SecretAccessKey: 'secret-ecs',
            Token: 'token-ecs',
            Expiration: iso(script.expiresAt ?? new Date(Date.now() + 3_600_000)),
          });
        } else if (url === '/imds/latest/api/token' && req.method === 'PUT') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(req.headers['x-aws-ec2-metadata-token-ttl-seconds'] === '21600' ? 'imds-session-token' : 'wrong-ttl');
        } else if (url.startsWith('/imds/latest/meta-data/iam/security-credentials/')) {
          if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-session-token') return json(401, {});
          if (url.endsWith('/')) {
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end('app-instance-role');
            return;
          }
          if (!url.endsWith('/app-instance-role')) return json(404, {});
          json(200, {
            Code: 'Success',
            Type: 'AWS-HMAC',
            AccessKeyId: 'ASIAIMDS',
            SecretAccessKey: 'secret-imds',
            Token: 'token-imds',
            Expiration: iso(script.expiresAt ?? new Date(Date.now() + 3_600_000)),
          });
        } else {
          json(404, { message: `the stand-in has nothing at ${url}` });
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server?.close());

  /** Gateway calls in one php-cli process with exactly this environment (plus the Lambda stand-in and no instance metadata unless given). */
  async function php(env: Record<string, string>, calls: unknown[][] = [['getAllClientCount']]): Promise<Outcome[]> {
    seen = [];
    const child = execFileAsync('php', [DRIVER], {
      env: {
        PATH: '/usr/bin:/bin',
        HOME: emptyHome,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_REGION: 'eu-west-3',
        GATEWAY_API_FUNCTION: 'gateway-api',
        AWS_ENDPOINT_URL_LAMBDA: `${base}/lambda`,
        ...env,
      },
    });
    child.child.stdin!.end(JSON.stringify({ statics: {}, calls }));
    return JSON.parse((await child).stdout) as Outcome[];
  }

  const lambdaRequests = () => seen.filter((r) => r.url.startsWith('/lambda/'));
  /** The access key id and session token the Lambda invocation was signed with. */
  function signedWith(index = 0): { keyId: string; region: string; token: unknown } {
    const request = lambdaRequests()[index];
    assert.ok(request, `no Lambda request ${index}: ${JSON.stringify(seen.map((r) => r.url))}`);
    const m = /Credential=([^/]+)\/\d{8}\/([^/]+)\/lambda\/aws4_request/.exec(String(request.headers.authorization));
    assert.ok(m, String(request.headers.authorization));
    return { keyId: m[1]!, region: m[2]!, token: request.headers['x-amz-security-token'] };
  }

  function files(name: string, credentials: string, config = ''): Record<string, string> {
    const dir = mkdtempSync(join(home, `${name}-`));
    writeFileSync(join(dir, 'credentials'), credentials);
    writeFileSync(join(dir, 'config'), config);
    return { AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'), AWS_CONFIG_FILE: join(dir, 'config') };
  }

  test('the environment comes first, before any profile', async () => {
    const shared = files('env-first', '[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = secret\n');
    const [outcome] = await php({ ...shared, AWS_ACCESS_KEY_ID: 'AKIDENV', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: 'token-env' });
    assert.deepEqual(outcome, { ok: true, value: 7, export: '7', notices: [] });
    assert.deepEqual(signedWith(), { keyId: 'AKIDENV', region: 'eu-west-3', token: 'token-env' });
  });

  test('shared files: [default], AWS_PROFILE with [profile x] in the config file, the credentials file winning, the profile region', async () => {
    const shared = files(
      'profiles',
      '# comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = secret ; inline comment\n\n[dev]\naws_access_key_id = AKIDDEVCREDS\naws_secret_access_key = secret\naws_session_token = token-dev\n',
      '[default]\nregion = us-west-2\n[profile dev]\naws_access_key_id = AKIDDEVCONFIG\naws_secret_access_key = other\nregion = ap-south-1\ns3 =\n  max_concurrent_requests = 10\n',
    );
    await php(shared);
    assert.deepEqual(signedWith(), { keyId: 'AKIDDEFAULT', region: 'eu-west-3', token: undefined });
    await php({ ...shared, AWS_PROFILE: 'dev', AWS_REGION: '' });
    assert.deepEqual(signedWith(), { keyId: 'AKIDDEVCREDS', region: 'ap-south-1', token: 'token-dev' }, 'the profile region serves when AWS_REGION is unset');
    const [missing] = await php({ ...shared, AWS_PROFILE: 'nope' });
    assert.equal((missing as { errorCode?: string }).errorCode, 'CREDENTIALS');
    assert.match((missing as { message: string }).message, /AWS_PROFILE names the profile nope/);
  });

  test('a role_arn profile: STS AssumeRole signed with the source_profile keys, at AWS_ENDPOINT_URL_STS; STS refusing is a CREDENTIALS error', async () => {
    const shared = files(
      'role',
      '[base]\naws_access_key_id = AKIDSOURCE\naws_secret_access_key = secret\n',
      '[profile app]\nrole_arn = arn:aws:iam::123456789012:role/push\nsource_profile = base\nrole_session_name = php-app\nexternal_id = ext-1\n[profile loop-a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = loop-b\n[profile loop-b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = loop-a\n',
    );
    const env = { ...shared, AWS_PROFILE: 'app', AWS_ENDPOINT_URL_STS: `${base}/sts` };
    await php(env);
    const sts = seen.find((r) => r.url === '/sts')!;
    const form = Object.fromEntries(new URLSearchParams(sts.body));
    assert.deepEqual(form, {
      Action: 'AssumeRole',
      Version: '2011-06-15',
      RoleArn: 'arn:aws:iam::123456789012:role/push',
      RoleSessionName: 'php-app',
      DurationSeconds: '3600',
      ExternalId: 'ext-1',
    });
    assert.match(String(sts.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDSOURCE\/\d{8}\/eu-west-3\/sts\/aws4_request, /);
    assert.deepEqual(signedWith(), { keyId: 'ASIAROLE', region: 'eu-west-3', token: 'token-ASIAROLE' });

    script = { stsDenies: true };
    const [denied] = await php(env);
    script = {};
    assert.equal((denied as { errorCode?: string }).errorCode, 'CREDENTIALS');
    assert.match((denied as { message: string }).message, /STS refused role arn:aws:iam::123456789012:role\/push: AccessDenied/);
    assert.equal(lambdaRequests().length, 0, 'nothing was invoked');

    const [loop] = await php({ ...env, AWS_PROFILE: 'loop-a' });
    assert.match((loop as { message: string }).message, /loop-a -> loop-b -> loop-a form a source_profile loop/);
  });

  test('web identity: the token file exchanged at STS (unsigned AssumeRoleWithWebIdentity); an unreadable file is a CREDENTIALS error', async () => {
    const tokenFile = join(mkdtempSync(join(home, 'web-')), 'token');
    writeFileSync(tokenFile, 'eyJ.web-identity.token\n');
    const env = {
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/eks-push',
      AWS_ROLE_SESSION_NAME: 'pod-1',
      AWS_ENDPOINT_URL_STS: `${base}/sts`,
    };
    await php(env);
    const sts = seen.find((r) => r.url === '/sts')!;
    assert.deepEqual(Object.fromEntries(new URLSearchParams(sts.body)), {
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: 'arn:aws:iam::123456789012:role/eks-push',
      RoleSessionName: 'pod-1',
      WebIdentityToken: 'eyJ.web-identity.token',
    });
    assert.equal(sts.headers.authorization, undefined, 'the token is the proof: not signed');
    assert.deepEqual(signedWith(), { keyId: 'ASIAWEBIDENTITY', region: 'eu-west-3', token: 'token-ASIAWEBIDENTITY' });
    const [unreadable] = await php({ ...env, AWS_WEB_IDENTITY_TOKEN_FILE: join(home, 'no-such-token') });
    assert.equal((unreadable as { errorCode?: string }).errorCode, 'CREDENTIALS');
    assert.equal(seen.length, 0);
  });

  test('container credentials: the full URI with the token file as Authorization; plain http off loopback is refused before any request', async () => {
    const tokenFile = join(mkdtempSync(join(home, 'ecs-')), 'token');
    writeFileSync(tokenFile, 'container-token');
    await php({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/ecs/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile });
    assert.equal(seen[0]!.url, '/ecs/credentials');
    assert.deepEqual(signedWith(), { keyId: 'ASIAECS', region: 'eu-west-3', token: 'token-ecs' });
    await php({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/ecs/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'container-token' });
    assert.equal(signedWith().keyId, 'ASIAECS', 'the token straight from the environment');
    const [refused] = await php({ AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://credentials.invalid/creds' });
    assert.equal((refused as { errorCode?: string }).errorCode, 'CREDENTIALS');
    assert.match((refused as { message: string }).message, /must be https, or http to a loopback address/);
    const [unauthorized] = await php({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/ecs/credentials` });
    assert.match((unauthorized as { message: string }).message, /answered 401/);
  });

  test("container credentials: the relative URI is asked of ECS's agent address (the URL only, nothing sent)", async () => {
    const code = `require 'clients/php/Gateway.php'; echo GatewayClient\\Credentials\\ContainerCredentials::endpoint(fn ($n) => ['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI' => '/v2/credentials/abc'][$n] ?? null);`;
    const { stdout } = await execFileAsync('php', ['-r', code]);
    assert.equal(stdout, 'http://169.254.170.2/v2/credentials/abc');
  });

  test('instance metadata (IMDSv2): a session token PUT, then the role and its credentials with it; disabled, no credentials at all', async () => {
    await php({ AWS_EC2_METADATA_DISABLED: '', AWS_EC2_METADATA_SERVICE_ENDPOINT: `${base}/imds` });
    assert.deepEqual(
      seen.slice(0, 3).map((r) => [r.method, r.url, r.headers['x-aws-ec2-metadata-token'] ?? null]),
      [
        ['PUT', '/imds/latest/api/token', null],
        ['GET', '/imds/latest/meta-data/iam/security-credentials/', 'imds-session-token'],
        ['GET', '/imds/latest/meta-data/iam/security-credentials/app-instance-role', 'imds-session-token'],
      ],
    );
    assert.deepEqual(signedWith(), { keyId: 'ASIAIMDS', region: 'eu-west-3', token: 'token-imds' });
    const regionOnly = files('region-only', '', '[default]\nregion = eu-west-3\n');
    await php({ ...regionOnly, AWS_EC2_METADATA_DISABLED: '', AWS_EC2_METADATA_SERVICE_ENDPOINT: `${base}/imds` });
    assert.equal(signedWith().keyId, 'ASIAIMDS', 'a profile that only sets the region leaves credentials to the next source');
    const processProfile = files('process', '', '[default]\ncredential_process = /usr/bin/false\n');
    const [notRun] = await php(processProfile);
    assert.equal((notRun as { errorCode?: string }).errorCode, 'CREDENTIALS');
    assert.match((notRun as { message: string }).message, /credential_process or SSO, which this client does not run/);
    const [none] = await php({});
    assert.equal((none as { errorCode?: string }).errorCode, 'CONFIGURATION');
    assert.match((none as { message: string }).message, /no AWS credentials/);
    assert.equal(seen.length, 0, 'AWS_EC2_METADATA_DISABLED=true: metadata not asked');
  });

  test('credentials are kept for the process, and fetched again within 5 minutes of their expiry', async () => {
    const env = { AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/ecs/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'container-token' };
    const three = [['getAllClientCount'], ['getAllClientCount'], ['getAllClientCount']];
    script = { expiresAt: new Date(Date.now() + 3_600_000) };
    await php(env, three);
    assert.equal(seen.filter((r) => r.url === '/ecs/credentials').length, 1, 'an hour left: fetched once for three calls');
    script = { expiresAt: new Date(Date.now() + 120_000) };
    await php(env, three);
    script = {};
    assert.equal(seen.filter((r) => r.url === '/ecs/credentials').length, 3, 'two minutes left: fetched again for every call');
  });

  test('clock skew: a 403 "Signature expired" is signed again once with the offset from its Date; a second one is reported', async () => {
    const env = { AWS_ACCESS_KEY_ID: 'AKIDENV', AWS_SECRET_ACCESS_KEY: 'secret' };
    const serverClockMs = Date.now() + 3 * 3_600_000;
    script = { serverClockMs, skewedAnswers: 1 };
    const [corrected] = await php(env, [['getAllClientCount'], ['getAllClientCount']]);
    assert.equal((corrected as { value?: unknown }).value, 7);
    const dates = lambdaRequests().map((r) => String(r.headers['x-amz-date']));
    assert.equal(dates.length, 3, 'the refused request, its retry, and the next call');
    const parse = (d: string) => Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +d.slice(9, 11), +d.slice(11, 13), +d.slice(13, 15));
    assert.ok(Math.abs(parse(dates[0]!) - Date.now()) < 3_600_000, 'first signed with this host clock');
    for (const date of dates.slice(1)) assert.ok(Math.abs(parse(date) - serverClockMs) < 60_000, `signed with the corrected clock: ${date}`);

    script = { serverClockMs, skewedAnswers: 5 };
    const [refused] = await php(env);
    script = {};
    assert.equal((refused as { errorCode?: string }).errorCode, 'FORBIDDEN');
    assert.equal(lambdaRequests().length, 2, 'signed again once, not more');
  });
});
