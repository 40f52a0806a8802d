/**
 * Secrets Manager's GetSecretValue for the secrets of the app the gateway serves, on the gateway's
 * HTTP port (AWS's JSON protocol: `POST /` with `X-Amz-Target: secretsmanager.GetSecretValue`), so
 * `@aws-sdk/client-secrets-manager` with AWS_ENDPOINT_URL_SECRETS_MANAGER runs unchanged: the bind
 * token secret is read exactly as on AWS. A secret the template generates (GenerateSecretString)
 * gets a new random value at every gateway start, unless its value is given.
 */
import { randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasSigV4Authorization, readBody, sendAwsError, sendJson } from './http.ts';
import { newGatewayId } from './ids.ts';

export interface LocalSecretDefinition {
  /** The secret's ARN: what a template's `Ref` to it resolves to. */
  readonly arn: string;
  readonly name: string;
  /** The SecretString; generated when absent. */
  readonly value?: string;
  /** Length of a generated value. @default 32 */
  readonly generateLength?: number;
}

const TARGET_PREFIX = 'secretsmanager.';
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** GetSecretValue's request is a few hundred bytes; anything far larger is not one. */
const BODY_LIMIT = 64 * 1024;

/** An alphanumeric random string, as GenerateSecretString with ExcludePunctuation makes. */
export function generateSecretValue(length: number): string {
  let value = '';
  for (let i = 0; i < length; i++) value += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return value;
}

interface StoredSecret {
  readonly arn: string;
  readonly name: string;
  readonly value: string;
  readonly versionId: string;
  readonly createdDate: number;
}

export class LocalSecrets {
  private readonly secrets: StoredSecret[];

  constructor(definitions: readonly LocalSecretDefinition[]) {
    const createdDate = Date.now() / 1000;
    this.secrets = definitions.map((d) => ({
      arn: d.arn,
      name: d.name,
      value: d.value ?? generateSecretValue(d.generateLength ?? 32),
      versionId: newGatewayId(),
      createdDate,
    }));
  }

  /** The current values by ARN: what a test keeps to start the next gateway with the same secrets. */
  values(): Record<string, string> {
    return Object.fromEntries(this.secrets.map((s) => [s.arn, s.value]));
  }

  /** By full ARN, by name, or by the ARN without its random 6-character suffix, as AWS accepts. */
  private find(secretId: string): StoredSecret | undefined {
    return this.secrets.find((s) => s.arn === secretId || s.name === secretId || s.arn.replace(/-[A-Za-z0-9]{6}$/, '') === secretId);
  }

  /** True when the request is a Secrets Manager call (then it is answered here). */
  static matches(req: IncomingMessage): boolean {
    const target = req.headers['x-amz-target'];
    return req.method === 'POST' && (req.url ?? '/').split('?')[0] === '/' && typeof target === 'string' && target.startsWith(TARGET_PREFIX);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hasSigV4Authorization(req)) {
      req.resume();
      return sendAwsError(res, 400, 'MissingAuthenticationTokenException', { __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
    }
    const operation = String(req.headers['x-amz-target']).slice(TARGET_PREFIX.length);
    const { body, tooLarge } = await readBody(req, BODY_LIMIT);
    const error = (type: string, message: string) => sendAwsError(res, 400, type, { __type: type, message });
    if (operation !== 'GetSecretValue') return error('UnknownOperationException', `the local gateway serves GetSecretValue only, not ${operation}`);
    if (tooLarge) return error('InvalidRequestException', 'request too large');
    let input: { SecretId?: unknown; VersionId?: unknown; VersionStage?: unknown };
    try {
      input = JSON.parse(body.toString('utf8') || '{}');
    } catch {
      return error('SerializationException', 'the request body is not JSON');
    }
    if (typeof input.SecretId !== 'string' || input.SecretId.length === 0 || input.SecretId.length > 2048) {
      return error('ValidationException', "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must have length between 1 and 2048");
    }
    const secret = this.find(input.SecretId);
    if (!secret) return error('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    if ((input.VersionId !== undefined && input.VersionId !== secret.versionId) || (input.VersionStage !== undefined && input.VersionStage !== 'AWSCURRENT')) {
      return error('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for the given version.");
    }
    sendJson(res, 200, {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: secret.versionId,
      SecretString: secret.value,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: secret.createdDate,
    }, { 'Content-Type': 'application/x-amz-json-1.1' });
  }
}
