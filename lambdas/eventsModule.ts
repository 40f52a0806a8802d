/**
 * The Events module for the unbundled entry points (local runs, tests): the module at
 * GATEWAY_EVENTS_MODULE when set, else the seed's. Bundles built by the construct import the user's
 * module statically instead (lambdas/bundled/), so nothing is loaded from a path at run time there.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveEvents, type GatewayEvents } from './events.ts';
import { LambdaEnvVar } from './env.ts';
import defaultEvents from './defaultEvents.ts';

export async function loadEventsFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<GatewayEvents> {
  const path = env[LambdaEnvVar.eventsModule];
  if (!path) return defaultEvents;
  const absolute = isAbsolute(path) ? path : resolve(path);
  return resolveEvents(await import(pathToFileURL(absolute).href));
}
