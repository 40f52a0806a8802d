/**
 * SigV4's credential scope as AWS checks it before the signature: a request signed for another
 * region or service is refused with 403 InvalidSignatureException, in these words (the trailing
 * space is AWS's):
 *   Credential should be scoped to a valid region, not 'eu-west-1'.
 *   Credential should be scoped to correct service: 'execute-api'.
 * Locally the endpoint's URL names no region, so a client configured for the wrong one would
 * otherwise pass here and fail on AWS. The signature itself is not verified (no secret keys here).
 */
import type { IncomingMessage } from 'node:http';

export interface ScopeRefusal {
  readonly status: 403;
  readonly errorType: 'InvalidSignatureException' | 'IncompleteSignatureException';
  readonly message: string;
}

const CREDENTIAL = /Credential=([^,\s]+)/;

/** undefined when the Authorization header is scoped `{key}/{date}/{region}/{service}/aws4_request`. */
export function checkCredentialScope(req: IncomingMessage, region: string, service: string): ScopeRefusal | undefined {
  const authorization = req.headers.authorization;
  const credential = typeof authorization === 'string' ? CREDENTIAL.exec(authorization)?.[1] : undefined;
  if (credential === undefined) return undefined; // the missing-authentication answers come first
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1]!)) {
    return {
      status: 403,
      errorType: 'IncompleteSignatureException',
      message: `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${credential}'`,
    };
  }
  if (parts[2] !== region)
    return { status: 403, errorType: 'InvalidSignatureException', message: `Credential should be scoped to a valid region, not '${parts[2]}'. ` };
  if (parts[3] !== service)
    return { status: 403, errorType: 'InvalidSignatureException', message: `Credential should be scoped to correct service: '${service}'. ` };
  return undefined;
}
