/**
 * The size of each function bundle in a cloud assembly and how long its module takes to load in a
 * fresh Node process (what a cold start adds before the first invocation, without Lambda's own
 * share). Not a test. Run it on two checkouts (e.g. before and after a dependency) and compare:
 *
 *   node --import tsx bench/bundles.ts [cdk.out] [runs]
 *
 * Each bundle is imported in `runs` (default 21) fresh processes, one bundle after the other in
 * turn so that load on the machine falls on all of them alike; the environment holds the variables
 * the entry points read at module scope (loopback endpoints: nothing is contacted at load time).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const outdir = resolve(process.argv[2] ?? 'cdk.out');
const runs = Number(process.argv[3] ?? 21);
const stackName = process.env.BENCH_STACK ?? 'ServerlessGatewayWorker';

const template = JSON.parse(readFileSync(join(outdir, `${stackName}.template.json`), 'utf8')) as {
  Resources: Record<string, { Type: string; Metadata?: Record<string, string> }>;
};
const bundles = Object.entries(template.Resources)
  .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['aws:asset:path'])
  .map(([id, r]) => ({ id: id.replace(/[0-9A-F]{8}$/, ''), file: join(outdir, r.Metadata!['aws:asset:path']!, 'index.mjs') }));

const env = {
  ...process.env,
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  GATEWAY_CALLBACK_URL: 'http://127.0.0.1:9/prod',
  GATEWAY_CONNECTIONS_TABLE: 'bench-connections',
  GATEWAY_SESSIONS_TABLE: 'bench-sessions',
  GATEWAY_MEMBERSHIPS_TABLE: 'bench-memberships',
  GATEWAY_UIDS_TABLE: 'bench-uids',
  GATEWAY_GROUPS_TABLE: 'bench-groups',
};

const samples = new Map<string, number[]>(bundles.map((b) => [b.id, []]));
for (let run = 0; run < runs; run++) {
  for (const bundle of bundles) {
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const t = performance.now(); await import(${JSON.stringify(bundle.file)}); process.stdout.write(String(performance.now() - t));`,
      ],
      {
        env,
        encoding: 'utf8',
      },
    );
    const ms = Number(child.stdout.trim().split('\n').pop());
    if (child.status !== 0 || !Number.isFinite(ms)) throw new Error(`${bundle.id} did not load: ${child.stderr}`);
    samples.get(bundle.id)!.push(ms);
  }
}

const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))]!;
console.log(`${outdir}, ${runs} fresh processes per bundle`);
console.log('function'.padEnd(32), 'bytes'.padStart(9), 'load p25'.padStart(10), 'median'.padStart(8), 'p75'.padStart(8));
for (const bundle of bundles) {
  const ms = samples.get(bundle.id)!;
  console.log(
    bundle.id.padEnd(32),
    String(statSync(bundle.file).size).padStart(9),
    `${quantile(ms, 0.25).toFixed(1)} ms`.padStart(10),
    `${quantile(ms, 0.5).toFixed(1)} ms`.padStart(8),
    `${quantile(ms, 0.75).toFixed(1)} ms`.padStart(8),
  );
}
