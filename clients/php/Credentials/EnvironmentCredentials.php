<?php

declare(strict_types=1);

namespace GatewayClient\Credentials;

/** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (and AWS_CREDENTIAL_EXPIRATION): what Lambda and Bref provide. */
final class EnvironmentCredentials
{
    /** @param \Closure(string): ?string $env */
    public static function resolve(\Closure $env): ?Credentials
    {
        $keyId = $env('AWS_ACCESS_KEY_ID');
        $secret = $env('AWS_SECRET_ACCESS_KEY');
        if ($keyId === null || $secret === null) {
            return null;
        }
        return new Credentials($keyId, $secret, $env('AWS_SESSION_TOKEN'), Credentials::parseTime($env('AWS_CREDENTIAL_EXPIRATION')), 'environment');
    }
}
