/**
 * The SDK's one internal seam: what lambdas/ and the tests may do with a Gateway that its public API
 * does not offer. Not exported from the package (package.json's `exports` name sdk/index.ts), so
 * nothing here is a promise to users.
 *
 * - `forOwnConnection`: the Gateway an Events callback gets as `ctx.gateway`. API Gateway delivered the
 *   event on that connection, so its id is proven: its binds need no bind token (any other id still
 *   does when tokens are required).
 * - `withTestHooks`: a crash or another operation between the two writes of a binding change.
 */
import { contextOf, viewOf, type Gateway } from './Gateway.ts';
import type { GatewayContext } from './gateway/context.ts';
import type { GatewayTestHooks } from './gateway/options.ts';

export type { GatewayTestHooks, HookEvent, HookOperation } from './gateway/options.ts';

/** The same Gateway (clients, sockets, settings), except that binds of `clientId` need no bind token. */
export function forOwnConnection(gateway: Gateway, clientId: string): Gateway {
  return viewOf(gateway, { ownConnection: clientId });
}

/** The same Gateway, calling `hooks` between the two writes of bindUid, unbindUid, joinGroup and leaveGroup. TESTS ONLY. */
export function withTestHooks(gateway: Gateway, hooks: GatewayTestHooks): Gateway {
  return viewOf(gateway, { hooks });
}

/** What a Gateway's operations run with: for tests that look inside. */
export function gatewayContext(gateway: Gateway): GatewayContext {
  return contextOf(gateway);
}
