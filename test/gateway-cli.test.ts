// `npm start`: the command-line gateway prints URLs that a real WebSocket client can use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from './support/wsClient.ts';

/** Starts a CLI script and resolves with its output once it is ready. */
async function startCli(script: string, args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(script, import.meta.url)), ...args], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
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
  const cli = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../local/cli.ts', import.meta.url)), '--port', '0', '--dynamo-port', '0'], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
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
