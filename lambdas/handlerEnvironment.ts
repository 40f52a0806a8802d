/** Reads the Lambda-only settings (lambdas/env.ts) from the environment. */
import { LambdaEnvVar } from './env.ts';

export interface HandlerSettings {
  readonly initFunction: string | undefined;
  readonly initMessage: boolean;
}

export function handlerSettings(env: NodeJS.ProcessEnv = process.env): HandlerSettings {
  const initFunction = env[LambdaEnvVar.initFunction]?.trim() || undefined;
  const initMessage = (env[LambdaEnvVar.initMessage] ?? '').trim().toLowerCase() !== 'false';
  return { initFunction, initMessage };
}
