/**
 * The Gateway an Events callback gets as `ctx.gateway`: the function's Gateway, except that
 * `bindUid` / `joinGroup` of the connection whose event is being handled need no bind token. API
 * Gateway delivered that event on that very connection, so its id is proven; any other id still
 * needs its token when `requireBindToken` is on (GatewayWorker code that binds `$client_id` in
 * onConnect or onMessage keeps working; code that binds an id it was told about does not, unchecked).
 */
import type { Gateway } from '../sdk/index.ts';
import { forOwnConnection } from '../sdk/internal.ts';

export function gatewayForCurrentClient(gateway: Gateway, clientId: string): Gateway {
  return forOwnConnection(gateway, clientId);
}
