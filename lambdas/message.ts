/**
 * The `$default` and custom-route entry point, unbundled: runs from source under the local gateway, with the Events
 * module at GATEWAY_EVENTS_MODULE (or the seed's). The construct bundles lambdas/bundled/message.ts.
 */
import { loadEventsFromEnv } from './eventsModule.ts';
import { messageHandlerFor } from './wiring.ts';

export const handler = messageHandlerFor(await loadEventsFromEnv());
