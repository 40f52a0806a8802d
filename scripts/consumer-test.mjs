#!/usr/bin/env node
// The consumer test (.ci/run): the package as a user gets it. Packs the project, then in scratch
// directories outside the repository:
//   1. an SDK-only production install (`npm install --omit=dev <tarball>`): its size, no aws-cdk-lib,
//      plain node imports and requires the SDK, and the command names the peers it lacks;
//   2. example/consumer-app (a CDK app: NodeNext, strict, no special flags, CommonJS as `cdk init`
//      makes it) with the tarball and aws-cdk-lib, constructs, aws-cdk, esbuild from the registry:
//      tsc type-checks and builds it, the construct refuses to synthesize without esbuild, `cdk synth`
//      bundles GatewayBackend with the app's Events module and the app's NodejsFunction (grantGateway),
//      the app's own test (LocalGateway on its cdk.out) passes, and the package's command serves the
//      app's cdk.out (a stack inside a Stage) for connect, init, bind and sendToUid;
//   3. the same app on the floor of the aws-cdk-lib and constructs peer ranges: tsc, synth, its test.
// Each step is timed; the table goes to stdout. Plain JavaScript: it runs before anything is built.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';

const root = fileURLToPath(new URL('..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'gateway-consumer-'));
const timings = [];
const facts = [];

function step(name, work) {
  const started = performance.now();
  console.log(`\n[consumer] ${name}`);
  const result = work();
  const finish = () => timings.push([name, (performance.now() - started) / 1000]);
  if (result instanceof Promise) return result.finally(finish);
  finish();
  return result;
}

/** Runs a command, streaming its output; throws with its output when it fails. */
function run(command, args, cwd, env = {}) {
  const result = spawnSync(command, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}) in ${cwd}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

function check(condition, message) {
  if (!condition) throw new Error(`consumer test: ${message}`);
}

const offline = { CDK_DISABLE_VERSION_CHECK: '1' };
const sdkImportCheck = "if (typeof sdk.Gateway.fromEnv !== 'function') process.exit(3); console.log('loaded', Object.keys(sdk).length, 'exports');";

try {
  const tarball = step('npm pack (runs the build)', () => {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
    );
    facts.push(
      `tarball ${packed.filename}: ${(packed.size / 1024).toFixed(0)} KiB packed, ${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${packed.entryCount} files`,
    );
    return join(scratch, packed.filename);
  });

  // ---- 1. SDK only ----
  const sdkOnly = join(scratch, 'sdk-only');
  step('SDK-only install (npm install --omit=dev <tarball>)', () => {
    mkdirSync(sdkOnly);
    writeFileSync(join(sdkOnly, 'package.json'), JSON.stringify({ name: 'sdk-only', version: '1.0.0', private: true }));
    run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', tarball], sdkOnly);
    const modules = join(sdkOnly, 'node_modules');
    check(!existsSync(join(modules, 'aws-cdk-lib')) && !existsSync(join(modules, 'constructs')), 'aws-cdk-lib or constructs reached an SDK-only install');
    for (const peer of [
      'dynalite',
      'ws',
      'esbuild',
      '@aws-sdk/client-apigatewaymanagementapi',
      '@aws-sdk/client-secrets-manager',
      '@aws-sdk/client-lambda',
      '@aws-lambda-powertools/metrics',
    ])
      check(!existsSync(join(modules, peer)), `the optional peer ${peer} reached an SDK-only install`);
    const kib = Number(run('du', ['-sk', modules], sdkOnly).split('\t')[0]);
    const apparent = run('du', ['-sh', '--apparent-size', modules], sdkOnly).split('\t')[0];
    const packages = readdirSync(modules).flatMap((name) =>
      name.startsWith('@') ? readdirSync(join(modules, name)) : name.startsWith('.') ? [] : [name],
    ).length;
    const bytes = kib * 1024;
    facts.push(
      `SDK-only install: ${(bytes / 1e6).toFixed(1)} MB = ${(kib / 1024).toFixed(1)} MiB on disk (du -sk ${kib}), ${apparent} apparent, ${packages} packages, no aws-cdk-lib`,
    );
    // Issue 13's bound is 25 MB (10^6 bytes), what a reader of du -sh's "25M" would not take for more.
    check(bytes < 25_000_000, `the SDK-only install is ${bytes} bytes on disk (${kib} KiB), over 25 MB`);
  });
  step('SDK-only: plain node imports (ESM) and requires (CommonJS) the SDK', () => {
    run(process.execPath, ['--input-type=module', '-e', `import * as sdk from 'serverless-gateway-worker'; ${sdkImportCheck}`], sdkOnly);
    run(process.execPath, ['-e', `const sdk = require('serverless-gateway-worker'); ${sdkImportCheck}`], sdkOnly);
    // One name for the SDK (the root), and its internals (table key definitions, the signer) not on it.
    const alias = spawnSync(process.execPath, ['--input-type=module', '-e', "import('serverless-gateway-worker/sdk')"], { cwd: sdkOnly, encoding: 'utf8' });
    check(alias.status !== 0 && /ERR_PACKAGE_PATH_NOT_EXPORTED/.test(alias.stderr), `serverless-gateway-worker/sdk still resolves: status ${alias.status}`);
    run(
      process.execPath,
      ['--input-type=module', '-e', "import * as sdk from 'serverless-gateway-worker'; if ('GatewayTables' in sdk || 'SigV4Signer' in sdk) process.exit(3);"],
      sdkOnly,
    );
  });
  step('SDK-only: bind tokens without @aws-sdk/client-secrets-manager fail with the install command', () => {
    const script = [
      "import { ConfigurationError, Gateway } from 'serverless-gateway-worker';",
      "const tables = Object.fromEntries(['connections', 'sessions', 'memberships', 'uids', 'groups'].map((role) => [role, `app-${role}`]));",
      "const gateway = new Gateway({ callbackUrl: 'http://127.0.0.1:9/prod', region: 'us-east-1', tables,",
      "  credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, bindTokenSecret: 'gateway-bind-token' });",
      "const outcome = await gateway.createBindToken('AAAAAAAAAAAAAAA=').then(() => 'created', (error) => error);",
      'gateway.destroy();',
      'if (!(outcome instanceof ConfigurationError) || !/npm install @aws-sdk\\/client-secrets-manager/.test(outcome.message)) { console.error(outcome); process.exit(4); }',
    ].join('\n');
    run(process.execPath, ['--input-type=module', '-e', script], sdkOnly);
  });
  step("SDK-only: a chunked send invokes the worker with the SDK's own signed Invoke; a LambdaClient-like fanout.lambda fails with the install command", () => {
    const script = [
      "import { createServer } from 'node:http';",
      "import { ConfigurationError, Gateway } from 'serverless-gateway-worker';",
      "const tables = Object.fromEntries(['connections', 'sessions', 'memberships', 'uids', 'groups'].map((role) => [role, `app-${role}`]));",
      'const seen = [];',
      "const server = createServer((req, res) => { req.resume(); req.on('end', () => { seen.push(req.url + ' ' + req.headers['x-amz-invocation-type'] + ' ' + /Credential=a\\/\\d{8}\\/us-east-1\\/lambda\\//.test(req.headers.authorization)); res.writeHead(202).end(); }); });",
      "await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));",
      'process.env.AWS_ENDPOINT_URL_LAMBDA = `http://127.0.0.1:${server.address().port}`;',
      "const options = { callbackUrl: 'http://127.0.0.1:9/prod', region: 'us-east-1', tables, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } };",
      "const clientIds = ['AAAAAAAAAAAAAAA=', 'BBBBBBBBBBBBBBB='];",
      "const gateway = new Gateway({ ...options, fanout: { functionName: 'worker', threshold: 0 } });",
      "const report = await gateway.sendToAll('hi', { clientIds });",
      'gateway.destroy();',
      "if (report.queued?.chunks !== 1 || seen.join() !== '/2015-03-31/functions/worker/invocations Event true') { console.error(report, seen); process.exit(5); }",
      'const sdkLike = { middlewareStack: { add() {} }, send: async () => ({ StatusCode: 202 }) };',
      "const other = new Gateway({ ...options, fanout: { functionName: 'worker', threshold: 0, lambda: sdkLike } });",
      "const refused = await other.sendToAll('hi', { clientIds });",
      'other.destroy();',
      'server.close();',
      'const error = refused.failed[0]?.error;',
      'if (!(error instanceof ConfigurationError) || !/npm install @aws-sdk\\/client-lambda/.test(error.message)) { console.error(refused); process.exit(6); }',
    ].join('\n');
    run(process.execPath, ['--input-type=module', '-e', script], sdkOnly);
  });
  step('SDK-only: the command names the peers it lacks', () => {
    const bin = spawnSync(join(sdkOnly, 'node_modules/.bin/serverless-gateway-worker'), ['--port', '0'], { cwd: sdkOnly, encoding: 'utf8' });
    check(
      bin.status === 1 && /npm install --save-dev dynalite ws @aws-sdk\/client-apigatewaymanagementapi$/m.test(bin.stderr),
      `the command without peers: status ${bin.status}, ${bin.stderr}`,
    );
  });

  // ---- 2. the CDK app ----
  const app = join(scratch, 'app');
  step('app: npm install (the tarball; aws-cdk-lib, constructs, aws-cdk, esbuild, typescript from the registry)', () => {
    cpSync(join(root, 'example/consumer-app'), app, { recursive: true, filter: (path) => !/\/(node_modules|build|cdk\.out)(\/|$)/.test(path) });
    run('npm', ['pkg', 'set', `dependencies.serverless-gateway-worker=file:${tarball}`], app);
    run('npm', ['install', '--no-audit', '--no-fund'], app);
  });
  step('app: tsc (type-check and build; strict, NodeNext, noImplicitReturns, no skipLibCheck)', () => run('npx', ['--no-install', 'tsc', '-p', '.'], app));
  step('app: plain node imports and requires every export', () => {
    const names = [
      'serverless-gateway-worker',
      'serverless-gateway-worker/events',
      'serverless-gateway-worker/cdk',
      'serverless-gateway-worker/local',
      'serverless-gateway-worker/metrics',
      'serverless-gateway-worker/browser',
      'serverless-gateway-worker/echo',
    ];
    run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `${names.map((n, i) => `import * as m${i} from '${n}';`).join(' ')} if (typeof m2.GatewayBackend !== 'function' || typeof m3.LocalGateway !== 'function' || typeof m4.GatewayMetrics !== 'function' || typeof m5.connect !== 'function' || typeof m6.GatewayConnector !== 'function') process.exit(3);`,
      ],
      app,
    );
    run(
      process.execPath,
      [
        '-e',
        `for (const n of ${JSON.stringify(names)}) require(n); if (typeof require('serverless-gateway-worker/cdk').GatewayBackend !== 'function') process.exit(3);`,
      ],
      app,
    );
  });
  step('app: synth without esbuild fails with the install command', () => {
    const hidden = join(app, 'node_modules/.esbuild-hidden');
    renameSync(join(app, 'node_modules/esbuild'), hidden);
    try {
      // The app run directly (what `cdk synth` runs), with no node_modules/.bin on PATH.
      const synth = spawnSync(process.execPath, ['build/bin/app.js'], {
        cwd: app,
        encoding: 'utf8',
        env: { ...process.env, CDK_OUTDIR: join(scratch, 'no-esbuild.out') },
      });
      check(
        synth.status !== 0 && /npm install --save-dev esbuild/.test(synth.stderr),
        `synth without esbuild: status ${synth.status}, ${synth.stderr.slice(-500)}`,
      );
    } finally {
      renameSync(hidden, join(app, 'node_modules/esbuild'));
    }
  });
  step('app: cdk synth (GatewayBackend + Events module + NodejsFunction with grantGateway, in a Stage)', () => {
    run('npx', ['--no-install', 'cdk', 'synth', '--quiet'], app, offline);
    check(existsSync(join(app, 'cdk.out/assembly-Dev/manifest.json')), 'no nested assembly for the Dev stage');
  });
  step("app: its own test (node --test: LocalGateway on the app's cdk.out)", () => {
    const output = run('npm', ['test'], app);
    check(/# pass 2\b/.test(output) && /# fail 0\b/.test(output), `the app's test:\n${output}`);
  });
  await step('app: npx serverless-gateway-worker --assembly cdk.out: connect, init, bind, sendToUid', () => commandRoundTrip(app));
  step(
    `app on the peer ranges' floor (aws-cdk-lib ${peerFloor('aws-cdk-lib')}, constructs ${peerFloor('constructs')}): npm install, tsc, cdk synth, its own test`,
    () => floorRoundTrip(join(scratch, 'app-floor'), tarball),
  );

  console.log('\n[consumer] passed');
  for (const fact of facts) console.log(`  ${fact}`);
  console.log('\n  step                                                                                   seconds');
  for (const [name, seconds] of timings) console.log(`  ${name.padEnd(88)} ${seconds.toFixed(1).padStart(6)}`);
  console.log(
    `  ${'total'.padEnd(88)} ${timings
      .reduce((sum, [, s]) => sum + s, 0)
      .toFixed(1)
      .padStart(6)}`,
  );
  rmSync(scratch, { recursive: true, force: true });
} catch (error) {
  console.error(`\n[consumer] FAILED; the scratch directories are kept in ${scratch}`);
  console.error(error);
  process.exit(1);
}

/** The lowest version a peer range of package.json admits (`^2.252.0` -> `2.252.0`). */
function peerFloor(name) {
  const range = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).peerDependencies[name];
  const floor = /^(?:\^|>=\s*)?(\d+\.\d+\.\d+)$/.exec(range ?? '')?.[1];
  check(floor, `the peer range of ${name} (${range}) has no plain floor to test`);
  return floor;
}

/**
 * The same app on the oldest aws-cdk-lib and constructs the peer ranges admit: the declared floor is
 * proved, not guessed. aws-cdk-lib before 2.269 refuses the construct's IAM5 acknowledgment ids through
 * Validations.acknowledge, so the synthesized metadata must still carry them (cdk/nagFindingId.ts).
 */
function floorRoundTrip(app, tarball) {
  const cdkFloor = peerFloor('aws-cdk-lib');
  // A fresh copy: npm downgrading aws-cdk-lib in place leaves a tree whose types do not resolve.
  cpSync(join(root, 'example/consumer-app'), app, { recursive: true, filter: (path) => !/\/(node_modules|build|cdk\.out)(\/|$)/.test(path) });
  run(
    'npm',
    [
      'pkg',
      'set',
      `dependencies.serverless-gateway-worker=file:${tarball}`,
      `dependencies.aws-cdk-lib=${cdkFloor}`,
      `dependencies.constructs=${peerFloor('constructs')}`,
    ],
    app,
  );
  run('npm', ['install', '--no-audit', '--no-fund'], app);
  check(JSON.parse(readFileSync(join(app, 'node_modules/aws-cdk-lib/package.json'), 'utf8')).version === cdkFloor, `aws-cdk-lib ${cdkFloor} was not installed`);
  run('npx', ['--no-install', 'tsc', '-p', '.'], app);
  run('npx', ['--no-install', 'cdk', 'synth', '--quiet'], app, offline);
  const metadata = readdirSync(join(app, 'cdk.out/assembly-Dev')).find((name) => name.endsWith('.metadata.json'));
  check(
    metadata && /AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>/.test(readFileSync(join(app, 'cdk.out/assembly-Dev', metadata), 'utf8')),
    `no IAM5 acknowledgment in the synthesized metadata on aws-cdk-lib ${cdkFloor}`,
  );
  const output = run('npm', ['test'], app);
  check(/# pass 2\b/.test(output) && /# fail 0\b/.test(output), `the app's test on aws-cdk-lib ${cdkFloor}:\n${output}`);
  facts.push(`aws-cdk-lib ${cdkFloor} (the peer floor): the app type-checks, synthesizes and passes its own test`);
}

/** Starts the package's command on the app's cdk.out and drives one client through it. */
async function commandRoundTrip(app) {
  const child = spawn(
    'npx',
    ['--no-install', 'serverless-gateway-worker', '--assembly', 'cdk.out', '--stack', 'Dev/Chat', '--port', '0', '--dynamo-port', '0', '--quiet'],
    {
      cwd: app,
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    },
  );
  try {
    const output = await new Promise((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (chunk) => {
        text += chunk;
        if (text.includes('Ctrl-C stops the gateway')) resolve(text);
      });
      child.once('exit', (code) => reject(new Error(`the command exited with ${code}:\n${text}`)));
    });
    const env = Object.fromEntries([...output.matchAll(/^\s*export (\w+)=(\S*)$/gm)].map((m) => [m[1], m[2]]));
    const wsUrl = /WebSocket URL\s+(ws:\/\/\S+)/.exec(output)?.[1];
    const functions = /functions: ([^)]*)\)/.exec(output)?.[1]?.split(', ') ?? [];
    const pusher = functions.find((name) => /Pusher/.test(name));
    check(
      wsUrl && env.GATEWAY_CALLBACK_URL && env.GATEWAY_CONNECTIONS_TABLE && env.AWS_ENDPOINT_URL_DYNAMODB,
      `the command printed no usable environment:\n${output}`,
    );
    check(pusher, `the app's Pusher function is not served: ${functions.join(', ')}`);

    const client = await openClient(`${wsUrl}?token=t&user=alice`);
    try {
      const init = JSON.parse(await client.next());
      check(init.type === 'init' && init.client_id && init.bind_token, `no init message with a bind token: ${JSON.stringify(init)}`);
      // A backend process with the printed environment: bindUid (with the init message's bind token), then sendToUid.
      const sent = run(process.execPath, ['build/src/backend.js', init.client_id, init.bind_token, 'alice', 'from the backend'], app, env);
      check(JSON.parse(sent).sent === 1, `the backend sent ${sent}`);
      check(JSON.parse(await client.next()).text === 'from the backend', 'the backend push did not arrive');
      // The app's own Lambda (grantGateway) through the gateway's Lambda API.
      const lambda = new LambdaClient({
        endpoint: env.AWS_ENDPOINT_URL_LAMBDA,
        region: env.AWS_REGION,
        credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'local', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'local' },
      });
      const invoked = await lambda.send(new InvokeCommand({ FunctionName: pusher, Payload: JSON.stringify({ uid: 'alice', text: 'from the Pusher Lambda' }) }));
      check(!invoked.FunctionError, `the Pusher failed: ${Buffer.from(invoked.Payload ?? []).toString()}`);
      check(JSON.parse(await client.next()).text === 'from the Pusher Lambda', 'the Pusher push did not arrive');
      // Any other language: the Gateway API, named by the printed GATEWAY_API_FUNCTION.
      check(env.GATEWAY_API_FUNCTION, `the command printed no GATEWAY_API_FUNCTION:\n${output}`);
      const message = JSON.stringify({ text: 'from the Gateway API' });
      const api = await lambda.send(
        new InvokeCommand({ FunctionName: env.GATEWAY_API_FUNCTION, Payload: JSON.stringify({ method: 'sendToUid', args: ['alice', message] }) }),
      );
      const answer = JSON.parse(Buffer.from(api.Payload ?? []).toString());
      check(answer.ok && answer.result.sent.length === 1, `the Gateway API answered ${JSON.stringify(answer)}`);
      check(JSON.parse(await client.next()).text === 'from the Gateway API', 'the Gateway API push did not arrive');
      lambda.destroy();
      facts.push(
        `the command served ${functions.length} functions from cdk.out/assembly-Dev; init, bind, sendToUid from a backend, from the Pusher Lambda and through the Gateway API arrived`,
      );
    } finally {
      client.close();
    }
  } finally {
    // npx runs the command in a child of its own: stop the whole group.
    try {
      process.kill(-child.pid, 'SIGINT');
    } catch {}
    await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve()));
  }
}

/** A WebSocket client (Node's global WebSocket) that hands out its messages in order, with a timeout. */
async function openClient(url) {
  const socket = new WebSocket(url);
  const received = [];
  const waiters = [];
  socket.addEventListener('message', (event) => {
    received.push(String(event.data));
    waiters.shift()?.();
  });
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', () => reject(new Error(`${url}: the connection failed`)), { once: true });
  });
  return {
    async next(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length === 0) {
        if (Date.now() > deadline) throw new Error('no message within the timeout');
        await new Promise((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 250);
        });
      }
      return received.shift();
    },
    close: () => socket.close(),
  };
}
