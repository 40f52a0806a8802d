/**
 * What hosted functions and backend processes get in their environment so unmodified AWS SDK code
 * reaches this gateway: the endpoint variables, local credentials, the https -> http redirects of the
 * API's AWS names, and the API's AWS URLs in an environment rewritten to the local ones.
 */
import { LambdaEnvVar } from '../lambdas/env.ts';
import type { GatewayUrls } from './LocalGatewayOptions.ts';
import { AWS_LIMITS } from './limits.ts';

/** AWS SDK settings for a process outside the gateway, plus `extra` (the `environment` option). */
export function backendEnvironment(urls: GatewayUrls, extra: Readonly<Record<string, string>>): Record<string, string> {
  return {
    AWS_REGION: urls.region,
    AWS_DEFAULT_REGION: urls.region,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: urls.dynamoEndpoint,
    AWS_ENDPOINT_URL_LAMBDA: urls.httpUrl,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: urls.httpUrl,
    ...extra,
  };
}

/** A hosted function's base environment: a backend's, with a session token as Lambda's role gives. */
export function functionEnvironment(
  urls: GatewayUrls,
  extra: Readonly<Record<string, string>>,
  connectionMaxAgeMs = AWS_LIMITS.maxConnectionDurationMs,
): Record<string, string> {
  // A lowered connection age limit: `$connect` tells the browser client when its connection will be cut.
  const ageLimit: Record<string, string> = {};
  if (connectionMaxAgeMs !== AWS_LIMITS.maxConnectionDurationMs) ageLimit[LambdaEnvVar.connectionMaxAge] = String(connectionMaxAgeMs);
  return { ...backendEnvironment(urls, extra), AWS_SESSION_TOKEN: 'local', ...ageLimit };
}

/** On AWS these endpoints are https; hosted functions reach them here over http. */
export function httpsRedirects(urls: GatewayUrls): Array<{ pattern: string; target: string }> {
  const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const hostPort = urls.httpUrl.replace(/^http:\/\//, '');
  return [
    { pattern: `^${escapeRegExp(urls.apiId)}\\.execute-api\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?$`, target: urls.httpUrl },
    { pattern: `^${escapeRegExp(hostPort)}$`, target: urls.httpUrl },
  ];
}

/**
 * Environment values that are this API's AWS URLs (what a synthesized template resolves
 * `stage.callbackUrl` and `stage.url` to) become the local ones.
 */
export function localizeUrls(environment: Record<string, string>, urls: GatewayUrls): Record<string, string> {
  const aws = new RegExp(`^(https|wss)://${urls.apiId}\\.execute-api\\.${urls.region}\\.amazonaws\\.com(\\.cn)?/${urls.stage}/?$`);
  return Object.fromEntries(
    Object.entries(environment).map(([name, value]) => {
      const match = aws.exec(value);
      return [name, match ? (match[1] === 'wss' ? urls.wsUrl : urls.callbackUrl) : value];
    }),
  );
}
