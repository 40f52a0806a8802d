/**
 * The `$disconnect` entry point, unbundled: runs from source under the local gateway, with the Events
 * module at GATEWAY_EVENTS_MODULE (or the seed's). The construct bundles lambdas/bundled/disconnect.ts.
 */
import { loadEventsFromEnv } from './eventsModule.ts';
import { disconnectHandlerFor } from './wiring.ts';

export const handler = disconnectHandlerFor(await loadEventsFromEnv());
