// The deployed-stack path (`npm run test:deployed`, used after `cdklocal deploy`) checked here against
// a stand-in "deployment": the local gateway serving cdk.out, described only by a cdk-style outputs
// file and the AWS SDK environment, run as a separate process exactly as the npm script runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalGateway, loadCloudAssembly } from '../../local/index.ts';

test('the deployed-target scenarios pass against a stack described by an outputs file and the environment', async () => {
  const app = loadCloudAssembly({ directory: 'cdk.out' });
  const gateway = new LocalGateway({ ...app.gatewayOptions, ttlSweepIntervalMs: 0 });
  const endpoints = await gateway.start();
  const dir = mkdtempSync(join(tmpdir(), 'outputs-'));
  try {
    // What `cdk deploy --outputs-file` writes, with this gateway's URLs in place of AWS's.
    const template = JSON.parse(readFileSync(join('cdk.out', `${app.stackName}.template.json`), 'utf8')) as { Outputs: Record<string, unknown> };
    const value = (id: string) => {
      const key = Object.keys(template.Outputs).find((k) => k.replace(/[0-9A-F]{8}$/, '').endsWith(id))!;
      const ref = (template.Outputs[key] as { Value: { Ref: string } }).Value.Ref;
      const secretArn = () => app.gatewayOptions.secrets!.find((s) => s.name.startsWith(ref))!.arn;
      return [
        key,
        id === 'WebSocketUrl'
          ? endpoints.wsUrl
          : id === 'CallbackUrl'
            ? endpoints.callbackUrl
            : id === 'BindTokenSecretArn'
              ? secretArn()
              : app.physicalNames[ref],
      ];
    };
    const outputs = {
      [app.stackName]: Object.fromEntries(
        [
          'WebSocketUrl',
          'CallbackUrl',
          'ConnectionsTableName',
          'SessionsTableName',
          'MembershipsTableName',
          'UidsTableName',
          'GroupsTableName',
          'BindTokenSecretArn',
        ].map(value),
      ),
    };
    const outputsFile = join(dir, 'outputs.json');
    writeFileSync(outputsFile, JSON.stringify(outputs));

    const child = spawn(process.execPath, ['--import', 'tsx', '--test', 'test/scenarios/deployed.ts'], {
      env: { ...process.env, ...endpoints.env, SCENARIO_OUTPUTS_FILE: outputsFile, NODE_TEST_CONTEXT: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, output);
    assert.match(output, /# pass 4/);
  } finally {
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
