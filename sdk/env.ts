import type { GatewayTableNames } from './tables.ts';

/**
 * Environment variable names, declared once. The CDK construct sets them on every Lambda it wires
 * (`GatewayBackend.grantGateway`), `Gateway.fromEnv()` reads them, and the local gateway sets them
 * on the functions it hosts. Explicit constructor options always win over the environment.
 */
export const GatewayEnvVar = {
  /** The `@connections` management endpoint: `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`. */
  callbackUrl: 'GATEWAY_CALLBACK_URL',
  /** Table holding one small item per live connection (connectedAt, uid, group count). */
  connectionsTable: 'GATEWAY_CONNECTIONS_TABLE',
  /** Table holding each connection's session and handshake identity. */
  sessionsTable: 'GATEWAY_SESSIONS_TABLE',
  /** Table listing each connection's groups (connection id -> group). */
  membershipsTable: 'GATEWAY_MEMBERSHIPS_TABLE',
  /** Table indexing uid -> connection ids. */
  uidsTable: 'GATEWAY_UIDS_TABLE',
  /** Table indexing group -> connection ids. */
  groupsTable: 'GATEWAY_GROUPS_TABLE',
  /** Name or ARN of the fan-out worker Lambda; when set, large sends are split into chunks. */
  fanoutFunction: 'GATEWAY_FANOUT_FUNCTION',
  /** Recipient count above which a send is chunked to the fan-out worker. */
  fanoutThreshold: 'GATEWAY_FANOUT_THRESHOLD',
  /** ARN (or name) of the Secrets Manager secret that keys the bind tokens (sdk/bindToken.ts). */
  bindTokenSecret: 'GATEWAY_BIND_TOKEN_SECRET',
  /**
   * `true`: bindUid / joinGroup refuse a missing or wrong bind token (BindTokenError); `false`: they
   * do not. Unset or empty: `true` when GATEWAY_BIND_TOKEN_SECRET is set (fail closed), else `false`.
   */
  requireBindToken: 'GATEWAY_REQUIRE_BIND_TOKEN',
  /** `@connections` requests per second one chunked broadcast may spend (fanout.rateLimit). */
  fanoutRate: 'GATEWAY_FANOUT_RATE',
  /** The most chunks that run at once: the worker's reserved concurrency (fanout.maxConcurrentChunks). */
  fanoutConcurrency: 'GATEWAY_FANOUT_CONCURRENCY',
  /** `@connections` requests per second of one process (sendRate), or `off`; unset: the SDK's default. */
  sendRate: 'GATEWAY_SEND_RATE',
  /** Seconds a browser-client connection stays resumable after an unexpected close; 0: off (docs/guides/recovery.md). */
  recoveryWindow: 'GATEWAY_RECOVERY_WINDOW_SECONDS',
} as const;

export type GatewayEnvVarName = (typeof GatewayEnvVar)[keyof typeof GatewayEnvVar];

/** The variables `Gateway.fromEnv()` needs: the `@connections` endpoint and the five table names. */
export function gatewayEnvironment(callbackUrl: string, tables: GatewayTableNames): Record<string, string> {
  return {
    [GatewayEnvVar.callbackUrl]: callbackUrl,
    [GatewayEnvVar.connectionsTable]: tables.connections,
    [GatewayEnvVar.sessionsTable]: tables.sessions,
    [GatewayEnvVar.membershipsTable]: tables.memberships,
    [GatewayEnvVar.uidsTable]: tables.uids,
    [GatewayEnvVar.groupsTable]: tables.groups,
  };
}
