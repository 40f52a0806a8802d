// `npm start`: the command-line gateway prints URLs that a real WebSocket client can use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connect } from '../helpers/wsClient.ts';
import { readFileSync } from 'node:fs';
import { createFunctionConsole, emfMetrics } from '../../local/functionConsole.ts';
import { parseCommandLine, UsageError } from '../../local/commandLine.ts';
import { checkGatewayArguments, GATEWAY_COMMAND } from '../../local/gatewayCommand.ts';

/** The CLIs' environment: no $PORT, so the default ports apply unless a test passes options. */
function cliEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.PORT;
  return env;
}

// The scripts below are named relative to test/ (`../local/cli.ts`), where this file was written.
const SCRIPTS_BASE = new URL('../', import.meta.url);

/** Starts a CLI script and resolves with its output once it is ready; stop() resolves with all it wrote to stdout. */
async function startCli(script: string, args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(script, SCRIPTS_BASE)), ...args], {
    env: cliEnvironment(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (/Ctrl-C stops/.test(output)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${output}`)));
  });
  const ready = output;
  return {
    output: ready,
    async stop(): Promise<string> {
      child.kill('SIGINT');
      await new Promise((resolve) => child.once('exit', resolve));
      return output;
    },
  };
}

test('npm start serves the synthesized app and the example page: a client connects and gets init', async () => {
  const cli = await startCli('../example/start.ts', ['--port', '0', '--dynamo-port', '0', '--web-port', '0', '--quiet']);
  try {
    const wsUrl = /WebSocket URL\s+(ws:\/\/\S+)/.exec(cli.output)?.[1];
    const pageUrl = /Example page\s+(http:\/\/\S+)/.exec(cli.output)?.[1];
    assert.ok(wsUrl && pageUrl, cli.output);
    assert.match(cli.output, /export GATEWAY_CALLBACK_URL=http:\/\/127\.0\.0\.1:\d+\/prod/);
    assert.match(cli.output, /export GATEWAY_CONNECTIONS_TABLE=\S+/);
    const page = await fetch(pageUrl);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>/);
    const ws = await connect(wsUrl);
    assert.equal((await ws.json(0, 15_000)).type, 'init');
    await ws.close();
  } finally {
    const everything = await cli.stop();
    // The functions' EMF records (one per connect) are summed into one line, not printed one by one.
    assert.doesNotMatch(everything, /"_aws"/);
    assert.match(everything, /^metrics: \d+ EMF records? from the functions: \S+=\d+/m);
  }
});

test('the CLI prints a ws:// URL, a callback URL and the backend environment; a client connects and gets init', async () => {
  const cli = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../../local/cli.ts', import.meta.url)), '--port', '0', '--dynamo-port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    let output = '';
    await new Promise<void>((resolve, reject) => {
      cli.stdout.on('data', (chunk) => {
        output += chunk;
        if (output.includes('Ctrl-C stops the gateway')) resolve();
      });
      cli.once('exit', (code) => reject(new Error(`the CLI exited with ${code}: ${output}`)));
    });
    const wsUrl = /WebSocket URL\s+(ws:\/\/\S+)/.exec(output)?.[1];
    assert.ok(wsUrl, output);
    assert.match(output, /Callback URL\s+http:\/\/127\.0\.0\.1:\d+\/local/);
    assert.match(output, /export AWS_ENDPOINT_URL_DYNAMODB=http:\/\/127\.0\.0\.1:\d+/);
    const ws = await connect(wsUrl);
    const init = await ws.json(0, 15_000);
    assert.equal(init.type, 'init');
    assert.match(init.client_id, /^[A-Za-z0-9_-]{15}=$/);
    await ws.close();
  } finally {
    cli.kill('SIGINT');
    await new Promise((resolve) => cli.once('exit', resolve));
  }
});

/**
 * Makes sure a port on 127.0.0.1 is taken while a test runs: listens on it, or leaves it to whoever
 * already holds it (taken either way). `port` 0 takes a free port and reports which.
 */
async function takePort(port: number): Promise<{ port: number; release(): Promise<void> }> {
  const server: Server = createServer();
  const listening = await new Promise<boolean>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(false) : reject(error)));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  const taken = listening ? (server.address() as { port: number }).port : port;
  return { port: taken, release: () => (listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve()) };
}

/** Runs a CLI script to its exit: its exit code and what it wrote. */
async function runToExit(script: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(script, SCRIPTS_BASE)), ...args], {
    env: cliEnvironment(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code, output };
}

test('npm start on taken default ports (3001, 8000, 8080) takes free ones, prints them, and works', async () => {
  const held = await Promise.all([3001, 8000, 8080].map(takePort));
  try {
    const cli = await startCli('../example/start.ts', ['--quiet']);
    try {
      for (const [what, port] of [
        ['the gateway', 3001],
        ['DynamoDB', 8000],
        ['the example page', 8080],
      ] as const) {
        assert.match(cli.output, new RegExp(`note: ${what} default port ${port} is in use; using \\d+ instead`), cli.output);
      }
      const wsUrl = /WebSocket URL\s+(ws:\/\/\S+)/.exec(cli.output)![1]!;
      assert.notEqual(new URL(wsUrl).port, '3001');
      assert.doesNotMatch(cli.output, /127\.0\.0\.1:(3001|8000|8080)\b/);
      const ws = await connect(wsUrl);
      assert.equal((await ws.json(0, 15_000)).type, 'init');
      await ws.close();
    } finally {
      await cli.stop();
    }
  } finally {
    await Promise.all(held.map((h) => h.release()));
  }
});

test('npm run gateway on taken default ports (3001, 8000) takes free ones and prints them', async () => {
  const held = await Promise.all([3001, 8000].map(takePort));
  try {
    const cli = await startCli('../local/cli.ts', ['--quiet']);
    try {
      assert.match(cli.output, /note: the gateway default port 3001 is in use; using \d+ instead/);
      assert.match(cli.output, /note: DynamoDB default port 8000 is in use; using \d+ instead/);
      const ws = await connect(/WebSocket URL\s+(ws:\/\/\S+)/.exec(cli.output)![1]!);
      assert.equal((await ws.json(0, 15_000)).type, 'init');
      await ws.close();
    } finally {
      await cli.stop();
    }
  } finally {
    await Promise.all(held.map((h) => h.release()));
  }
});

test('a port given explicitly that is taken still fails loudly, and a malformed one is refused', async () => {
  const held = await takePort(0);
  try {
    for (const [script, option] of [
      ['../local/cli.ts', '--port'],
      ['../local/cli.ts', '--dynamo-port'],
      ['../example/start.ts', '--web-port'],
    ] as const) {
      const others = ['--port', '--dynamo-port', ...(script.includes('start') ? ['--web-port'] : [])].filter((o) => o !== option).flatMap((o) => [o, '0']);
      const result = await runToExit(script, [option, String(held.port), ...others, '--quiet']);
      assert.equal(result.code, 1, `${script} ${option}: ${result.output}`);
      assert.match(result.output, /a port is in use: pass --port/, result.output);
    }
    const malformed = await runToExit('../local/cli.ts', ['--port', 'eighty']);
    assert.equal(malformed.code, 2, 'a bad value is a usage error');
    assert.match(malformed.output, /--port must be a port number from 0 to 65535/);
  } finally {
    await held.release();
  }
});

const COMMANDS = [
  ['../local/bin.ts', 'serverless-gateway-worker'],
  ['../local/cli.ts', 'serverless-gateway-worker'],
  ['../example/start.ts', 'npm start --'],
] as const;

test('--help and --version answer and exit 0 (the package command, npm run gateway, npm start)', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const [script] of COMMANDS) {
    const help = await runToExit(script, ['--help']);
    assert.equal(help.code, 0, `${script} --help: ${help.output}`);
    assert.match(help.output, /^Usage: /, script);
    assert.match(help.output, /--port <n>/, script);
    assert.match(help.output, /--verbose/, script);
    const shown = await runToExit(script, ['--version']);
    assert.equal(shown.code, 0);
    assert.equal(shown.output, `${version}\n`, script);
  }
  assert.deepEqual([parseCommandLine(GATEWAY_COMMAND, ['-h']).values.help, parseCommandLine(GATEWAY_COMMAND, ['-v']).values.version], [true, true]);
  const gatewayHelp = (await runToExit('../local/cli.ts', ['--help'])).output;
  for (const option of ['--assembly <dir>', '--template <file>', '--parameter-overrides', '--serverless <file>', '--stage <name>'])
    assert.ok(gatewayHelp.includes(option), option);
});

test('fails: a usage error is one line naming the option and exit 2, no stack trace (the package command, npm run gateway, npm start)', async () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['../local/bin.ts', ['--bogus'], /^serverless-gateway-worker: unknown option --bogus \(serverless-gateway-worker --help lists the options\)$/],
    ['../local/cli.ts', ['--dynamo-port', '70000'], /^serverless-gateway-worker: --dynamo-port must be a port number from 0 to 65535/],
    ['../example/start.ts', ['--template', 'x'], /^npm start --: unknown option --template \(npm start -- --help lists the options\)$/],
  ];
  for (const [script, args, message] of cases) {
    const result = await runToExit(script, args);
    assert.equal(result.code, 2, `${script} ${args.join(' ')}: ${result.output}`);
    const lines = result.output.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line: ${result.output}`);
    assert.match(lines[0]!, message);
  }
});

test('fails: each usage error names the option: unknown, missing or bad values, stray words, two apps, options that need another', () => {
  const usage = (argv: string[]) => {
    try {
      checkGatewayArguments(parseCommandLine(GATEWAY_COMMAND, argv));
    } catch (error) {
      assert.ok(error instanceof UsageError, String(error));
      return error.message;
    }
    return assert.fail(`accepted: ${argv.join(' ')}`);
  };
  assert.equal(usage(['--bogus']), 'unknown option --bogus');
  assert.equal(usage(['--port']), '--port needs a value');
  assert.equal(usage(['--quiet=yes']), '--quiet does not take a value');
  assert.match(usage(['--port', 'eighty']), /^--port must be a port number from 0 to 65535 \(0: any free port\), not "eighty"$/);
  assert.equal(usage(['serve']), 'unexpected argument "serve"');
  assert.equal(usage(['--template', 't.yaml', '--serverless', 's.yml']), '--template and --serverless are two apps; give one');
  assert.equal(usage(['--parameter-overrides', 'A=1']), '--parameter-overrides needs --template');
  assert.equal(usage(['--template', 't.yaml', '--parameter-overrides', 'not-a-pair']), '--parameter-overrides takes KEY=VALUE words, not "not-a-pair"');
  assert.equal(usage(['--stack', 'S']), '--stack needs --assembly');
  assert.match(usage(['--template', 't.yaml', '--stage', 'dev']), /^--stage needs --serverless/);
  assert.equal(usage(['--quiet', '--verbose']), '--quiet and --verbose contradict each other');
  // The forms sam deploy takes: several words, one quoted word, the long form; a value may contain '='.
  const parsed = checkGatewayArguments(
    parseCommandLine(GATEWAY_COMMAND, [
      '--template',
      't.yaml',
      '--parameter-overrides',
      'A=1',
      'B=x=y',
      '--parameter-overrides',
      'C=3 D=4',
      'ParameterKey=E,ParameterValue=5',
      '--port',
      '0',
    ]),
  );
  assert.deepEqual(parsed.parameterOverrides, { A: '1', B: 'x=y', C: '3', D: '4', E: '5' });
  assert.equal(parsed.port, 0);
});

test('fails: a template that cannot be read or served is one line and exit 1, before any port is taken', async () => {
  const missing = await runToExit('../local/cli.ts', ['--template', 'no/such/template.yaml']);
  assert.equal(missing.code, 1);
  assert.match(missing.output, /^error: cannot read .*no\/such\/template\.yaml: ENOENT\n$/);
  const wrongStage = await runToExit('../local/cli.ts', [
    '--template',
    fileURLToPath(new URL('../fixtures/sam-app/template.yaml', import.meta.url)),
    '--parameter-overrides',
    'StageName=qa',
  ]);
  assert.equal(wrongStage.code, 1);
  assert.match(wrongStage.output, /^error: parameter StageName: "qa" is not one of its AllowedValues \(dev, test, prod\)\n$/);
});

test('the console: EMF records are summed into one line per period (each with --verbose); other lines carry the function name', () => {
  const record = (n: number) =>
    JSON.stringify({
      _aws: {
        Timestamp: 0,
        CloudWatchMetrics: [
          {
            Namespace: 'App',
            Dimensions: [[]],
            Metrics: [
              { Name: 'Connects', Unit: 'Count' },
              { Name: 'Latency', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
      Connects: 1,
      Latency: [n, n],
    });
  assert.deepEqual(
    emfMetrics(`2026-01-01T00:00:00Z\tid\tINFO\t${record(2)}`),
    new Map([
      ['Connects', 1],
      ['Latency', 4],
    ]),
  );
  assert.equal(emfMetrics('{"not": "emf"}'), undefined);
  assert.equal(emfMetrics('{"_aws": broken'), undefined);

  const lines: string[] = [];
  const quiet = createFunctionConsole({ verbose: false, write: (line, stream) => lines.push(`${stream} ${line}`), summaryEveryMs: 3_600_000 });
  quiet.output('connect', record(1), 'stdout');
  quiet.output('connect', record(3), 'stdout');
  quiet.output('send', 'plain log line', 'stdout');
  quiet.output('send', 'Error: boom', 'stderr');
  quiet.flush();
  assert.deepEqual(lines, [
    'stdout send: plain log line',
    'stderr send: Error: boom',
    'stdout metrics: 2 EMF records from the functions: Connects=2 Latency=8 (--verbose prints each record)',
  ]);

  const verboseLines: string[] = [];
  const verbose = createFunctionConsole({ verbose: true, write: (line) => verboseLines.push(line), summaryEveryMs: 3_600_000 });
  verbose.output('connect', record(1), 'stdout');
  verbose.flush();
  assert.deepEqual(verboseLines, [`connect: ${record(1)}`]);
});
