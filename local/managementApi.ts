/**
 * The `@connections` management API over HTTP, as API Gateway serves it at
 * `{callbackUrl}/@connections/{connectionId}`, with the id URL-encoded (`%3D`); AWS's docs also write
 * `%40connections`, and both forms are accepted:
 * POST 200, GET 200 with lowercase JSON, DELETE 204; 410 GoneException for an unknown or closed
 * connection, and for one whose `$connect` is still running; 400 for a malformed id; 413 over
 * 128 KB; 403 without a SigV4 Authorization header (the signature itself is not verified) and for a
 * signing time more than 5 minutes off (local/signingTime.ts); 429 under the account throttle.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodedPathSegments, hasSigV4Authorization, readBody, sendAwsError, sendEmpty, sendJson } from './http.ts';
import type { FaultInjector } from './faults.ts';

export type PostOutcome = 'sent' | 'gone' | 'invalid-id' | 'too-large' | 'client-buffer-full';

export interface ConnectionInfo {
  readonly connectedAt: number;
  readonly lastActiveAt: number;
  readonly identity: { readonly sourceIp: string; readonly userAgent?: string };
}

/** What the management API needs from the gateway. */
export interface ConnectionManager {
  readonly stage: string;
  readonly maxPostBytes: number;
  postToConnection(connectionId: string, data: Buffer): PostOutcome;
  getConnection(connectionId: string): ConnectionInfo | 'gone' | 'invalid-id';
  deleteConnection(connectionId: string): 'deleted' | 'gone' | 'invalid-id';
  /** A refusal for a signed request before it is served (signing time, throttling), else undefined. */
  screenManagementRequest?(req: IncomingMessage): { status: number; errorType: string; message: string } | undefined;
}

/** Returns the connection id when the path is `/{stage}/@connections/{id}`, else undefined. */
export function matchConnectionsPath(rawUrl: string, stage: string): string | undefined {
  const segments = decodedPathSegments(rawUrl);
  if (segments?.length !== 3) return undefined;
  if (segments[0] !== stage || segments[1] !== '@connections') return undefined;
  return segments[2];
}

export async function handleManagementRequest(
  req: IncomingMessage,
  res: ServerResponse,
  connectionId: string,
  manager: ConnectionManager,
  faults: FaultInjector,
): Promise<void> {
  if (!hasSigV4Authorization(req)) {
    req.resume();
    sendAwsError(res, 403, 'MissingAuthenticationTokenException', { message: 'Missing Authentication Token' });
    return;
  }
  const refusal = manager.screenManagementRequest?.(req);
  if (refusal) {
    req.resume();
    sendAwsError(res, refusal.status, refusal.errorType, { message: refusal.message });
    return;
  }
  const fault = faults.managementFault();
  if (fault === 'throttle') {
    req.resume();
    sendAwsError(res, 429, 'LimitExceededException', { message: 'Too Many Requests' });
    return;
  }
  if (fault === 'server-error') {
    req.resume();
    sendAwsError(res, 500, 'InternalServerErrorException', { message: 'Internal server error' });
    return;
  }
  switch (req.method) {
    case 'POST': {
      const { body, tooLarge } = await readBody(req, manager.maxPostBytes);
      const outcome = tooLarge ? 'too-large' : manager.postToConnection(connectionId, body);
      return answerPost(res, outcome, connectionId);
    }
    case 'GET': {
      req.resume();
      const info = manager.getConnection(connectionId);
      if (info === 'gone') return sendAwsError(res, 410, 'GoneException', undefined);
      if (info === 'invalid-id') return invalidId(res, connectionId);
      return sendJson(res, 200, {
        connectedAt: new Date(info.connectedAt).toISOString(),
        identity: { sourceIp: info.identity.sourceIp, userAgent: info.identity.userAgent ?? '' },
        lastActiveAt: new Date(info.lastActiveAt).toISOString(),
      });
    }
    case 'DELETE': {
      req.resume();
      const outcome = manager.deleteConnection(connectionId);
      if (outcome === 'gone') return sendAwsError(res, 410, 'GoneException', undefined);
      if (outcome === 'invalid-id') return invalidId(res, connectionId);
      return sendEmpty(res, 204);
    }
    default:
      req.resume();
      sendAwsError(res, 403, 'MissingAuthenticationTokenException', { message: 'Missing Authentication Token' });
  }
}

function answerPost(res: ServerResponse, outcome: PostOutcome, connectionId: string): void {
  switch (outcome) {
    case 'sent':
      return sendEmpty(res, 200);
    case 'gone':
      // AWS sends no body with a 410; SDKs recognise GoneException from this header alone.
      return sendAwsError(res, 410, 'GoneException', undefined);
    case 'invalid-id':
      return invalidId(res, connectionId);
    case 'too-large':
      return sendAwsError(res, 413, 'PayloadTooLargeException', { message: 'Request entity too large' });
    case 'client-buffer-full':
      return sendAwsError(res, 429, 'LimitExceededException', { message: 'Client side buffer full' });
  }
}

function invalidId(res: ServerResponse, connectionId: string): void {
  sendAwsError(res, 400, 'BadRequestException', { message: `Invalid connectionId: ${connectionId}` });
}
