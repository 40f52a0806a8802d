/**
 * Credentials for the signed `@connections` fast path: static ones, a provider, or by default the
 * AWS SDK's own chain (`@aws-sdk/credential-provider-node`: environment, SSO, web identity, ini
 * files, container and instance metadata). Resolved once and reused until 5 minutes before they
 * expire; concurrent callers share one refresh.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { ConfigurationError } from './errors.ts';

const REFRESH_BEFORE_EXPIRY_MS = 5 * 60 * 1000;

export class CredentialCache {
  private current?: AwsCredentialIdentity;
  private refreshing?: Promise<AwsCredentialIdentity>;
  private readonly provider: AwsCredentialIdentityProvider;

  constructor(source: AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined) {
    if (typeof source === 'function') this.provider = source;
    else if (source) {
      const fixed = source;
      this.provider = async () => fixed;
    } else this.provider = defaultProvider();
  }

  /** Fresh credentials without waiting, or undefined when they must be fetched. */
  peek(nowMs = Date.now()): AwsCredentialIdentity | undefined {
    const current = this.current;
    if (!current) return undefined;
    const expiresAt = current.expiration?.getTime();
    return expiresAt === undefined || expiresAt - nowMs > REFRESH_BEFORE_EXPIRY_MS ? current : undefined;
  }

  async get(): Promise<AwsCredentialIdentity> {
    return this.peek() ?? this.refresh();
  }

  private refresh(): Promise<AwsCredentialIdentity> {
    this.refreshing ??= (async () => {
      try {
        const credentials = await this.provider();
        if (!credentials || typeof credentials.accessKeyId !== 'string' || typeof credentials.secretAccessKey !== 'string') {
          throw new ConfigurationError('the credential provider returned no access key id and secret access key');
        }
        this.current = credentials;
        return credentials;
      } catch (error) {
        // Credentials that are near expiry but still valid beat none.
        const stillValid = this.current && (this.current.expiration?.getTime() ?? Infinity) > Date.now();
        if (stillValid) return this.current!;
        if (error instanceof ConfigurationError) throw error;
        throw new ConfigurationError(`could not load AWS credentials: ${(error as Error)?.message ?? error}`, { cause: error });
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }
}
