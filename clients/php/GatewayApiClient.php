<?php

declare(strict_types=1);

namespace GatewayClient;

/**
 * Invokes the Gateway API Lambda (Lambda's Invoke, RequestResponse) with a SigV4-signed curl request
 * and returns its decoded answer. Configuration, read when first needed, as the AWS SDKs read it:
 *
 * - function: the name or ARN given, else GATEWAY_API_FUNCTION;
 * - region: the ARN's region, else AWS_REGION, else AWS_DEFAULT_REGION;
 * - endpoint: AWS_ENDPOINT_URL_LAMBDA, else AWS_ENDPOINT_URL, else https://lambda.{region}.amazonaws.com;
 * - credentials: the AWS SDKs' default chain (Credentials/CredentialChain.php): the environment, the
 *   shared files' profiles, web identity, container credentials, EC2 instance metadata; kept for the
 *   process and fetched again before they expire.
 *
 * A 403 "Signature expired" (or "not yet current") means this host's clock is off: as the AWS SDKs
 * do, the offset is taken from the answer's Date header and the request is signed and sent once more.
 *
 * One curl handle per process, so calls after the first reuse the keep-alive connection. Lambda's 429
 * (the invocation did not run) and failures to connect (nothing was sent) are retried with jittered
 * backoff; nothing else is, since a retried invocation that did run would push its message twice.
 */
final class GatewayApiClient
{
    public const FUNCTION_ENV = 'GATEWAY_API_FUNCTION';

    private ?\CurlHandle $curl = null;
    private ?SigV4Signer $signer = null;
    private ?Credentials\CredentialChain $credentials = null;

    /** Seconds to add to this host's clock when signing (from a "Signature expired" answer's Date). */
    private int $clockOffset = 0;

    /**
     * @param string|null $functionName name or ARN; null reads GATEWAY_API_FUNCTION
     * @param array<string, string|false>|null $environment the variables to read (tests); null reads getenv()
     */
    public function __construct(
        private readonly ?string $functionName = null,
        private readonly int|float $connectTimeout = 3,
        private readonly int|float $timeout = 30,
        private readonly int $maxRetries = 2,
        private readonly ?array $environment = null,
    ) {
    }

    public function __destruct()
    {
        if ($this->curl !== null) {
            curl_close($this->curl);
        }
    }

    /**
     * Sends one event and returns the Gateway API's answer, decoded as arrays.
     *
     * @return array<string, mixed>
     */
    public function invoke(array $event): array
    {
        $body = json_encode($event, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
        if ($body === false) {
            throw new GatewayException('an argument cannot be sent as JSON (' . json_last_error_msg() . '); strings must be UTF-8, numbers finite', GatewayException::VALIDATION);
        }
        $settings = $this->settings();
        for ($attempt = 0; ; $attempt++) {
            try {
                return $this->send($settings, $body);
            } catch (RetryableInvokeFailure $failure) {
                if ($attempt >= $this->maxRetries) {
                    throw $failure->exception;
                }
                // Full jitter: up to 100 ms, then 200 ms, ...
                usleep(random_int(0, 100_000 * (2 ** $attempt)));
            }
        }
    }

    /** @return array{function: string, region: string, url: string, host: string, path: string} */
    private function settings(): array
    {
        $function = $this->functionName ?? $this->env(self::FUNCTION_ENV);
        if ($function === null) {
            throw new GatewayException('no Gateway API function: set Gateway::$registerAddress to its name or ARN, or ' . self::FUNCTION_ENV . ' (npm start prints it; the stack outputs GatewayApiFunctionName)', GatewayException::CONFIGURATION);
        }
        $arnRegion = preg_match('/^arn:aws[a-z-]*:lambda:([a-z0-9-]+):/', $function, $m) === 1 ? $m[1] : null;
        $region = $arnRegion ?? $this->env('AWS_REGION') ?? $this->env('AWS_DEFAULT_REGION') ?? $this->profileRegion();
        if ($region === null) {
            throw new GatewayException('no AWS region: set AWS_REGION (or pass the function as an ARN, or give the profile a region)', GatewayException::CONFIGURATION);
        }
        $suffix = str_starts_with($region, 'cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
        $endpoint = rtrim($this->env('AWS_ENDPOINT_URL_LAMBDA') ?? $this->env('AWS_ENDPOINT_URL') ?? "https://lambda.{$region}.{$suffix}", '/');
        $parts = parse_url($endpoint);
        if (!is_array($parts) || !isset($parts['scheme'], $parts['host']) || !in_array($parts['scheme'], ['http', 'https'], true)) {
            throw new GatewayException("the Lambda endpoint {$endpoint} is not an http(s) URL", GatewayException::CONFIGURATION);
        }
        $defaultPort = $parts['scheme'] === 'https' ? 443 : 80;
        $host = $parts['host'] . (isset($parts['port']) && $parts['port'] !== $defaultPort ? ':' . $parts['port'] : '');
        $path = rtrim($parts['path'] ?? '', '/') . '/2015-03-31/functions/' . rawurlencode($function) . '/invocations';
        return [
            'function' => $function,
            'region' => $region,
            'url' => $parts['scheme'] . '://' . $host . $path,
            'host' => $host,
            'path' => $path,
        ];
    }

    /** The shared config file's region for the profile in use (as the AWS SDKs read it). */
    private function profileRegion(): ?string
    {
        $profile = Credentials\SharedConfigFiles::load($this->envReader())->profile($this->env('AWS_PROFILE') ?? 'default');
        return is_string($profile['region'] ?? null) && $profile['region'] !== '' ? $profile['region'] : null;
    }

    /** @return \Closure(string): ?string */
    private function envReader(): \Closure
    {
        return fn (string $name): ?string => $this->env($name);
    }

    /** The credentials to sign with, from the chain (cached; fetched again before they expire). */
    private function credentials(string $region): Credentials\Credentials
    {
        $this->credentials ??= new Credentials\CredentialChain($this->envReader(), $region);
        try {
            return $this->credentials->get();
        } catch (Credentials\CredentialsException $e) {
            $code = str_starts_with($e->getMessage(), 'no AWS credentials') ? GatewayException::CONFIGURATION : GatewayException::CREDENTIALS;
            throw new GatewayException($e->getMessage(), $code, [], [], $e);
        }
    }

    private function env(string $name): ?string
    {
        $value = $this->environment !== null ? ($this->environment[$name] ?? false) : getenv($name);
        return is_string($value) && $value !== '' ? $value : null;
    }

    /** @return array<string, mixed> */
    private function send(array $settings, string $body, bool $skewCorrected = false): array
    {
        $this->signer ??= new SigV4Signer($settings['region'], 'lambda');
        $credentials = $this->credentials($settings['region']);
        $headers = [
            'host' => $settings['host'],
            'content-type' => 'application/json',
            'x-amz-date' => SigV4Signer::amzDate(time() + $this->clockOffset),
            'x-amz-invocation-type' => 'RequestResponse',
        ];
        if ($credentials->sessionToken !== null) {
            $headers['x-amz-security-token'] = $credentials->sessionToken;
        }
        $headers['authorization'] = $this->signer->authorization('POST', $settings['path'], [], $headers, hash('sha256', $body), $credentials->forSigning());

        $curl = $this->curl ??= curl_init();
        $responseHeaders = [];
        curl_reset($curl);
        curl_setopt_array($curl, [
            CURLOPT_URL => $settings['url'],
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            // `Expect:` stops curl from waiting for a 100 Continue before bodies over 1 KiB.
            CURLOPT_HTTPHEADER => [...array_map(static fn (string $name, string $value): string => "{$name}: {$value}", array_keys($headers), $headers), 'Expect:'],
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTP_VERSION => CURL_HTTP_VERSION_1_1,
            CURLOPT_CONNECTTIMEOUT_MS => (int) ($this->connectTimeout * 1000),
            CURLOPT_TIMEOUT_MS => (int) ($this->timeout * 1000),
            CURLOPT_HEADERFUNCTION => static function ($handle, string $line) use (&$responseHeaders): int {
                $colon = strpos($line, ':');
                if ($colon !== false) {
                    $responseHeaders[strtolower(trim(substr($line, 0, $colon)))] = trim(substr($line, $colon + 1));
                }
                return strlen($line);
            },
        ]);
        $response = curl_exec($curl);
        if ($response === false) {
            $errno = curl_errno($curl);
            $failure = new GatewayException("no answer from Lambda at {$settings['url']}: " . curl_error($curl), GatewayException::NETWORK, ['curlErrno' => $errno]);
            // Only failures before anything was sent are safe to retry.
            if (in_array($errno, [CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT], true)) {
                throw new RetryableInvokeFailure($failure);
            }
            throw $failure;
        }
        $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        $decoded = json_decode((string) $response, true);
        if ($status === 403 && !$skewCorrected && $this->correctClockSkew($responseHeaders, is_array($decoded) ? $decoded : [])) {
            return $this->send($settings, $body, true);
        }
        if ($status !== 200) {
            throw $this->lambdaError($status, $responseHeaders, is_array($decoded) ? $decoded : [], (string) $response, $settings['function']);
        }
        if (isset($responseHeaders['x-amz-function-error'])) {
            $type = is_array($decoded) && is_string($decoded['errorType'] ?? null) ? $decoded['errorType'] : $responseHeaders['x-amz-function-error'];
            $message = is_array($decoded) && is_string($decoded['errorMessage'] ?? null) ? $decoded['errorMessage'] : (string) $response;
            throw new GatewayException("the Gateway API function failed ({$type}): {$message}", GatewayException::FUNCTION_ERROR, ['errorType' => $type]);
        }
        if (!is_array($decoded) || !is_bool($decoded['ok'] ?? null)) {
            throw new GatewayException('the Gateway API answered something that is not its result: ' . substr((string) $response, 0, 200), GatewayException::SERVICE_ERROR);
        }
        return $decoded;
    }

    /**
     * After a 403 for the signature's time, sets the clock offset from the answer's Date header, as
     * the AWS SDKs do, and says the request is worth signing and sending once more.
     *
     * @param array<string, string> $headers
     */
    private function correctClockSkew(array $headers, array $body): bool
    {
        $type = explode(':', $headers['x-amzn-errortype'] ?? (is_string($body['__type'] ?? null) ? $body['__type'] : ''))[0];
        $message = $body['message'] ?? $body['Message'] ?? '';
        if ($type !== 'InvalidSignatureException' || !is_string($message) || preg_match('/^Signature (expired|not yet current):/', $message) !== 1) {
            return false;
        }
        $serverTime = isset($headers['date']) ? strtotime($headers['date']) : false;
        if ($serverTime === false) {
            return false;
        }
        $this->clockOffset = $serverTime - time();
        return true;
    }

    /** An answer of Lambda itself (not of the function): the invocation did not run. */
    private function lambdaError(int $status, array $headers, array $body, string $raw, string $function): \Throwable
    {
        $type = $headers['x-amzn-errortype'] ?? (is_string($body['Type'] ?? null) ? $body['Type'] : (is_string($body['__type'] ?? null) ? $body['__type'] : 'HTTP ' . $status));
        $type = explode(':', $type)[0];
        $message = $body['message'] ?? $body['Message'] ?? substr($raw, 0, 200);
        $details = ['statusCode' => $status, 'errorType' => $type];
        $code = match (true) {
            $status === 429 => GatewayException::THROTTLED,
            $status === 403 => GatewayException::FORBIDDEN,
            default => GatewayException::SERVICE_ERROR,
        };
        $exception = new GatewayException("Lambda refused to invoke {$function} ({$status} {$type}): {$message}", $code, $details);
        return $status === 429 ? new RetryableInvokeFailure($exception) : $exception;
    }
}

/** @internal A failure after which the invocation certainly did not run. */
final class RetryableInvokeFailure extends \Exception
{
    public function __construct(public readonly GatewayException $exception)
    {
        parent::__construct($exception->getMessage());
    }
}
