<?php

declare(strict_types=1);

namespace GatewayClient\Credentials;

/**
 * The AWS SDKs' default credential chain, in their order: environment, the shared config and
 * credentials files (profiles, assumed roles), web identity, container credentials, EC2 instance
 * metadata. The first source that is configured answers; one that is configured but fails stops the
 * chain with a CredentialsException. The credentials are kept for the process and fetched again
 * 5 minutes before they expire (the AWS SDKs' window).
 */
final class CredentialChain
{
    public const REFRESH_WINDOW_SECONDS = 300;

    private ?Credentials $cached = null;

    /** @param \Closure(string): ?string $env */
    public function __construct(private readonly \Closure $env, private readonly ?string $region)
    {
    }

    public function get(): Credentials
    {
        if ($this->cached !== null && !$this->cached->expiresWithin(self::REFRESH_WINDOW_SECONDS, time())) {
            return $this->cached;
        }
        return $this->cached = $this->resolve();
    }

    private function resolve(): Credentials
    {
        $env = $this->env;
        $credentials = EnvironmentCredentials::resolve($env)
            ?? ProfileCredentials::resolve($env, $this->region)
            ?? WebIdentityCredentials::resolve($env, $this->region)
            ?? ContainerCredentials::resolve($env)
            ?? InstanceMetadataCredentials::resolve($env);
        if ($credentials === null) {
            throw new CredentialsException('no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile (AWS_PROFILE, ~/.aws/credentials), a web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN), or run where container or instance credentials are provided');
        }
        return $credentials;
    }
}
