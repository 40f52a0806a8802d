// `npm start`: the command-line gateway prints URLs that a real WebSocket client can use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connect } from '../helpers/wsClient.ts';

/** The CLIs' environment: no $PORT, so the default ports apply unless a test passes options. */
function cliEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.PORT;
  return env;
}

// The scripts below are named relative to test/ (`../local/cli.ts`), where this file was written.
const SCRIPTS_BASE = new URL('../', import.meta.url);

/** Starts a CLI script and resolves with its output once it is ready. */
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
  return {
    output,
    async stop() {
      child.kill('SIGINT');
      await new Promise((resolve) => child.once('exit', resolve));
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
    await cli.stop();
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
      for (const [what, port] of [['the gateway', 3001], ['DynamoDB', 8000], ['the example page', 8080]] as const) {
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
    for (const [script, option] of [['../local/cli.ts', '--port'], ['../local/cli.ts', '--dynamo-port'], ['../example/start.ts', '--web-port']] as const) {
      const others = ['--port', '--dynamo-port', ...(script.includes('start') ? ['--web-port'] : [])].filter((o) => o !== option).flatMap((o) => [o, '0']);
      const result = await runToExit(script, [option, String(held.port), ...others, '--quiet']);
      assert.equal(result.code, 1, `${script} ${option}: ${result.output}`);
      assert.match(result.output, /a port is in use: pass --port/, result.output);
    }
    const malformed = await runToExit('../local/cli.ts', ['--port', 'eighty']);
    assert.equal(malformed.code, 1);
    assert.match(malformed.output, /--port must be a port number from 0 to 65535/);
  } finally {
    await held.release();
  }
});
