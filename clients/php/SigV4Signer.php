<?php

declare(strict_types=1);

namespace GatewayClient;

/**
 * AWS Signature Version 4 for non-S3 services, on PHP's bundled `hash` extension only. It signs a
 * request the way the AWS SDKs do (test/e2e/php-sigv4.test.ts compares it with the project's own signer,
 * sdk/sigv4.ts, with @smithy/signature-v4, and with AWS's published test vectors):
 *
 * - the canonical URI is the request path as sent (already percent-encoded once), with empty and
 *   dot segments removed, percent-encoded a second time (`my%3Afn` signs as `my%253Afn`);
 * - the canonical query is sorted by encoded name, then value, RFC 3986-encoded;
 * - header names are lower-cased, values trimmed with inner whitespace collapsed, sorted by name;
 *   headers the AWS SDKs never sign (user-agent, connection, ...) are left out;
 * - the signing key is four chained HMAC-SHA256s of the date, region, service and "aws4_request".
 */
final class SigV4Signer
{
    public const ALGORITHM = 'AWS4-HMAC-SHA256';

    /** Headers the AWS SDKs never sign (as @smithy/signature-v4's ALWAYS_UNSIGNABLE_HEADERS). */
    private const UNSIGNABLE = [
        'authorization', 'cache-control', 'connection', 'expect', 'from', 'keep-alive', 'max-forwards',
        'pragma', 'referer', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'x-amzn-trace-id',
    ];

    /** @var array{0: string, 1: string}|null the last (day and secret, key) derived */
    private ?array $cachedKey = null;

    public function __construct(
        public readonly string $region,
        public readonly string $service,
    ) {
    }

    /** `20240102T030405Z` for a Unix time. */
    public static function amzDate(int $time): string
    {
        return gmdate('Ymd\THis\Z', $time);
    }

    /** RFC 3986 encoding, as the AWS SDKs do it: everything but A-Z a-z 0-9 - _ . ~ */
    public static function escape(string $value): string
    {
        return rawurlencode($value);
    }

    /** The canonical URI of a non-S3 request path that is already percent-encoded once. */
    public static function canonicalPath(string $path): string
    {
        $segments = [];
        foreach (explode('/', $path) as $segment) {
            if ($segment === '' || $segment === '.') {
                continue;
            }
            if ($segment === '..') {
                array_pop($segments);
            } else {
                $segments[] = $segment;
            }
        }
        $normalised = (str_starts_with($path, '/') ? '/' : '') . implode('/', $segments)
            . ($segments !== [] && str_ends_with($path, '/') ? '/' : '');
        return str_replace('%2F', '/', self::escape($normalised));
    }

    /** @param array<string, string> $query decoded names and values */
    public static function canonicalQuery(array $query): string
    {
        $pairs = [];
        foreach ($query as $name => $value) {
            if (strtolower((string) $name) === 'x-amz-signature') {
                continue;
            }
            $pairs[] = [self::escape((string) $name), self::escape((string) $value)];
        }
        usort($pairs, static fn (array $a, array $b): int => strcmp($a[0], $b[0]) ?: strcmp($a[1], $b[1]));
        return implode('&', array_map(static fn (array $pair): string => $pair[0] . '=' . $pair[1], $pairs));
    }

    /** The signing key for a day (`20240102`), derived once per day and secret. */
    public function signingKey(string $secretAccessKey, string $shortDate): string
    {
        $id = $shortDate . "\n" . $secretAccessKey;
        if ($this->cachedKey !== null && $this->cachedKey[0] === $id) {
            return $this->cachedKey[1];
        }
        $key = hash_hmac('sha256', $shortDate, 'AWS4' . $secretAccessKey, true);
        foreach ([$this->region, $this->service, 'aws4_request'] as $part) {
            $key = hash_hmac('sha256', $part, $key, true);
        }
        $this->cachedKey = [$id, $key];
        return $key;
    }

    /**
     * The Authorization header's value. `$headers` must hold every header to sign, `host` and
     * `x-amz-date` included (and `x-amz-security-token` with temporary credentials).
     *
     * @param array<string, string> $headers
     * @param array<string, string> $query decoded
     * @param array{accessKeyId: string, secretAccessKey: string, sessionToken?: ?string} $credentials
     */
    public function authorization(string $method, string $path, array $query, array $headers, string $payloadHash, array $credentials): string
    {
        $values = [];
        foreach ($headers as $name => $value) {
            $lower = strtolower((string) $name);
            if (in_array($lower, self::UNSIGNABLE, true) || str_starts_with($lower, 'proxy-') || str_starts_with($lower, 'sec-')) {
                continue;
            }
            $collapsed = preg_replace('/[ \t]+/', ' ', str_replace(["\r", "\n"], ' ', (string) $value));
            $values[$lower] = trim((string) $collapsed, ' ');
        }
        ksort($values, SORT_STRING);
        $signedHeaders = implode(';', array_keys($values));
        $longDate = $values['x-amz-date'] ?? throw new \InvalidArgumentException('the request to sign has no x-amz-date header');
        $canonical = $method . "\n" . self::canonicalPath($path) . "\n" . self::canonicalQuery($query) . "\n";
        foreach ($values as $name => $value) {
            $canonical .= $name . ':' . $value . "\n";
        }
        $canonical .= "\n" . $signedHeaders . "\n" . $payloadHash;
        $shortDate = substr($longDate, 0, 8);
        $scope = $shortDate . '/' . $this->region . '/' . $this->service . '/aws4_request';
        $stringToSign = self::ALGORITHM . "\n" . $longDate . "\n" . $scope . "\n" . hash('sha256', $canonical);
        $signature = hash_hmac('sha256', $stringToSign, $this->signingKey($credentials['secretAccessKey'], $shortDate));
        return self::ALGORITHM . ' Credential=' . $credentials['accessKeyId'] . '/' . $scope
            . ', SignedHeaders=' . $signedHeaders . ', Signature=' . $signature;
    }
}
