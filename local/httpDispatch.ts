/**
 * The gateway's HTTP side, every request that is not a WebSocket upgrade: the Host check, 426 on a
 * plain GET of the WebSocket URL, then `@connections`, the Lambda invoke API and Secrets Manager,
 * each behind its SigV4 credential-scope check. It sees the gateway only through HttpDispatchTarget.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultInjector } from './faults.ts';
import type { FunctionHost } from './functions.ts';
import { handleManagementRequest, matchConnectionsPath, type ConnectionManager } from './managementApi.ts';
import { handleLambdaApiRequest, isLambdaApiRequest } from './lambdaApi.ts';
import { checkCredentialScope } from './credentialScope.ts';
import { decodedPathSegments, sendAwsError, sendEmpty } from './http.ts';
import { foreignHostLine, isBrowserRequest, refuseBrowserRequest, refuseForeignHost, type HostGuard } from './hostGuard.ts';
import { LocalSecrets } from './secretsManager.ts';

/** What the HTTP side needs from the gateway. */
export interface HttpDispatchTarget {
  readonly stage: string;
  readonly region: string;
  readonly hostGuard: HostGuard;
  /** Not 0: answers carry the gateway's clock in `Date`, which clients correct their skew from. */
  readonly clockOffsetMs: number;
  clockNow(): number;
  /** The connections as the `@connections` API sees them (the gateway). */
  readonly connections: ConnectionManager;
  readonly faults: FaultInjector;
  readonly functions: FunctionHost;
  readonly secrets: LocalSecrets;
  log(line: string): void;
}

/** Answers one HTTP request (not an upgrade); a handler's failure becomes a 500 or a cut connection. */
export function dispatchHttpRequest(target: HttpDispatchTarget, req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  if (!target.hostGuard.allows(req)) {
    target.log(foreignHostLine(req));
    return refuseForeignHost(req, res);
  }
  if (target.clockOffsetMs) res.setHeader('Date', new Date(target.clockNow()).toUTCString());
  if (req.method === 'GET' && isStageOrBelow(url, target.stage)) {
    // A plain GET (a browser tab, curl, a health check) on the WebSocket URL or any path below it
    // (other than @connections): API Gateway asks for the upgrade.
    req.resume();
    sendEmpty(res, 426, { Upgrade: 'websocket', Connection: 'Upgrade' });
    return;
  }
  // @connections, the Lambda API and Secrets Manager: AWS SDKs and CLIs only, never a web page.
  if (isBrowserRequest(req)) return refuseBrowserRequest(req, res);
  const connectionId = matchConnectionsPath(url, target.stage);
  const lambdaApi = connectionId === undefined && isLambdaApiRequest(req);
  // The service a signature must be scoped to (Secrets Manager's scope is not checked).
  const service = connectionId !== undefined ? 'execute-api' : lambdaApi ? 'lambda' : undefined;
  const scopeRefusal = service && checkCredentialScope(req, target.region, service);
  if (scopeRefusal) {
    req.resume();
    sendAwsError(res, scopeRefusal.status, scopeRefusal.errorType, { message: scopeRefusal.message });
    return;
  }
  const work =
    connectionId !== undefined
      ? handleManagementRequest(req, res, connectionId, target.connections, target.faults)
      : (() => {
          if (lambdaApi) return handleLambdaApiRequest(req, res, target.functions);
          if (LocalSecrets.matches(req)) return target.secrets.handle(req, res);
          req.resume();
          sendAwsError(res, 403, 'MissingAuthenticationTokenException', { message: 'Missing Authentication Token' });
          return Promise.resolve();
        })();
  work.catch((error) => {
    target.log(`request ${req.method} ${url} failed: ${error?.stack ?? error}`);
    if (!res.headersSent) sendAwsError(res, 500, 'InternalServerErrorException', { message: 'Internal server error' });
    else res.destroy();
  });
}

/** `/{stage}` or a path below it, e.g. `/{stage}/chat`: API Gateway answers a plain GET on either with 426. */
export function isStageOrBelow(rawUrl: string, stage: string): boolean {
  const segments = decodedPathSegments(rawUrl)?.filter((segment, i) => i === 0 || segment !== '');
  if (!segments || segments[0] !== stage) return false;
  // `/{stage}/@connections/...` is the management API, which answers for itself.
  return segments[1] !== '@connections';
}
