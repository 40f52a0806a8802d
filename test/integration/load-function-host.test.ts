// The local function host under load (issue 6): invocations of one worker-hosted function wait in
// line beyond a bound, a function's timeout counts from the start of its own invocation, and a
// timeout fails only the invocation that timed out, not the others sharing the worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalGateway } from '../../local/index.ts';

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'load-function-host-'));
  // Busy for `busyMs` of CPU (the worker's one thread), or asleep for `sleepMs`, or forever with `hang`.
  writeFileSync(
    join(dir, 'work.mjs'),
    `let invocations = 0;
export async function handler(event) {
  invocations++;
  if (event.hang) await new Promise(() => {});
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  if (event.busyMs) { const end = Date.now() + event.busyMs; while (Date.now() < end); }
  return { invocations, tag: event.tag };
}
`,
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

function gatewayWith(options: { timeoutMs: number; maxConcurrentInvocations?: number }): LocalGateway {
  return new LocalGateway({
    ttlSweepIntervalMs: 0,
    routes: {},
    functions: { work: { entry: join(dir, 'work.mjs'), timeoutMs: options.timeoutMs } },
    ...(options.maxConcurrentInvocations ? { maxConcurrentInvocations: options.maxConcurrentInvocations } : {}),
  });
}

test('CPU-bound invocations beyond the bound wait in line, and none runs out of time while it waits', async () => {
  // Six invocations of 150 ms of CPU each, with a 400 ms timeout: run side by side in one worker,
  // the last would end 900 ms after the call; one at a time, each runs in 150 ms.
  const gw = gatewayWith({ timeoutMs: 400, maxConcurrentInvocations: 1 });
  await gw.start();
  try {
    await gw.invoke('work', {}); // warm
    const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => gw.invoke('work', { busyMs: 150, tag: i })));
    assert.deepEqual(
      outcomes.map((o) => o.ok && (o.value as { tag: number }).tag),
      [0, 1, 2, 3, 4, 5],
    );
    // One environment served them all.
    assert.deepEqual(
      outcomes.map((o) => o.ok && (o.value as { invocations: number }).invocations),
      [2, 3, 4, 5, 6, 7],
    );
  } finally {
    await gw.stop();
  }
});

test('after a timeout the next call gets a fresh worker', async () => {
  const gw = gatewayWith({ timeoutMs: 300 });
  await gw.start();
  try {
    await gw.invoke('work', {}); // warm: invocation 1
    const timedOut = await gw.invoke('work', { hang: true });
    assert.ok(!timedOut.ok);
    assert.equal(timedOut.error.errorType, 'Sandbox.Timedout');
    assert.match(timedOut.error.errorMessage, /Task timed out after 0\.30 seconds/);
    const fresh = await gw.invoke('work', { tag: 'fresh' });
    assert.deepEqual(fresh.ok && fresh.value, { invocations: 1, tag: 'fresh' });
  } finally {
    await gw.stop();
  }
});

test('an invocation that shares a worker with one that times out still succeeds when it is within its own time', async () => {
  const gw = gatewayWith({ timeoutMs: 300 });
  await gw.start();
  try {
    await gw.invoke('work', {});
    const hung = gw.invoke('work', { hang: true });
    await new Promise((r) => setTimeout(r, 200));
    // Starts 200 ms after the hung one, in the same worker; the hung one times out 100 ms later.
    const neighbour = gw.invoke('work', { sleepMs: 150, tag: 'neighbour' });
    assert.equal((await hung).ok, false);
    const outcome = await neighbour;
    assert.deepEqual(outcome.ok && outcome.value, { invocations: 3, tag: 'neighbour' });
  } finally {
    await gw.stop();
  }
});

test("the caller's own limit counts from the call: an invocation still waiting in line when it passes never starts", async () => {
  const gw = gatewayWith({ timeoutMs: 2000, maxConcurrentInvocations: 1 });
  await gw.start();
  try {
    await gw.invoke('work', {});
    const busy = gw.functions.invoke('work', { busyMs: 300, tag: 'first' });
    const waiting = gw.functions.invoke('work', { tag: 'late' }, 100); // e.g. API Gateway's integration timeout
    const late = await waiting;
    assert.ok(!late.ok && late.error.errorType === 'Sandbox.Timedout');
    assert.deepEqual((await busy).ok, true);
    const next = await gw.invoke('work', { tag: 'next' });
    assert.deepEqual(next.ok && next.value, { invocations: 3, tag: 'next' }, 'the late one never ran, and the environment was kept');
  } finally {
    await gw.stop();
  }
});
