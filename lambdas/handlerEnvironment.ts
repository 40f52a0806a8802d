/** Reads the Lambda-only settings (lambdas/env.ts) from the environment. */
import { LambdaEnvVar } from './env.ts';
import { CONNECTION_MAX_AGE_SECONDS } from '../sdk/tables.ts';

export interface HandlerSettings {
  readonly initFunction: string | undefined;
  readonly initMessage: boolean;
  /** When the gateway cuts a connection, after it opened: 2 hours on AWS, lower on a local gateway that says so. */
  readonly connectionMaxAgeMs: number;
}

export function handlerSettings(env: NodeJS.ProcessEnv = process.env): HandlerSettings {
  const initFunction = env[LambdaEnvVar.initFunction]?.trim() || undefined;
  const initMessage = (env[LambdaEnvVar.initMessage] ?? '').trim().toLowerCase() !== 'false';
  const maxAge = Number(env[LambdaEnvVar.connectionMaxAge]?.trim() || NaN);
  const connectionMaxAgeMs = Number.isSafeInteger(maxAge) && maxAge > 0 ? maxAge : CONNECTION_MAX_AGE_SECONDS * 1000;
  return { initFunction, initMessage, connectionMaxAgeMs };
}
