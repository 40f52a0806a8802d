/**
 * The Gateway an Events callback gets as `ctx.gateway`: the function's Gateway, except that
 * `bindUid` / `joinGroup` of the connection whose event is being handled need no bind token. API
 * Gateway delivered that event on that very connection, so its id is proven; any other id still
 * needs its token when `requireBindToken` is on (GatewayWorker code that binds `$client_id` in
 * onConnect or onMessage keeps working; code that binds an id it was told about does not, unchecked).
 */
import type { Gateway } from '../sdk/index.ts';
import { OWN_CONNECTION, type BindOptions } from '../sdk/bindToken.ts';

export function gatewayForCurrentClient(gateway: Gateway, clientId: string): Gateway {
  const own = (id: unknown, options: BindOptions | undefined) =>
    id === clientId && (options === undefined || options === null || (typeof options === 'object' && options.bindToken === undefined))
      ? { ...options, [OWN_CONNECTION]: true }
      : options;
  return new Proxy(gateway, {
    get(target, property) {
      if (property === 'bindUid') return (id: string, uid: string, options?: BindOptions) => target.bindUid(id, uid, own(id, options));
      if (property === 'joinGroup') return (id: string, group: string, options?: BindOptions) => target.joinGroup(id, group, own(id, options));
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
