<?php

declare(strict_types=1);

namespace GatewayClient\Credentials;

/**
 * A profile of the shared files (AWS_PROFILE, else `default`): its keys (`aws_access_key_id`,
 * `aws_secret_access_key`, `aws_session_token`), or a role to assume (`role_arn`) with the
 * credentials of `source_profile` (followed as far as it goes, a loop refused), of
 * `credential_source` (Environment, EcsContainer, Ec2InstanceMetadata) or of
 * `web_identity_token_file`. `credential_process` and SSO profiles are not read.
 */
final class ProfileCredentials
{
    private const MAX_DEPTH = 10;

    /** The keys that make a profile a source of credentials. */
    private const CREDENTIAL_KEYS = ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token', 'role_arn', 'source_profile', 'credential_source', 'web_identity_token_file', 'credential_process', 'sso_session', 'sso_start_url'];

    /** @param \Closure(string): ?string $env */
    public static function resolve(\Closure $env, ?string $region): ?Credentials
    {
        $files = SharedConfigFiles::load($env);
        $name = $env('AWS_PROFILE') ?? $env('AWS_DEFAULT_PROFILE') ?? 'default';
        $profile = $files->profile($name);
        if ($profile === null) {
            if ($env('AWS_PROFILE') !== null) {
                throw new CredentialsException("AWS_PROFILE names the profile {$name}, which is in neither the config nor the credentials file");
            }
            return null;
        }
        // A profile with settings but no credentials (a config file giving only the region, as on
        // EC2 or ECS) leaves them to the next source, as in the AWS SDKs.
        if (array_intersect_key($profile, array_flip(self::CREDENTIAL_KEYS)) === []) {
            return null;
        }
        return self::fromProfile($env, $files, $name, $region, []);
    }

    /**
     * @param \Closure(string): ?string $env
     * @param list<string> $visited
     */
    private static function fromProfile(\Closure $env, SharedConfigFiles $files, string $name, ?string $region, array $visited): Credentials
    {
        $profile = $files->profile($name) ?? throw new CredentialsException("the profile {$name} (a source_profile) is in neither the config nor the credentials file");
        if (in_array($name, $visited, true) || count($visited) >= self::MAX_DEPTH) {
            throw new CredentialsException('the profiles ' . implode(' -> ', [...$visited, $name]) . ' form a source_profile loop');
        }
        $visited[] = $name;
        $region = $profile['region'] ?? $region;
        $roleArn = $profile['role_arn'] ?? null;
        if ($roleArn === null) {
            return self::keysOf($profile, $name);
        }
        $sessionName = $profile['role_session_name'] ?? 'gatewayclient-php-' . time();
        $sts = new Sts($env, $region);
        if (isset($profile['web_identity_token_file'])) {
            return $sts->assumeRoleWithWebIdentity($roleArn, $sessionName, WebIdentityCredentials::readToken($profile['web_identity_token_file']));
        }
        $source = match (true) {
            // A profile that is its own source_profile assumes its role with its own keys (as the AWS CLI does).
            ($profile['source_profile'] ?? null) === $name => self::keysOf($profile, $name),
            isset($profile['source_profile']) => self::fromProfile($env, $files, $profile['source_profile'], $region, $visited),
            isset($profile['credential_source']) => self::fromCredentialSource($env, $profile['credential_source'], $name),
            default => throw new CredentialsException("the profile {$name} has role_arn but no source_profile, credential_source or web_identity_token_file"),
        };
        $duration = isset($profile['duration_seconds']) ? (int) $profile['duration_seconds'] : 3600;
        return $sts->assumeRole($source, $roleArn, $sessionName, $profile['external_id'] ?? null, $duration);
    }

    /** @param array<string, string> $profile */
    private static function keysOf(array $profile, string $name): Credentials
    {
        $keyId = $profile['aws_access_key_id'] ?? '';
        $secret = $profile['aws_secret_access_key'] ?? '';
        if ($keyId === '' || $secret === '') {
            if (isset($profile['credential_process']) || isset($profile['sso_session']) || isset($profile['sso_start_url'])) {
                throw new CredentialsException("the profile {$name} uses credential_process or SSO, which this client does not run; export its credentials (aws configure export-credentials --profile {$name} --format env)");
            }
            throw new CredentialsException("the profile {$name} has neither aws_access_key_id and aws_secret_access_key nor role_arn");
        }
        return new Credentials($keyId, $secret, ($profile['aws_session_token'] ?? '') ?: null, null, "profile {$name}");
    }

    /** @param \Closure(string): ?string $env */
    private static function fromCredentialSource(\Closure $env, string $source, string $profile): Credentials
    {
        $credentials = match ($source) {
            'Environment' => EnvironmentCredentials::resolve($env),
            'EcsContainer' => ContainerCredentials::resolve($env),
            'Ec2InstanceMetadata' => InstanceMetadataCredentials::resolve($env),
            default => throw new CredentialsException("the profile {$profile} has credential_source {$source}; known: Environment, EcsContainer, Ec2InstanceMetadata"),
        };
        return $credentials ?? throw new CredentialsException("the profile {$profile}'s credential_source {$source} gave no credentials");
    }
}
