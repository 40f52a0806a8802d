<?php

declare(strict_types=1);

namespace GatewayClient\Credentials;

/**
 * The small HTTP requests credential sources make (STS, the container endpoint, instance metadata),
 * with curl and short timeouts. Returns what came back; a failure to get any answer is null, so a
 * source can tell "nothing there" (try the next one) from "an answer I cannot use" (fail).
 */
final class HttpFetch
{
    /**
     * @param array<string, string> $headers
     * @return array{status: int, headers: array<string, string>, body: string}|null
     */
    public static function request(string $method, string $url, array $headers = [], ?string $body = null, float $timeoutSeconds = 1.0): ?array
    {
        $curl = curl_init();
        $responseHeaders = [];
        $lines = [];
        foreach ($headers as $name => $value) {
            $lines[] = "{$name}: {$value}";
        }
        $lines[] = 'Expect:';
        curl_setopt_array($curl, [
            CURLOPT_URL => $url,
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_HTTPHEADER => $lines,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            CURLOPT_CONNECTTIMEOUT_MS => (int) ($timeoutSeconds * 1000),
            CURLOPT_TIMEOUT_MS => (int) ($timeoutSeconds * 3000),
            CURLOPT_HEADERFUNCTION => static function ($handle, string $line) use (&$responseHeaders): int {
                $colon = strpos($line, ':');
                if ($colon !== false) {
                    $responseHeaders[strtolower(trim(substr($line, 0, $colon)))] = trim(substr($line, $colon + 1));
                }
                return strlen($line);
            },
        ]);
        if ($body !== null) {
            curl_setopt($curl, CURLOPT_POSTFIELDS, $body);
        }
        $response = curl_exec($curl);
        $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        curl_close($curl);
        if ($response === false || $status === 0) {
            return null;
        }
        return ['status' => $status, 'headers' => $responseHeaders, 'body' => (string) $response];
    }
}
