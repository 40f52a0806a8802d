/**
 * The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) for the functions the gateway
 * hosts, so code that calls `@aws-sdk/client-lambda` runs unchanged: RequestResponse answers 200 with
 * the result (and `X-Amz-Function-Error: Unhandled` when the function failed), Event answers 202 and
 * runs in the background with Lambda's retries, DryRun answers 204.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodedPathSegments, hasSigV4Authorization, readBody, sendAwsError, sendEmpty } from './http.ts';
import type { FunctionHost } from './functions.ts';
import { newGatewayId } from './ids.ts';

/** Lambda's payload quotas: 6 MB synchronous, 1 MB asynchronous. */
const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;
const ASYNC_PAYLOAD_LIMIT = 1024 * 1024;

/** Returns the function name when the path is the invoke API's, else undefined. */
export function matchInvokePath(rawUrl: string): string | undefined {
  const segments = decodedPathSegments(rawUrl);
  if (segments?.length !== 4) return undefined;
  if (segments[0] !== '2015-03-31' || segments[1] !== 'functions' || segments[3] !== 'invocations') return undefined;
  return segments[2];
}

export async function handleInvokeRequest(req: IncomingMessage, res: ServerResponse, nameOrArn: string, functions: FunctionHost): Promise<void> {
  if (req.method !== 'POST') {
    req.resume();
    return sendAwsError(res, 405, 'MethodNotAllowedException', { message: 'Method not allowed' });
  }
  if (!hasSigV4Authorization(req)) {
    req.resume();
    return sendAwsError(res, 403, 'MissingAuthenticationTokenException', { message: 'Missing Authentication Token' });
  }
  const name = functions.resolveName(nameOrArn);
  if (!name) {
    req.resume();
    return sendAwsError(res, 404, 'ResourceNotFoundException', { Type: 'User', message: `Function not found: ${functions.arn(nameOrArn)}` });
  }
  const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  const limit = invocationType === 'Event' ? ASYNC_PAYLOAD_LIMIT : SYNC_PAYLOAD_LIMIT;
  const { body, tooLarge } = await readBody(req, limit);
  if (tooLarge) {
    return sendAwsError(res, 413, 'RequestTooLargeException', {
      Type: 'User',
      message: `Request must be smaller than ${limit} bytes for the InvokeFunction operation`,
    });
  }
  let event: unknown = {};
  if (body.length > 0) {
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch {
      return sendAwsError(res, 400, 'InvalidRequestContentException', { Type: 'User', message: 'Could not parse request body into json' });
    }
  }
  switch (invocationType) {
    case 'DryRun':
      return sendEmpty(res, 204);
    case 'Event':
      functions.invokeAsync(name, event);
      return sendEmpty(res, 202, { 'x-amzn-Remapped-Content-Length': '0' });
    case 'RequestResponse': {
      const outcome = await functions.invoke(name, event);
      const payload = JSON.stringify(outcome.ok ? outcome.value : outcome.error);
      res.writeHead(200, {
        'x-amzn-RequestId': newGatewayId(),
        'X-Amz-Executed-Version': '$LATEST',
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(payload),
        ...(outcome.ok ? {} : { 'X-Amz-Function-Error': 'Unhandled' }),
      });
      res.end(payload);
      return;
    }
    default:
      return sendAwsError(res, 400, 'InvalidParameterValueException', { Type: 'User', message: `Invalid invocation type: ${invocationType}` });
  }
}
