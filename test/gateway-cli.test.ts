// `npm start`: the command-line gateway prints URLs that a real WebSocket client can use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from './support/wsClient.ts';

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
