/**
 * Environment variables only the backend's own Lambdas read. The ones every SDK user reads
 * (callback URL, table names) are in sdk/env.ts; the construct sets both.
 */
export const LambdaEnvVar = {
  /** Name (or ARN) of the init-sender Lambda that `$connect` invokes asynchronously. */
  initFunction: 'GATEWAY_INIT_FUNCTION',
  /** `false` turns the `{"type":"init","client_id":"..."}` message off; anything else, or unset, leaves it on. */
  initMessage: 'GATEWAY_INIT_MESSAGE',
  /**
   * Local runs of the unbundled entry points only: absolute path of the user's Events module. Bundles
   * built by the construct have the module compiled in and ignore this variable.
   */
  eventsModule: 'GATEWAY_EVENTS_MODULE',
  /**
   * Milliseconds after which the gateway cuts every connection: set by the local gateway when its
   * age limit is lowered; unset on AWS (2 hours). `$connect` tells the browser client (make before break).
   */
  connectionMaxAge: 'GATEWAY_CONNECTION_MAX_AGE_MS',
} as const;

export type LambdaEnvVarName = (typeof LambdaEnvVar)[keyof typeof LambdaEnvVar];
