<?php

declare(strict_types=1);

namespace GatewayClient\Credentials;

/**
 * ECS (and EKS Pod Identity) container credentials: GET AWS_CONTAINER_CREDENTIALS_RELATIVE_URI on
 * 169.254.170.2, or AWS_CONTAINER_CREDENTIALS_FULL_URI, with the Authorization header from
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read at every refresh) or AWS_CONTAINER_AUTHORIZATION_TOKEN.
 * A full URI over plain http must point at a loopback address or at the container agents' own
 * addresses, as the AWS SDKs require: the answer is a secret, and http elsewhere could be read.
 */
final class ContainerCredentials
{
    public const RELATIVE_HOST = 'http://169.254.170.2';
    private const HTTP_HOSTS = ['169.254.170.2', '169.254.170.23', '[fd00:ec2::23]', 'localhost'];

    /** @param \Closure(string): ?string $env */
    public static function resolve(\Closure $env): ?Credentials
    {
        $url = self::endpoint($env);
        if ($url === null) {
            return null;
        }
        $headers = [];
        $tokenFile = $env('AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE');
        if ($tokenFile !== null) {
            $token = is_file($tokenFile) && is_readable($tokenFile) ? trim((string) file_get_contents($tokenFile)) : '';
            if ($token === '') {
                throw new CredentialsException("the container authorization token file {$tokenFile} cannot be read or is empty");
            }
            $headers['Authorization'] = $token;
        } elseif ($env('AWS_CONTAINER_AUTHORIZATION_TOKEN') !== null) {
            $headers['Authorization'] = $env('AWS_CONTAINER_AUTHORIZATION_TOKEN');
        }
        if (isset($headers['Authorization']) && preg_match('/[\r\n]/', $headers['Authorization']) === 1) {
            throw new CredentialsException('the container authorization token contains a line break');
        }
        $answer = HttpFetch::request('GET', $url, $headers, null, 2.0);
        if ($answer === null) {
            throw new CredentialsException("the container credentials endpoint {$url} did not answer");
        }
        $json = json_decode($answer['body'], true);
        if ($answer['status'] !== 200 || !is_array($json) || !is_string($json['AccessKeyId'] ?? null) || !is_string($json['SecretAccessKey'] ?? null)) {
            throw new CredentialsException("the container credentials endpoint {$url} answered {$answer['status']}: " . substr($answer['body'], 0, 200));
        }
        return new Credentials($json['AccessKeyId'], $json['SecretAccessKey'], is_string($json['Token'] ?? null) ? $json['Token'] : null, Credentials::parseTime($json['Expiration'] ?? null), 'container');
    }

    /**
     * The URL to ask, null when neither variable is set.
     *
     * @param \Closure(string): ?string $env
     */
    public static function endpoint(\Closure $env): ?string
    {
        $relative = $env('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI');
        if ($relative !== null) {
            return self::RELATIVE_HOST . '/' . ltrim($relative, '/');
        }
        $full = $env('AWS_CONTAINER_CREDENTIALS_FULL_URI');
        if ($full === null) {
            return null;
        }
        $parts = parse_url($full);
        if (!is_array($parts) || !isset($parts['scheme'], $parts['host'])) {
            throw new CredentialsException("AWS_CONTAINER_CREDENTIALS_FULL_URI {$full} is not a URL");
        }
        if ($parts['scheme'] === 'https') {
            return $full;
        }
        if ($parts['scheme'] !== 'http' || !self::allowedHttpHost(strtolower($parts['host']))) {
            throw new CredentialsException("AWS_CONTAINER_CREDENTIALS_FULL_URI {$full} must be https, or http to a loopback address or the container agent (169.254.170.2, 169.254.170.23, fd00:ec2::23)");
        }
        return $full;
    }

    private static function allowedHttpHost(string $host): bool
    {
        if (in_array($host, self::HTTP_HOSTS, true) || $host === '[::1]') {
            return true;
        }
        return filter_var($host, FILTER_VALIDATE_IP, FILTER_FLAG_IPV4) !== false && str_starts_with($host, '127.');
    }
}
