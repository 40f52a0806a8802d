/**
 * What a function's runtime costs per invocation on the local gateway: the same small async handler
 * declared nodejs24.x (no tracking) and nodejs22.x (the event-loop tracker that callback semantics
 * need: async hooks in that function's worker), invoked one at a time and 50 at a time, plus a
 * callback handler on nodejs22.x. Not a test: `node --import tsx bench/runtimes.ts`.
 *
 * Options (environment): BENCH_RUNTIME_INVOKES (2000).
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { LocalGateway } from '../local/index.ts';

const invokes = Number(process.env.BENCH_RUNTIME_INVOKES ?? 2000);
const fixture = (file: string) => fileURLToPath(new URL(`../testkit/functions/${file}`, import.meta.url));

const gw = new LocalGateway({
  ttlSweepIntervalMs: 0,
  routes: {},
  functions: {
    async24: { entry: fixture('typescriptHandler.ts'), runtime: 'nodejs24.x' },
    async22: { entry: fixture('typescriptHandler.ts'), runtime: 'nodejs22.x' },
    callback22: { entry: fixture('callbackHandler.cjs'), runtime: 'nodejs22.x' },
  },
});
await gw.start();

async function run(name: string, concurrency: number): Promise<{ perSecond: number; meanMs: number }> {
  const event = name.startsWith('callback') ? {} : { name: 'bench' };
  for (let i = 0; i < 50; i++) await gw.invoke(name, event); // warm
  const started = performance.now();
  let next = 0;
  let totalMs = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < invokes) {
        const t = performance.now();
        const outcome = await gw.invoke(name, event);
        totalMs += performance.now() - t;
        if (!outcome.ok) throw new Error(`${name}: ${outcome.error.errorType} ${outcome.error.errorMessage}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: invokes / seconds, meanMs: totalMs / invokes };
}

console.log(`${invokes} invocations each, Node ${process.version}`);
console.log('function      runtime     concurrency  invocations/s  mean latency');
for (const [name, runtime] of [
  ['async24', 'nodejs24.x'],
  ['async22', 'nodejs22.x'],
  ['callback22', 'nodejs22.x'],
] as const) {
  for (const concurrency of [1, 50]) {
    const { perSecond, meanMs } = await run(name, concurrency);
    console.log(
      `${name.padEnd(13)} ${runtime.padEnd(11)} ${String(concurrency).padStart(11)}  ${perSecond.toFixed(0).padStart(13)}  ${meanMs.toFixed(2).padStart(9)} ms`,
    );
  }
}
await gw.stop();
