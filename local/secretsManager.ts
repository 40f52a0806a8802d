/**
 * Secrets Manager's GetSecretValue and PutSecretValue for the secrets of the app the gateway serves,
 * on the gateway's HTTP port (AWS's JSON protocol: `POST /` with `X-Amz-Target: secretsmanager.<Op>`),
 * so `@aws-sdk/client-secrets-manager` with AWS_ENDPOINT_URL_SECRETS_MANAGER runs unchanged: the bind
 * token secret is read exactly as on AWS. A secret the template generates (GenerateSecretString)
 * gets a new random value at every gateway start, unless its value is given.
 *
 * Versions and their staging labels are kept as AWS keeps them, so a rotation can be tested: a
 * secret starts with one version labelled AWSCURRENT; PutSecretValue adds a version and, with the
 * default labels (AWSCURRENT), moves AWSCURRENT to it and AWSPREVIOUS to the version that was
 * current; GetSecretValue reads AWSCURRENT unless asked for a VersionStage or a VersionId, and a
 * label no version holds is ResourceNotFoundException.
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
/** A request holds at most a 65,536-byte SecretString (JSON-escaped, up to 6 bytes a byte) and a few names; anything larger is not one. */
const BODY_LIMIT = 400 * 1024;

/** An alphanumeric random string, as GenerateSecretString with ExcludePunctuation makes. */
export function generateSecretValue(length: number): string {
  let value = '';
  for (let i = 0; i < length; i++) value += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return value;
}

interface StoredVersion {
  readonly versionId: string;
  readonly value: string;
  readonly createdDate: number;
  /** Staging labels, e.g. AWSCURRENT, AWSPREVIOUS; a version without any is kept but unlabelled. */
  readonly stages: Set<string>;
}

interface StoredSecret {
  readonly arn: string;
  readonly name: string;
  readonly versions: StoredVersion[];
}

const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
/** Secrets Manager's limits: SecretString up to 65,536 bytes, ClientRequestToken 32-64 characters, up to 20 labels per version. */
const MAX_SECRET_BYTES = 65_536;
const CLIENT_TOKEN = /^[A-Za-z0-9-]{32,64}$/;
const MAX_STAGES = 20;

export class LocalSecrets {
  private readonly secrets: StoredSecret[];

  constructor(definitions: readonly LocalSecretDefinition[]) {
    const createdDate = Date.now() / 1000;
    this.secrets = definitions.map((d) => ({
      arn: d.arn,
      name: d.name,
      versions: [{ versionId: newGatewayId(), value: d.value ?? generateSecretValue(d.generateLength ?? 32), createdDate, stages: new Set([CURRENT]) }],
    }));
  }

  /** The current values by ARN: what a test keeps to start the next gateway with the same secrets. */
  values(): Record<string, string> {
    return Object.fromEntries(this.secrets.map((s) => [s.arn, this.labelled(s, CURRENT)!.value]));
  }

  /** By full ARN, by name, or by the ARN without its random 6-character suffix, as AWS accepts. */
  private find(secretId: string): StoredSecret | undefined {
    return this.secrets.find((s) => s.arn === secretId || s.name === secretId || s.arn.replace(/-[A-Za-z0-9]{6}$/, '') === secretId);
  }

  private labelled(secret: StoredSecret, stage: string): StoredVersion | undefined {
    return secret.versions.find((v) => v.stages.has(stage));
  }

  /** True when the request is a Secrets Manager call (then it is answered here). */
  static matches(req: IncomingMessage): boolean {
    const target = req.headers['x-amz-target'];
    return req.method === 'POST' && (req.url ?? '/').split('?')[0] === '/' && typeof target === 'string' && target.startsWith(TARGET_PREFIX);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hasSigV4Authorization(req)) {
      req.resume();
      return sendAwsError(res, 400, 'MissingAuthenticationTokenException', {
        __type: 'MissingAuthenticationTokenException',
        message: 'Missing Authentication Token',
      });
    }
    const operation = String(req.headers['x-amz-target']).slice(TARGET_PREFIX.length);
    const { body, tooLarge } = await readBody(req, BODY_LIMIT);
    const error = (type: string, message: string) => sendAwsError(res, 400, type, { __type: type, message });
    if (operation !== 'GetSecretValue' && operation !== 'PutSecretValue') {
      return error('UnknownOperationException', `the local gateway serves GetSecretValue and PutSecretValue only, not ${operation}`);
    }
    if (tooLarge) return error('InvalidRequestException', 'request too large');
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8') || '{}');
    } catch {
      return error('SerializationException', 'the request body is not JSON');
    }
    if (typeof input !== 'object' || input === null) return error('SerializationException', 'the request body is not a JSON object');
    if (typeof input.SecretId !== 'string' || input.SecretId.length === 0 || input.SecretId.length > 2048) {
      return error(
        'ValidationException',
        "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must have length between 1 and 2048",
      );
    }
    const secret = this.find(input.SecretId);
    if (!secret) return error('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    const json = (payload: unknown) => sendJson(res, 200, payload, { 'Content-Type': 'application/x-amz-json-1.1' });
    return operation === 'GetSecretValue' ? this.getSecretValue(secret, input, json, error) : this.putSecretValue(secret, input, json, error);
  }

  private getSecretValue(
    secret: StoredSecret,
    input: Record<string, unknown>,
    json: (payload: unknown) => void,
    error: (type: string, message: string) => void,
  ): void {
    const { VersionId: versionId, VersionStage: stage } = input;
    if (versionId !== undefined && typeof versionId !== 'string') return error('ValidationException', 'VersionId must be a string');
    if (stage !== undefined && typeof stage !== 'string') return error('ValidationException', 'VersionStage must be a string');
    let version: StoredVersion | undefined;
    if (versionId !== undefined) {
      version = secret.versions.find((v) => v.versionId === versionId);
      // Both given: they must name the same version.
      if (version && stage !== undefined && !version.stages.has(stage)) version = undefined;
      if (!version) return error('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`);
    } else {
      version = this.labelled(secret, stage ?? CURRENT);
      if (!version) return error('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for staging label: ${stage ?? CURRENT}`);
    }
    json({
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      SecretString: version.value,
      VersionStages: [...version.stages],
      CreatedDate: version.createdDate,
    });
  }

  private putSecretValue(
    secret: StoredSecret,
    input: Record<string, unknown>,
    json: (payload: unknown) => void,
    error: (type: string, message: string) => void,
  ): void {
    const { SecretString: value, SecretBinary: binary, ClientRequestToken: token, VersionStages: rawStages } = input;
    if (binary !== undefined) return error('InvalidRequestException', 'the local gateway stores SecretString values only');
    if (typeof value !== 'string') return error('InvalidParameterException', 'You must provide either SecretString or SecretBinary.');
    if (Buffer.byteLength(value, 'utf8') > MAX_SECRET_BYTES) return error('ValidationException', `SecretString is longer than ${MAX_SECRET_BYTES} bytes`);
    if (token !== undefined && (typeof token !== 'string' || !CLIENT_TOKEN.test(token))) {
      return error(
        'ValidationException',
        "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64",
      );
    }
    if (
      rawStages !== undefined &&
      (!Array.isArray(rawStages) ||
        rawStages.length === 0 ||
        rawStages.length > MAX_STAGES ||
        rawStages.some((l) => typeof l !== 'string' || l.length === 0 || l.length > 256))
    ) {
      return error('ValidationException', `VersionStages must be 1 to ${MAX_STAGES} labels of 1 to 256 characters`);
    }
    const stages = (rawStages as string[] | undefined) ?? [CURRENT];
    const versionId = (token as string | undefined) ?? newGatewayId();
    const existing = secret.versions.find((v) => v.versionId === versionId);
    if (existing) {
      // An idempotent retry returns what the first call did; a different value under the same token is refused.
      if (existing.value !== value)
        return error('ResourceExistsException', `A resource with the ID you requested already exists: version ${versionId} has another value`);
      return json({ ARN: secret.arn, Name: secret.name, VersionId: existing.versionId, VersionStages: [...existing.stages] });
    }
    const version: StoredVersion = { versionId, value, createdDate: Date.now() / 1000, stages: new Set() };
    for (const stage of stages) {
      const holder = this.labelled(secret, stage);
      holder?.stages.delete(stage);
      version.stages.add(stage);
      // AWSCURRENT moving away leaves AWSPREVIOUS on the version that had it.
      if (stage === CURRENT && holder) {
        this.labelled(secret, PREVIOUS)?.stages.delete(PREVIOUS);
        holder.stages.add(PREVIOUS);
      }
    }
    secret.versions.push(version);
    json({ ARN: secret.arn, Name: secret.name, VersionId: version.versionId, VersionStages: [...version.stages] });
  }
}
