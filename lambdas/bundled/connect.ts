/**
 * The `$connect` entry point the construct bundles. The user's Events module is compiled in
 * through the esbuild alias '@gateway-backend/events' (see GatewayBackend), so nothing is resolved
 * from a path at run time.
 */
import * as userEvents from '@gateway-backend/events';
import { resolveEvents } from '../events.ts';
import { connectHandlerFor } from '../wiring.ts';

export const handler = connectHandlerFor(resolveEvents(userEvents));
