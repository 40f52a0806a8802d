<?php

declare(strict_types=1);

namespace GatewayClient\Credentials;

/**
 * EC2 instance metadata, IMDSv2: PUT /latest/api/token for a session token, then GET the role's
 * name and its credentials with it. AWS_EC2_METADATA_DISABLED=true turns it off;
 * AWS_EC2_METADATA_SERVICE_ENDPOINT (or ..._ENDPOINT_MODE=IPv6) moves it. Like the AWS SDKs, a token
 * request refused with 403, 404 or 405 (IMDSv1 only) falls back to plain GETs, unless
 * AWS_EC2_METADATA_V1_DISABLED=true. No answer at all means "not on EC2": null, the chain's end.
 */
final class InstanceMetadataCredentials
{
    private const PATH = '/latest/meta-data/iam/security-credentials/';

    /** @param \Closure(string): ?string $env */
    public static function resolve(\Closure $env): ?Credentials
    {
        if (strtolower($env('AWS_EC2_METADATA_DISABLED') ?? '') === 'true') {
            return null;
        }
        $base = rtrim($env('AWS_EC2_METADATA_SERVICE_ENDPOINT')
            ?? (strtolower($env('AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE') ?? '') === 'ipv6' ? 'http://[fd00:ec2::254]' : 'http://169.254.169.254'), '/');
        $headers = [];
        $tokenAnswer = HttpFetch::request('PUT', $base . '/latest/api/token', ['x-aws-ec2-metadata-token-ttl-seconds' => '21600']);
        if ($tokenAnswer === null) {
            return null;
        }
        if ($tokenAnswer['status'] === 200) {
            $headers['x-aws-ec2-metadata-token'] = trim($tokenAnswer['body']);
        } elseif (!in_array($tokenAnswer['status'], [403, 404, 405], true) || strtolower($env('AWS_EC2_METADATA_V1_DISABLED') ?? '') === 'true') {
            throw new CredentialsException("instance metadata at {$base} refused a session token ({$tokenAnswer['status']})");
        }
        $roles = HttpFetch::request('GET', $base . self::PATH, $headers);
        $role = $roles !== null && $roles['status'] === 200 ? trim(strtok($roles['body'], "\n") ?: '') : '';
        if ($role === '') {
            throw new CredentialsException("instance metadata at {$base} names no IAM role (is an instance profile attached?)");
        }
        $answer = HttpFetch::request('GET', $base . self::PATH . rawurlencode($role), $headers);
        $json = $answer === null ? null : json_decode($answer['body'], true);
        if ($answer === null || $answer['status'] !== 200 || !is_array($json) || !is_string($json['AccessKeyId'] ?? null) || !is_string($json['SecretAccessKey'] ?? null)) {
            throw new CredentialsException("instance metadata at {$base} gave no credentials for the role {$role}");
        }
        return new Credentials($json['AccessKeyId'], $json['SecretAccessKey'], is_string($json['Token'] ?? null) ? $json['Token'] : null, Credentials::parseTime($json['Expiration'] ?? null), 'instance metadata');
    }
}
