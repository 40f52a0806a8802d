/** The synthesized app (cdk.out) for tests that run it on the local gateway. */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { environmentOf, loadCloudAssembly, type CloudAssemblyApp } from '../../local/index.ts';
import { GatewayEnvVar, type GatewayTableNames } from '../../sdk/index.ts';

/**
 * Loads a private copy of cdk.out, so that a re-synthesis while the test runs cannot change what it
 * serves. `dispose()` removes the copy.
 */
export function copySynthesizedApp(prefix: string): { app: CloudAssemblyApp; dispose(): void } {
  const directory = mkdtempSync(join(tmpdir(), `${prefix}-cdk-out-`));
  cpSync(fileURLToPath(new URL('../../cdk.out', import.meta.url)), directory, { recursive: true });
  return { app: loadCloudAssembly({ directory }), dispose: () => rmSync(directory, { recursive: true, force: true }) };
}

/** The three table names, as the construct's grantGateway set them on the app's functions. */
export function tableNamesOf(app: CloudAssemblyApp): GatewayTableNames {
  const env = environmentOf(app, [GatewayEnvVar.connectionsTable, GatewayEnvVar.uidsTable, GatewayEnvVar.groupsTable]);
  assert.ok(env[GatewayEnvVar.connectionsTable] && env[GatewayEnvVar.uidsTable] && env[GatewayEnvVar.groupsTable], 'the synthesized app wires the SDK into its functions');
  return { connections: env[GatewayEnvVar.connectionsTable]!, uids: env[GatewayEnvVar.uidsTable]!, groups: env[GatewayEnvVar.groupsTable]! };
}
