/**
 * The `$connect` entry point, unbundled: runs from source under the local gateway, with the Events
 * module at GATEWAY_EVENTS_MODULE (or the seed's). The construct bundles lambdas/bundled/connect.ts.
 */
import { loadEventsFromEnv } from './eventsModule.ts';
import { connectHandlerFor } from './wiring.ts';

export const handler = connectHandlerFor(await loadEventsFromEnv());
