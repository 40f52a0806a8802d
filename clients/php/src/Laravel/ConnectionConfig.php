<?php

declare(strict_types=1);

namespace GatewayClient\Laravel;

use GatewayClient\GatewayApiClient;

/**
 * A `gateway` connection of config/broadcasting.php as the Gateway API client reads it. A connection
 * of just `['driver' => 'gateway']` reads the environment the GatewayClient drop-in reads
 * (GATEWAY_API_FUNCTION, AWS_REGION, AWS_ACCESS_KEY_ID, ...); each key given overrides one variable:
 *
 * - function: the Gateway API function's name or ARN (GATEWAY_API_FUNCTION)
 * - region, key, secret, token: AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 * - endpoint: the Lambda endpoint (AWS_ENDPOINT_URL_LAMBDA), for the local gateway
 * - require_bind_token: refuse a page's leave without its bind token (GATEWAY_REQUIRE_BIND_TOKEN,
 *   the gateway's own switch; default true); joins and leaves with a token are checked by the gateway
 * - connect_timeout, timeout: seconds (3 and 30)
 */
final class ConnectionConfig
{
    private const VARIABLES = [
        'function' => GatewayApiClient::FUNCTION_ENV,
        'region' => 'AWS_REGION',
        'key' => 'AWS_ACCESS_KEY_ID',
        'secret' => 'AWS_SECRET_ACCESS_KEY',
        'token' => 'AWS_SESSION_TOKEN',
        'endpoint' => 'AWS_ENDPOINT_URL_LAMBDA',
    ];

    /** @param array<string, mixed> $config */
    public static function client(array $config): GatewayApiClient
    {
        $overrides = [];
        foreach (self::VARIABLES as $key => $variable) {
            if (isset($config[$key]) && $config[$key] !== '') {
                if (!is_string($config[$key])) {
                    throw new \InvalidArgumentException("broadcasting connection key '{$key}' must be a string");
                }
                $overrides[$variable] = $config[$key];
            }
        }
        return new GatewayApiClient(
            null,
            (float) ($config['connect_timeout'] ?? 3),
            (float) ($config['timeout'] ?? 30),
            2,
            // Without overrides the client reads the process environment itself.
            $overrides === [] ? null : [...getenv(), ...$overrides],
        );
    }

    /**
     * Whether a page's leave must carry its bind token: the key, else GATEWAY_REQUIRE_BIND_TOKEN, else
     * yes (fail closed: the gateway's init message carries a token whenever it has a secret, and the
     * connector always sends it; set false for a gateway that issues none).
     *
     * @param array<string, mixed> $config
     */
    public static function requiresBindToken(array $config): bool
    {
        $value = $config['require_bind_token'] ?? null;
        if ($value === null || $value === '') {
            $value = getenv('GATEWAY_REQUIRE_BIND_TOKEN');
        }
        if (is_bool($value)) {
            return $value;
        }
        // Unset, empty or not a boolean: fail closed.
        if (!is_string($value) || $value === '') {
            return true;
        }
        return filter_var($value, FILTER_VALIDATE_BOOLEAN, FILTER_NULL_ON_FAILURE) ?? true;
    }
}
