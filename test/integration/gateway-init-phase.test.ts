// The init phase of a module function (local/workerFunction.ts) as Lambda runs it: a budget of its own
// (10 s) outside the invocation's timeout; past that budget, init runs again within the first
// invocation's timeout; after a reset (a timeout) the re-init counts against the timeout; init
// errors named as Lambda's runtime names them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalGateway, type InvocationOutcome, type LocalGatewayOptions } from '../../local/index.ts';

const fixtures = fileURLToPath(new URL('../../testkit/functions/', import.meta.url));

async function withSlowInit(
  initDelayMs: number,
  timeoutMs: number,
  options: Partial<LocalGatewayOptions>,
  body: (gw: LocalGateway, loads: () => number) => Promise<void>,
) {
  const dir = mkdtempSync(join(tmpdir(), 'init-phase-'));
  const loadLog = join(dir, 'loads');
  const gw = new LocalGateway({
    ttlSweepIntervalMs: 0,
    routes: {},
    ...options,
    functions: { slow: { entry: join(fixtures, 'slowInit.mjs'), timeoutMs, environment: { INIT_DELAY_MS: String(initDelayMs), LOAD_LOG: loadLog } } },
  });
  await gw.start();
  try {
    await body(gw, () => {
      try {
        return readFileSync(loadLog, 'utf8').split('\n').filter(Boolean).length;
      } catch {
        return 0;
      }
    });
  } finally {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function errorType(outcome: InvocationOutcome): string | undefined {
  return outcome.ok ? undefined : outcome.error.errorType;
}

test('a module that takes 1.5 s to load runs with a 1 s timeout: init has its own budget, and the environment stays warm', async () => {
  await withSlowInit(1500, 1000, {}, async (gw, loads) => {
    // 100 ms of work: inside the 1 s timeout, unless the init's 1.5 s were counted against it.
    const first = await gw.invoke('slow', { workMs: 100 });
    assert.deepEqual(first.ok && first.value, { invocations: 1 }, JSON.stringify(first));
    const second = await gw.invoke('slow', { workMs: 100 });
    assert.deepEqual(second.ok && second.value, { invocations: 2 }, 'the same environment, no second init');
    assert.equal(loads(), 1);
  });
});

test('an init past its budget is run again within the first invocation, which succeeds when init and handler fit its timeout', async () => {
  await withSlowInit(800, 8000, { functionInitTimeoutMs: 400 }, async (gw, loads) => {
    const first = await gw.invoke('slow', {});
    assert.deepEqual(first.ok && first.value, { invocations: 1 }, JSON.stringify(first));
    assert.equal(loads(), 2, 'the abandoned init and the one within the invocation');
    const second = await gw.invoke('slow', {});
    assert.deepEqual(second.ok && second.value, { invocations: 2 });
    assert.equal(loads(), 2);
  });
});

test('an init past its budget that does not fit the timeout either fails the invocation with Sandbox.Timedout', async () => {
  await withSlowInit(800, 500, { functionInitTimeoutMs: 400 }, async (gw) => {
    const first = await gw.invoke('slow', {});
    assert.equal(errorType(first), 'Sandbox.Timedout');
    assert.match(!first.ok ? first.error.errorMessage : '', /Task timed out after 0\.50 seconds/);
  });
});

test('after a timeout the environment is reset and its re-init counts against the timeout: with init longer than the timeout it never recovers', async () => {
  await withSlowInit(1500, 1000, {}, async (gw, loads) => {
    assert.ok((await gw.invoke('slow', {})).ok, 'the first, on-demand init has its own budget');
    assert.equal(errorType(await gw.invoke('slow', { hang: true })), 'Sandbox.Timedout');
    // As on Lambda since 2024 (the "doom loop"): each re-init takes 1.5 s of a 1 s timeout.
    assert.equal(errorType(await gw.invoke('slow', {})), 'Sandbox.Timedout');
    assert.equal(errorType(await gw.invoke('slow', {})), 'Sandbox.Timedout');
    assert.ok(loads() >= 3);
  });
});

test("init errors are named as Lambda's runtime names them: ImportModuleError, HandlerNotFound, UserCodeSyntaxError", async () => {
  const gw = new LocalGateway({
    ttlSweepIntervalMs: 0,
    routes: {},
    functions: {
      missingFile: { entry: join(fixtures, 'does-not-exist.mjs') },
      missingHandler: { entry: join(fixtures, 'missingHandler.mjs') },
      notAFunction: { entry: join(fixtures, 'missingHandler.mjs'), handlerName: 'config' },
      badSyntax: { entry: join(fixtures, 'syntaxError.cjs') },
    },
  });
  await gw.start();
  try {
    const cases: Array<[string, string, RegExp]> = [
      ['missingFile', 'Runtime.ImportModuleError', /Cannot find module|does-not-exist/],
      ['missingHandler', 'Runtime.HandlerNotFound', /^missingHandler\.handler is undefined or not exported$/],
      ['notAFunction', 'Runtime.HandlerNotFound', /^missingHandler\.config is not a function$/],
      ['badSyntax', 'Runtime.UserCodeSyntaxError', /SyntaxError/],
    ];
    for (const [name, type, message] of cases) {
      const outcome = await gw.invoke(name, {});
      assert.ok(!outcome.ok, name);
      assert.equal(outcome.error.errorType, type, name);
      assert.match(outcome.error.errorMessage, message, name);
    }
  } finally {
    await gw.stop();
  }
});
