/** The synthesized app (cdk.out) for tests that run it on the local gateway. */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { environmentOf, loadCloudAssembly, type CloudAssemblyApp } from '../local/index.ts';
import { GatewayEnvVar, type GatewayTableNames } from '../sdk/index.ts';

/**
 * Loads a private copy of cdk.out, so that a re-synthesis while the test runs cannot change what it
 * serves. `dispose()` removes the copy.
 */
export function copySynthesizedApp(prefix: string): { app: CloudAssemblyApp; dispose(): void } {
  const directory = mkdtempSync(join(tmpdir(), `${prefix}-cdk-out-`));
  cpSync(fileURLToPath(new URL('../cdk.out', import.meta.url)), directory, { recursive: true });
  return { app: loadCloudAssembly({ directory }), dispose: () => rmSync(directory, { recursive: true, force: true }) };
}

/** The five table names, as the construct's grantGateway set them on the app's functions. */
export function tableNamesOf(app: CloudAssemblyApp): GatewayTableNames {
  const variables = {
    connections: GatewayEnvVar.connectionsTable,
    sessions: GatewayEnvVar.sessionsTable,
    memberships: GatewayEnvVar.membershipsTable,
    uids: GatewayEnvVar.uidsTable,
    groups: GatewayEnvVar.groupsTable,
  } as const;
  const env = environmentOf(app, Object.values(variables));
  for (const name of Object.values(variables)) assert.ok(env[name], `the synthesized app wires the SDK into its functions (${name})`);
  return Object.fromEntries(Object.entries(variables).map(([role, name]) => [role, env[name]!])) as unknown as GatewayTableNames;
}
