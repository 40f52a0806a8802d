<?php

declare(strict_types=1);

namespace GatewayClient\Credentials;

/** One set of AWS credentials, as every source gives them; `expiration` null for long-lived keys. */
final class Credentials
{
    public function __construct(
        public readonly string $accessKeyId,
        public readonly string $secretAccessKey,
        public readonly ?string $sessionToken = null,
        public readonly ?int $expiration = null,
        /** Where they came from (environment, profile x, web identity, container, instance metadata), for messages. */
        public readonly string $source = '',
    ) {
    }

    /** True when they expire within `$windowSeconds` of `$now`. */
    public function expiresWithin(int $windowSeconds, int $now): bool
    {
        return $this->expiration !== null && $this->expiration - $now <= $windowSeconds;
    }

    /** @return array{accessKeyId: string, secretAccessKey: string, sessionToken: ?string} what SigV4Signer takes */
    public function forSigning(): array
    {
        return ['accessKeyId' => $this->accessKeyId, 'secretAccessKey' => $this->secretAccessKey, 'sessionToken' => $this->sessionToken];
    }

    /** ISO 8601 (`2026-01-02T03:04:05Z`, with or without fractions) to a Unix time; null when unreadable. */
    public static function parseTime(mixed $value): ?int
    {
        if (!is_string($value) || $value === '') {
            return null;
        }
        $time = strtotime($value);
        return $time === false ? null : $time;
    }
}
