/**
 * The Lambda REQUEST authorizer on `$connect`: the identity sources checked first (a missing one is
 * 401 without running the function), then the function's IAM policy evaluated against the route's
 * method ARN (an explicit Deny wins; an `Unauthorized` error is 401, any other failure 500).
 */
import { buildAuthorizerEvent } from './events.ts';
import type { WebSocketAuthorizerContext, WebSocketAuthorizerResult, WebSocketConnectEvent } from '../lambdas/webSocketEvent.ts';
import type { InvocationOutcome } from './functions.ts';

/** The authorizer as the gateway resolved it: its hosted function and identity sources. */
export interface AuthorizerRoute {
  readonly functionName: string;
  readonly identitySource: readonly string[];
}

/** 200 with the context `$connect` and later events carry, or the status the upgrade is refused with. */
export interface AuthorizerDecision {
  readonly status: number;
  readonly context?: WebSocketAuthorizerContext;
}

/** Runs the authorizer for a `$connect` event; `invoke` runs a hosted function with the integration timeout. */
export async function authorize(
  authorizer: AuthorizerRoute,
  connectEvent: WebSocketConnectEvent,
  methodArn: string,
  invoke: (functionName: string, event: unknown) => Promise<InvocationOutcome>,
): Promise<AuthorizerDecision> {
  const lowerHeaders = Object.fromEntries(Object.entries(connectEvent.headers).map(([k, v]) => [k.toLowerCase(), v]));
  for (const source of authorizer.identitySource) {
    const header = /^route\.request\.header\.(.+)$/.exec(source);
    const query = /^route\.request\.querystring\.(.+)$/.exec(source);
    const present = header ? Boolean(lowerHeaders[header[1]!.toLowerCase()]) : query ? Boolean(connectEvent.queryStringParameters?.[query[1]!]) : true;
    if (!present) return { status: 401 };
  }
  const outcome = await invoke(authorizer.functionName, buildAuthorizerEvent(connectEvent, methodArn));
  if (!outcome.ok) return { status: outcome.error.errorMessage === 'Unauthorized' ? 401 : 500 };
  const policy = outcome.value as WebSocketAuthorizerResult | null;
  const statements = policy?.policyDocument?.Statement;
  if (!policy || typeof policy.principalId !== 'string' || !Array.isArray(statements)) return { status: 500 };
  const allowed = statements.some((s) => s.Effect === 'Allow' && matchesInvoke(s.Action) && matchesArn(s.Resource, methodArn));
  const denied = statements.some((s) => s.Effect === 'Deny' && matchesInvoke(s.Action) && matchesArn(s.Resource, methodArn));
  if (!allowed || denied) return { status: 403 };
  return { status: 200, context: { ...(policy.context ?? {}), principalId: policy.principalId } };
}

function matchesInvoke(action: string | readonly string[]): boolean {
  const actions = typeof action === 'string' ? [action] : action;
  return actions.some((a) => a === 'execute-api:Invoke' || a === 'execute-api:*' || a === '*');
}

/** `*` in a policy's resource matches any run of characters, as IAM's wildcard. */
function matchesArn(resource: string | readonly string[], arn: string): boolean {
  const resources = typeof resource === 'string' ? [resource] : resource;
  return resources.some((r) =>
    new RegExp(
      `^${r
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    ).test(arn),
  );
}
