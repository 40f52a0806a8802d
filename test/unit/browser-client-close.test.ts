// close() of the browser client (clients/browser/gateway-client.js) leaves no timer behind: not the
// heartbeat, not the init timeout, not the make-before-break timer of a connection whose init
// announced its cut. A page that closes the client must not keep pinging, and a Node process that
// uses it must be able to exit. A stand-in WebSocket delivers the init, so no gateway is involved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type GatewayClientOptions } from '../../clients/browser/gateway-client.js';

/** A WebSocket that opens at once and sends `init` as its first message. */
function scriptedSocket(init: object) {
  return class {
    readyState = 0;
    onopen: (() => void) | null = null;
    onmessage: ((event: { data: string }) => void) | null = null;
    onclose: ((event: { code: number; reason: string }) => void) | null = null;
    onerror: (() => void) | null = null;
    constructor(readonly url: string) {
      queueMicrotask(() => {
        this.readyState = 1;
        this.onopen?.();
        this.onmessage?.({ data: JSON.stringify(init) });
      });
    }
    send(): void {}
    close(): void {
      this.readyState = 3;
    }
  };
}

const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

for (const [name, init] of [
  ['an init without a cut', { type: 'init', client_id: 'abc=' }],
  ['an init that announces its cut (make before break armed)', { type: 'init', client_id: 'abc=', cut_in: 60_000, resume_token: 'v2.1.x' }],
] as const) {
  test(`close() after ${name} clears every timer it set`, async () => {
    const before = timers();
    let opened = 0;
    const client = connect('ws://127.0.0.1:1/prod', {
      WebSocket: scriptedSocket(init) as unknown as GatewayClientOptions['WebSocket'],
      heartbeatMs: 50,
      onInit: () => opened++,
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(opened, 1);
    assert.equal(client.state, 'open');
    assert.ok(timers() > before, 'the open client holds its heartbeat and other timers');
    client.close();
    assert.equal(client.state, 'closed');
    assert.equal(timers(), before);
  });
}
