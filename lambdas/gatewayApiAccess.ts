/**
 * The Gateway API's allow-list: which of its methods one deployment of the function accepts
 * (`GatewayBackendProps.gatewayApi.methods`). The construct resolves presets and checks names at
 * synth time and sets GATEWAY_API_METHODS; the function reads it once at start-up and refuses any
 * other method with MethodNotAllowedError before checking arguments or calling AWS. An unknown
 * name in either place is an error, never ignored: a typo must not widen or silently narrow access.
 */
import { ConfigurationError } from '../sdk/errors.ts';
import { GATEWAY_API_METHODS } from './gatewayApiMethods.ts';

/** The environment variable holding the comma-separated method names the function accepts. */
export const GATEWAY_API_METHODS_ENV = 'GATEWAY_API_METHODS';

/** The sends, and nothing that reads or changes bindings, sessions or connections. */
const SEND_ONLY = ['sendToClient', 'sendToUid', 'sendToGroup', 'sendToAll'] as const;

/** The queries: they read state and change nothing (verifyBindToken reads the key). */
const READ_ONLY = [
  'isOnline',
  'getConnection',
  'verifyBindToken',
  'getSession',
  'getUidByClientId',
  'isUidOnline',
  'getClientIdByUid',
  'isUidsOnline',
  'batchGetClientIdByUid',
  'getGroupsByClientId',
  'getClientIdListByGroup',
  'getClientIdCountByGroup',
  'getClientCountByGroup',
  'getClientSessionsByGroup',
  'getUidListByGroup',
  'getUidCountByGroup',
  'batchGetClientIdCountByGroup',
  'getAllClientCount',
  'getAllClientIdCount',
  'getAllClientIdList',
  'getAllClientSessions',
  'getAllUidList',
  'getAllUidCount',
  'getAllGroupIdList',
  'getAllGroupClientIdList',
  'getAllGroupClientIdCount',
  'getAllGroupUidList',
  'getAllGroupUidCount',
] as const;

export const GATEWAY_API_PRESETS = {
  all: Object.keys(GATEWAY_API_METHODS),
  'read-only': [...READ_ONLY],
  'send-only': [...SEND_ONLY],
} as const satisfies Record<string, readonly string[]>;

export type GatewayApiPreset = keyof typeof GATEWAY_API_PRESETS;

/**
 * A preset or a list of names as the sorted, de-duplicated method names; a ConfigurationError for
 * an unknown preset, an unknown method, or an empty list.
 */
export function resolveGatewayApiMethods(methods: string | readonly string[]): string[] {
  if (typeof methods === 'string') {
    if (!Object.hasOwn(GATEWAY_API_PRESETS, methods)) {
      throw new ConfigurationError(
        `unknown Gateway API preset ${JSON.stringify(methods)}; presets: ${Object.keys(GATEWAY_API_PRESETS).join(', ')}, or give a list of method names`,
      );
    }
    return [...GATEWAY_API_PRESETS[methods as GatewayApiPreset]].sort();
  }
  if (!Array.isArray(methods) || methods.length === 0) throw new ConfigurationError('the Gateway API method list must name at least one method');
  const unknown = methods.filter((name) => typeof name !== 'string' || !Object.hasOwn(GATEWAY_API_METHODS, name));
  if (unknown.length > 0) {
    throw new ConfigurationError(
      `unknown Gateway API ${unknown.length === 1 ? 'method' : 'methods'} ${unknown.map((n) => JSON.stringify(n)).join(', ')}; the methods are those of lambdas/gatewayApiMethods.ts`,
    );
  }
  return [...new Set(methods)].sort();
}

/**
 * The allow-list from GATEWAY_API_METHODS (a preset's name, or comma-separated method names): unset
 * means every method (the construct leaves it unset for 'all'); set, it must name a preset or known
 * methods only.
 */
export function allowedMethodsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): ReadonlySet<string> | undefined {
  const value = env[GATEWAY_API_METHODS_ENV];
  if (value === undefined) return undefined;
  try {
    const trimmed = value.trim();
    return new Set(resolveGatewayApiMethods(Object.hasOwn(GATEWAY_API_PRESETS, trimmed) ? trimmed : trimmed.split(',').map((name) => name.trim())));
  } catch (error) {
    throw new ConfigurationError(`environment variable ${GATEWAY_API_METHODS_ENV}: ${(error as Error).message}`, { cause: error });
  }
}
