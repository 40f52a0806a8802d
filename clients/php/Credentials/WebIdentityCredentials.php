<?php

declare(strict_types=1);

namespace GatewayClient\Credentials;

/**
 * Web identity (EKS's IAM roles for service accounts): AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN
 * (AWS_ROLE_SESSION_NAME optional) exchanged at STS (AssumeRoleWithWebIdentity). The file is read
 * again at every refresh, since the cluster rotates the token in place.
 */
final class WebIdentityCredentials
{
    /** @param \Closure(string): ?string $env */
    public static function resolve(\Closure $env, ?string $region): ?Credentials
    {
        $tokenFile = $env('AWS_WEB_IDENTITY_TOKEN_FILE');
        $roleArn = $env('AWS_ROLE_ARN');
        if ($tokenFile === null || $roleArn === null) {
            return null;
        }
        $sessionName = $env('AWS_ROLE_SESSION_NAME') ?? 'gatewayclient-php-' . time();
        return (new Sts($env, $region))->assumeRoleWithWebIdentity($roleArn, $sessionName, self::readToken($tokenFile));
    }

    public static function readToken(string $file): string
    {
        $token = is_file($file) && is_readable($file) ? trim((string) file_get_contents($file)) : '';
        if ($token === '') {
            throw new CredentialsException("the web identity token file {$file} cannot be read or is empty");
        }
        return $token;
    }
}
